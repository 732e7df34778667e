// History: the dashboard's figures and job list over a whole seeded history (archives included)
// agree with a brute-force count over the seeded records; the rollup is saved, reused, and rebuilt
// when it cannot be trusted; live jobs, another window's writes and rotations are followed; bad lines
// are skipped.
import assert from "node:assert/strict"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Fiber, Layer, Logger, Stream } from "effect"
import { nip19 } from "nostr-tools"
import { compareFiles } from "../../src/dvm/history/historyFiles"
import { ROLLUP_FILE } from "../../src/dvm/history/rollupFile"
import { History, type HistoryFilter } from "../../src/dvm/services/History"
import { JOBS_FILE, type JobRecord, JobStore } from "../../src/dvm/services/JobStore"
import { expectedOverview, seedHistory, type SeededHistory } from "../support/seedHistory"

type Services = { history: History["Service"]; store: JobStore["Service"] }

const silent = Logger.layer([])

/** Opens JobStore and History on `dir` (as the extension does), runs `use`, closes both. */
const withHistory = <A>(dir: string | undefined, now: number, use: (s: Services) => Effect.Effect<A>, rotateBytes?: number) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    return yield* use({ history: yield* History, store: yield* JobStore })
  }).pipe(Effect.provide(
    History.layer(dir, { now: () => now }).pipe(
      Layer.provideMerge(JobStore.layer(dir, rotateBytes === undefined ? {} : { rotateBytes })),
      Layer.provideMerge(silent)
    )
  ))))

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-history-"))
const copyOf = (dir: string) => {
  const copy = tmp()
  fs.cpSync(dir, copy, { recursive: true })
  return copy
}
/** Newest first; jobs received in the same millisecond: the one recorded later first (as JobStore lists them). */
const newestFirst = (records: ReadonlyArray<JobRecord>) => [...records].reverse().sort((a, b) => b.receivedAt - a.receivedAt)
const matching = (records: ReadonlyArray<JobRecord>, test: (r: JobRecord) => boolean) => newestFirst(records.filter(test))

/** RFC 4180 fields of a CSV text (quoted fields, doubled quotes, CRLF). */
const parseCsv = (text: string): Array<Array<string>> => {
  const rows: Array<Array<string>> = []
  let row: Array<string> = []
  let i = 0
  while (i < text.length) {
    assert.equal(text[i], '"', `field at ${i} is quoted`)
    let field = ""
    i++
    for (;;) {
      const quote = text.indexOf('"', i)
      field += text.slice(i, quote)
      if (text[quote + 1] === '"') {
        field += '"'
        i = quote + 2
      } else {
        i = quote + 1
        break
      }
    }
    row.push(field)
    if (text.startsWith("\r\n", i)) {
      rows.push(row)
      row = []
      i += 2
    } else {
      assert.equal(text[i], ",")
      i++
    }
  }
  return rows
}

describe("History", function() {
  this.timeout(60_000)
  let template: string
  let seeded: SeededHistory

  before(() => {
    template = tmp()
    // Small files and a small memory, so the 6,000 jobs span many archives as rotation leaves them.
    seeded = seedHistory(template, { jobs: 6000, days: 45, seed: 7, rotateBytes: 600_000, memory: 300 })
    assert.ok(seeded.files.length >= 5, `archives written (${seeded.files.length} files)`)
    assert.ok(fs.readFileSync(seeded.files[1]!, "utf8").startsWith('{"carried":'), "a rotated file begins with the carried totals")
  })

  it("counts every period, day and hour as a brute-force count over the records does, archives included", async () => {
    const dir = copyOf(template)
    const overview = await withHistory(dir, seeded.now, ({ history }) => history.overview)
    const expected = expectedOverview(seeded.records, seeded.now)
    assert.deepEqual(overview, expected)
    // The seeded history has something in each figure, so a figure stuck at 0 would show.
    for (const key of ["jobs", "succeeded", "failed", "satsPaid", "satsAwaiting", "freeJobs"] as const) {
      assert.ok(expected.allTime[key] > 0, `all time ${key}`)
      assert.ok(expected.last30Days[key] < expected.allTime[key] || key === "satsAwaiting", `30 days ${key} is not all time`)
    }
    assert.equal(overview.allTime.jobs, 6000)
    assert.equal(overview.perDay.length, 30)
    assert.equal(overview.perHour.length, 24)
    assert.ok(overview.perHour.some((p) => p.jobs > 0) || new Date(seeded.now).getHours() === 0)
  })

  it("counts by the local days and hours of the time zone it runs in (rebuilt when that changes, half-hour zones too)", async () => {
    const dir = copyOf(template)
    const zone = process.env.TZ
    try {
      for (const tz of ["Asia/Kolkata", "America/New_York"]) {
        process.env.TZ = tz
        const [overview, info] = await withHistory(dir, seeded.now, ({ history }) => Effect.all([history.overview, history.info]))
        assert.equal(info.opened, "rebuilt", tz)
        assert.deepEqual(overview, expectedOverview(seeded.records, seeded.now), tz)
      }
      // The zone changed while open (the machine travelled): the days are counted anew.
      const [info, overview] = await withHistory(dir, seeded.now, ({ history }) =>
        Effect.gen(function*() {
          yield* history.overview
          process.env.TZ = "Asia/Tokyo"
          return yield* Effect.all([history.info, history.overview])
        }))
      assert.equal(info.reason, "the time zone changed")
      assert.deepEqual(overview, expectedOverview(seeded.records, seeded.now))
    } finally {
      if (zone === undefined) delete process.env.TZ
      else process.env.TZ = zone
    }
  })

  it("pages the whole history newest first, records as they ended", async () => {
    const dir = copyOf(template)
    const all = newestFirst(seeded.records)
    const [first, middle, last, beyond, capped] = await withHistory(dir, seeded.now, ({ history }) =>
      Effect.all([
        history.page({}, 0, 50),
        history.page({}, 3001, 37),
        history.page({}, 5990, 50),
        history.page({}, 6000, 50),
        history.page({}, 0, 100_000)
      ]))
    assert.deepEqual(first.rows, all.slice(0, 50))
    assert.deepEqual(middle.rows, all.slice(3001, 3038))
    assert.deepEqual(last.rows, all.slice(5990))
    assert.deepEqual(beyond.rows, [])
    assert.equal(first.total, 6000)
    assert.equal(beyond.total, 6000)
    assert.equal(capped.rows.length, 200)
    assert.equal(capped.limit, 200)
    // The pickers: every model, most used first.
    const uses = (model: string) => seeded.records.filter((r) => r.model === model).length
    assert.deepEqual([...first.models].sort(), [...seeded.models].sort())
    assert.deepEqual(first.models.map(uses), first.models.map(uses).sort((a, b) => b - a))
    const served = new Map<string, number>()
    for (const r of seeded.records) served.set(r.customer, (served.get(r.customer) ?? 0) + 1)
    assert.equal(served.get(first.customers![0]!), Math.max(...served.values()), "the most served customer first")
  })

  it("filters by status, customer (hex or npub), model and payment, alone and together", async () => {
    const dir = copyOf(template)
    const customer = seeded.customers[0]! // the most frequent (the seeder favours the first)
    const cases: Array<[HistoryFilter, (r: JobRecord) => boolean]> = [
      [{ status: "error" }, (r) => r.status === "error"],
      [{ status: "processing" }, (r) => r.status === "processing"],
      [{ customer }, (r) => r.customer === customer],
      [{ customer: nip19.npubEncode(customer) }, (r) => r.customer === customer],
      [{ customer: customer.toUpperCase() }, (r) => r.customer === customer],
      [{ model: "mistral:7b" }, (r) => r.model === "mistral:7b"],
      [{ payment: "paid" }, (r) => r.payment === "paid"],
      [{ payment: "unpaid" }, (r) => r.payment === "unpaid"],
      [{ payment: "free" }, (r) => r.payment === "free"],
      [{ payment: "none" }, (r) => r.payment === undefined],
      [{ status: "success", model: "qwen2.5:7b", payment: "paid", customer }, (r) =>
        r.status === "success" && r.model === "qwen2.5:7b" && r.payment === "paid" && r.customer === customer]
    ]
    const pages = await withHistory(dir, seeded.now, ({ history }) => Effect.forEach(cases, ([filter]) => history.page(filter, 0, 200)))
    cases.forEach(([filter, test], i) => {
      const expected = matching(seeded.records, test)
      assert.ok(expected.length > 0, `${JSON.stringify(filter)} matches something in the seeded history`)
      assert.equal(pages[i]!.total, expected.length, JSON.stringify(filter))
      assert.deepEqual(pages[i]!.rows, expected.slice(0, 200), JSON.stringify(filter))
    })
  })

  it("finds jobs by id: a hex prefix of 4 or more, the full id, nevent or note; nothing for what cannot be one", async () => {
    const dir = copyOf(template)
    const job = seeded.records[4321]!
    const prefix = job.id.slice(0, 4)
    const invalid: Array<HistoryFilter> = [{ id: job.id.slice(0, 3) }, { id: "zzzz" }, { id: "npub1xyz" }, { id: "" }, { status: "bogus" as never }, { customer: "alice" }, { model: "no-such-model" }]
    const [byPrefix, byHex, byNevent, byNote, nothing, found, foundByNevent, missing] = await withHistory(dir, seeded.now, ({ history }) =>
      Effect.all([
        history.page({ id: prefix }, 0, 200),
        history.page({ id: job.id.toUpperCase() }, 0, 10),
        history.page({ id: nip19.neventEncode({ id: job.id, relays: ["wss://relay.example"] }) }, 0, 10),
        history.page({ id: nip19.noteEncode(job.id) }, 0, 10),
        Effect.forEach(invalid, (filter) => history.page(filter, 0, 10)),
        history.job(job.id),
        history.job(nip19.neventEncode({ id: job.id })),
        history.job("f".repeat(64))
      ]))
    assert.deepEqual(byPrefix.rows, matching(seeded.records, (r) => r.id.startsWith(prefix)))
    for (const page of [byHex, byNevent, byNote]) assert.deepEqual(page.rows, [job])
    for (const page of nothing) assert.deepEqual([page.total, page.rows], [0, []])
    assert.deepEqual(found, job)
    assert.deepEqual(foundByNevent, job)
    assert.equal(missing, undefined)
  })

  it("exports what a filter shows as CSV: a header, one row per job newest first, formulas made text", async () => {
    const dir = copyOf(template)
    const [all, errors] = await withHistory(dir, seeded.now, ({ history }) => Effect.all([history.csv({}), history.csv({ status: "error" })]))
    const rows = parseCsv(all)
    const header = rows[0]!
    const col = (name: string) => header.indexOf(name)
    assert.deepEqual(header.slice(0, 3), ["received", "id", "customer"])
    const expected = newestFirst(seeded.records)
    assert.equal(rows.length, expected.length + 1)
    assert.deepEqual(rows.slice(1).map((r) => r[col("id")]), expected.map((r) => r.id))
    rows.slice(1).forEach((row, i) => {
      const job = expected[i]!
      assert.equal(row[col("received")], new Date(job.receivedAt).toISOString())
      assert.equal(row[col("price_sats")], job.priceSats === undefined ? "" : String(job.priceSats))
      assert.equal(row[col("status")], job.status)
      assert.equal(row[col("prompt_preview")], job.promptPreview ?? "")
      assert.equal(row[col("duration_ms")], job.finishedAt !== undefined && job.startedAt !== undefined ? String(job.finishedAt - job.startedAt) : "")
    })
    const errorRows = parseCsv(errors).slice(1)
    assert.equal(errorRows.length, seeded.records.filter((r) => r.status === "error").length)
    const formulas = errorRows.map((r) => r[col("error")]!).filter((e) => e.includes("HYPERLINK"))
    assert.ok(formulas.length > 0, "the seeded history has an error reason that reads as a formula")
    for (const cell of formulas) assert.ok(cell.startsWith("'="), `formula made text: ${cell}`)
    assert.ok(errors.includes('""http://x""'), "quotes doubled")
  })

  it("saves the rollup (0600) and reuses it, reading only what the history gained since", async () => {
    const dir = copyOf(template)
    const first = await withHistory(dir, seeded.now, ({ history }) => Effect.all([history.info, history.overview]))
    assert.equal(first[0].opened, "rebuilt")
    assert.equal(fs.statSync(path.join(dir, ROLLUP_FILE)).mode & 0o777, 0o600)
    // Widened by hand (or copied in), and a draft a crash left while saving: narrowed, and removed.
    fs.chmodSync(path.join(dir, ROLLUP_FILE), 0o644)
    const draft = path.join(dir, `${ROLLUP_FILE}.new-99999`)
    fs.writeFileSync(draft, "{\"half\":")
    fs.utimesSync(draft, new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000))
    const second = await withHistory(dir, seeded.now, ({ history }) => Effect.all([history.info, history.overview]))
    assert.equal(fs.statSync(path.join(dir, ROLLUP_FILE)).mode & 0o777, 0o600)
    assert.equal(fs.existsSync(draft), false)
    assert.deepEqual(second[0], { opened: "reused", jobs: 6000, files: seeded.files.length, bytesRead: 0 })
    assert.deepEqual(second[1], first[1])
    // A job appended while it was closed: read from the end of what was read, nothing more.
    const at = seeded.now - 60_000
    const line = JSON.stringify({ id: "a".repeat(64), customer: "b".repeat(64), kind: 5050, requestedAt: 0, receivedAt: at, status: "success", payment: "paid", priceSats: 5, paidAt: at, updatedAt: at }) + "\n"
    fs.appendFileSync(path.join(dir, JOBS_FILE), line)
    const third = await withHistory(dir, seeded.now, ({ history }) => Effect.all([history.info, history.overview]))
    assert.deepEqual(third[0], { opened: "reused", jobs: 6001, files: seeded.files.length, bytesRead: Buffer.byteLength(line) })
    assert.equal(third[1].allTime.satsPaid, first[1].allTime.satsPaid + 5)
    assert.equal(third[1].today.jobs, first[1].today.jobs + (new Date(at).getDate() === new Date(seeded.now).getDate() ? 1 : 0))
  })

  it("rebuilds a rollup that is missing, corrupt, or no longer describes the files", async () => {
    const dir = copyOf(template)
    const expected = expectedOverview(seeded.records, seeded.now)
    const reopen = () => withHistory(dir, seeded.now, ({ history }) => Effect.all([history.info, history.overview]))
    const rollup = path.join(dir, ROLLUP_FILE)
    await reopen()
    const good = fs.readFileSync(rollup, "utf8")
    const damage: Array<[string, () => void, string]> = [
      ["deleted", () => fs.rmSync(rollup), "none saved"],
      ["truncated", () => fs.writeFileSync(rollup, good.slice(0, good.length / 2)), "corrupt"],
      ["garbage", () => fs.writeFileSync(rollup, "\u0000\u0001 not json"), "corrupt"],
      ["a column cut short", () => {
        const saved = JSON.parse(good)
        saved.index.numbers.receivedAt = saved.index.numbers.receivedAt.slice(0, 100)
        fs.writeFileSync(rollup, JSON.stringify(saved))
      }, "corrupt"],
      ["a bad day row", () => {
        const saved = JSON.parse(good)
        saved.rollup.days[0] = ["x"]
        fs.writeFileSync(rollup, JSON.stringify(saved))
      }, "corrupt"],
      ["an archive deleted", () => fs.rmSync(seeded.files[0]!.replace(template, dir)), "gone"],
      ["the history cut short", () => fs.truncateSync(path.join(dir, JOBS_FILE), 1000), "cut short"]
    ]
    let records = seeded.records
    for (const [what, act, reason] of damage) {
      await reopen() // saved as good first
      act()
      if (what === "an archive deleted") {
        // Its jobs are gone from the history (those copied into later files at rotation stay).
        const later = new Set<string>()
        for (const file of fs.readdirSync(dir).filter((n) => n.startsWith("jobs")))
          for (const line of fs.readFileSync(path.join(dir, file), "utf8").split("\n")) later.add(line.slice(7, 71))
        records = records.filter((r) => later.has(r.id))
      }
      const [info, overview] = await reopen()
      assert.equal(info.opened, "rebuilt", what)
      assert.ok(info.reason?.includes(reason), `${what}: ${info.reason}`)
      if (what === "the history cut short") continue
      assert.deepEqual(overview, records === seeded.records ? expected : expectedOverview(records, seeded.now), what)
    }
  })

  it("rebuilds when an earlier archive appears (restored from a backup), and counts its jobs", async () => {
    const older = tmp()
    const restored = seedHistory(older, { jobs: 200, days: 5, seed: 99, now: seeded.now - 50 * 86_400_000 })
    const dir = copyOf(template)
    await withHistory(dir, seeded.now, ({ history }) => history.overview)
    fs.copyFileSync(restored.files[0]!, path.join(dir, "jobs-2000-01-01T00-00-00-000Z.jsonl"))
    const [info, overview] = await withHistory(dir, seeded.now, ({ history }) => Effect.all([history.info, history.overview]))
    assert.equal(info.opened, "rebuilt")
    assert.match(info.reason ?? "", /earlier history file appeared/)
    assert.deepEqual(overview, expectedOverview([...restored.records, ...seeded.records], seeded.now))
  })

  it("follows jobs as they are recorded, rotations included, and says when the figures changed", async () => {
    const dir = copyOf(template)
    const now = Date.now()
    const added: Array<JobRecord> = []
    const result = await withHistory(dir, now, ({ history, store }) =>
      Effect.gen(function*() {
        const before = yield* history.overview
        const changed = yield* history.changes.pipe(Stream.take(1), Stream.runDrain, Effect.forkChild({ startImmediately: true }))
        // Enough jobs that the store rotates its history (small rotation size below) while History is open.
        for (let i = 0; i < 400; i++) {
          const id = `e${i.toString(16).padStart(63, "0")}`
          yield* store.record({ id, customer: "d".repeat(64), kind: 5050, requestedAt: 0, receivedAt: Date.now(), status: "received", promptPreview: "x".repeat(400) })
          yield* store.record({ id, status: "success", priceSats: 2, payment: "unpaid" })
          if (i % 2 === 0) yield* store.record({ id, payment: "paid", paidAt: Date.now() })
          if (i === 10) {
            const page = yield* history.page({}, 0, 1)
            assert.equal(page.rows[0]?.id, id, "the newest job is on the first page at once")
          }
        }
        // A job received days ago (another window's, caught up late) takes its place in the order.
        yield* history.page({}, 0, 1)
        const late = `e${"1".repeat(63)}`
        yield* store.record({ id: late, customer: "d".repeat(64), kind: 5050, requestedAt: 0, receivedAt: now - 5 * 86_400_000, status: "error", error: "late" })
        for (let i = 0; i < 400; i++) added.push((yield* store.get(`e${i.toString(16).padStart(63, "0")}`))!)
        added.push((yield* store.get(late))!)
        const order = newestFirst([...seeded.records, ...added])
        const at = order.findIndex((r) => r.id === late)
        assert.ok(at > 1000, `the late job is deep in the history (${at})`)
        assert.deepEqual((yield* history.page({}, at - 5, 10)).rows, order.slice(at - 5, at + 5))
        yield* Fiber.join(changed)
        return { before, after: yield* history.overview, page: yield* history.page({ customer: "d".repeat(64) }, 0, 200), info: yield* history.info }
      }), 400_000)
    const archives = fs.readdirSync(dir).filter((n) => n.startsWith("jobs-")).length
    assert.ok(archives > seeded.files.length - 1, `the store rotated while History was open (${archives} archives)`)
    assert.deepEqual(result.after, expectedOverview([...seeded.records, ...added], now))
    assert.equal(result.after.allTime.satsPaid, result.before.allTime.satsPaid + 200 * 2)
    assert.equal(result.after.allTime.satsAwaiting, result.before.allTime.satsAwaiting + 200 * 2)
    assert.equal(result.page.total, 401)
    assert.deepEqual(result.page.rows, newestFirst(added).slice(0, 200))
    assert.equal(result.info.opened, "rebuilt", "opened once, then followed (not rebuilt by the rotations)")
  })

  it("reads on what another window appends and rotates in the shared data dir", async () => {
    const dir = copyOf(template)
    const now = Date.now()
    const other: Array<JobRecord> = []
    const result = await withHistory(dir, now, ({ history }) =>
      Effect.gen(function*() {
        yield* history.overview
        // Another window's JobStore on the same dir, rotating often.
        yield* Effect.scoped(Effect.gen(function*() {
          const store = yield* JobStore
          for (let i = 0; i < 300; i++) {
            const id = `7${i.toString(16).padStart(63, "0")}`
            yield* store.record({ id, customer: "e".repeat(64), kind: 5050, requestedAt: 0, receivedAt: Date.now(), status: "success", priceSats: 3, payment: "paid", paidAt: Date.now(), bolt11: "lnbc".padEnd(2000, "q") })
            other.push((yield* store.get(id))!)
          }
        }).pipe(Effect.provide(JobStore.layer(dir, { rotateBytes: 100_000 }))))
        return yield* Effect.all([history.overview, history.info])
      }))
    assert.deepEqual(result[0], expectedOverview([...seeded.records, ...other], now))
    assert.equal(result[1].opened, "rebuilt")
  })

  it("while two windows write and rotate at once and the dashboard pages, agrees with a plain replay of every file", async () => {
    const dir = tmp()
    const now = Date.now()
    const result = await withHistory(dir, now, ({ history, store }) =>
      Effect.gen(function*() {
        yield* history.overview
        const write = (into: JobStore["Service"], tag: string) =>
          Effect.gen(function*() {
            for (let i = 0; i < 500; i++) {
              const id = `${tag}${i.toString(16).padStart(63, "0")}`
              yield* into.record({ id, customer: tag.repeat(64), kind: 5050, requestedAt: 0, receivedAt: Date.now(), status: "received", bolt11: "q".repeat(300) })
              yield* into.record({ id, status: "success", priceSats: 1, payment: "unpaid" })
              yield* into.record({ id, payment: "paid", paidAt: Date.now() })
              if (i % 7 === 0) yield* history.page({}, 0, 20)
              yield* Effect.yieldNow
            }
          })
        // Another window's JobStore on the same data dir, rotating at a different size.
        yield* Effect.gen(function*() {
          const other = yield* Effect.service(JobStore)
          yield* Effect.all([write(store, "a"), write(other, "b")], { concurrency: 2 })
        }).pipe(Effect.provide(JobStore.layer(dir, { rotateBytes: 50_000 })))
        return yield* history.overview
      }), 60_000)
    const merged = new Map<string, JobRecord>()
    const files = fs.readdirSync(dir).filter((n) => n === JOBS_FILE || /^jobs-.*\.jsonl$/.test(n)).sort(compareFiles)
    assert.ok(files.length > 5, `both rotated (${files.length} files)`)
    for (const file of files) {
      for (const line of fs.readFileSync(path.join(dir, file), "utf8").split("\n")) {
        const update = line.startsWith('{"id"') ? JSON.parse(line) : undefined
        if (update) merged.set(update.id, { ...merged.get(update.id), ...update })
      }
    }
    assert.equal(merged.size, 1000)
    assert.deepEqual(result, expectedOverview([...merged.values()], now))
    assert.equal(result.allTime.satsPaid, 1000)
  })

  it("skips torn, broken and mistyped lines and counts the rest; a torn last line is read once it is ended", async () => {
    const dir = copyOf(template)
    const file = path.join(dir, JOBS_FILE)
    const at = seeded.now - 1000
    const good = { id: "c".repeat(64), customer: "b".repeat(64), kind: 5050, requestedAt: 0, receivedAt: at, status: "success", payment: "paid", priceSats: 4, paidAt: at, updatedAt: at }
    fs.appendFileSync(file, [
      "{\"id\":\"torn",
      "not json at all",
      "[]",
      "null",
      "42",
      "\"a string\"",
      JSON.stringify({ id: 12, status: "success", priceSats: 1000 }),
      JSON.stringify({ id: "x".repeat(500), status: "success" }),
      JSON.stringify({ id: "d".repeat(64), customer: { evil: true }, receivedAt: "yesterday", status: "success", priceSats: "1000", payment: "paid", paidAt: at, model: 7, updatedAt: at }),
      JSON.stringify({ id: "e".repeat(64), receivedAt: at, status: "error", priceSats: -50, payment: "unpaid", updatedAt: at }),
      JSON.stringify(good),
      ""
    ].join("\n") + JSON.stringify({ ...good, id: "f".repeat(64) }).slice(0, 40))
    const [overview, torn, page] = await withHistory(dir, seeded.now, ({ history }) =>
      Effect.all([history.overview, history.job("f".repeat(64)), history.page({ id: "dddd" }, 0, 10)]))
    const expected = expectedOverview([...seeded.records, good as JobRecord], seeded.now)
    // "d…": no usable receivedAt (not a job that counts) and a price that is not a number (no sats).
    // "e…": received, failed, its negative price ignored.
    const withE = { ...expected.allTime, jobs: expected.allTime.jobs + 1, failed: expected.allTime.failed + 1 }
    assert.deepEqual(overview.allTime, withE)
    assert.equal(torn, undefined)
    assert.deepEqual(page.rows.map((r) => [r.id, r.customer, r.priceSats, r.receivedAt, r.model]), [["d".repeat(64), undefined, undefined, undefined, undefined]])
    // The torn line ended (JobStore ends it on opening) and a whole line after it: the next one counts.
    fs.appendFileSync(file, "\n" + JSON.stringify({ ...good, id: "9".repeat(64) }) + "\n")
    const after = await withHistory(dir, seeded.now, ({ history }) => history.overview)
    assert.equal(after.allTime.satsPaid, withE.satsPaid + 4)
  })

  it("without a data dir, covers what JobStore holds in memory", async () => {
    const now = Date.now()
    const [overview, page] = await withHistory(undefined, now, ({ history, store }) =>
      Effect.gen(function*() {
        yield* store.record({ id: "1".repeat(64), customer: "2".repeat(64), kind: 5050, requestedAt: 0, receivedAt: now, status: "success", priceSats: 9, payment: "paid", paidAt: now })
        return yield* Effect.all([history.overview, history.page({}, 0, 10)])
      }))
    assert.equal(overview.allTime.satsPaid, 9)
    assert.equal(overview.today.jobs, 1)
    assert.equal(page.rows[0]?.priceSats, 9)
  })
})
