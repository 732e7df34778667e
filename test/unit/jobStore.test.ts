// JobStore: the durable job history — torn lines after a crash, the memory cap, earnings counted
// as records change, rotation while running, a history shared with another process, failed writes
// kept and retried, files private to their owner.
import assert from "node:assert/strict"
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as readline from "node:readline"
import { Effect, Layer, Logger, ManagedRuntime, SubscriptionRef } from "effect"
import { JOBS_FILE, JobStore, type JobUpdate } from "../../src/dvm/services/JobStore"

const withStore = <A>(dataDir: string | undefined, use: (store: JobStore["Service"]) => Effect.Effect<A>, rotateBytes?: number) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    return yield* use(yield* JobStore)
  }).pipe(Effect.provide(JobStore.layer(dataDir, rotateBytes === undefined ? {} : { rotateBytes })))))

const received = (id: string) => ({ id, customer: "c".repeat(64), kind: 5050, requestedAt: 0, receivedAt: Date.now(), status: "received" as const })

describe("JobStore", () => {
  it("after a write torn by a crash, the next record is kept on a line of its own", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-store-"))
    const file = path.join(dir, JOBS_FILE)
    fs.writeFileSync(file, JSON.stringify({ ...received("a"), updatedAt: 1 }) + "\n" + '{"id":"b","status":"rec')
    await withStore(dir, (store) => store.record(received("c")))
    const ids = await withStore(dir, (store) => Effect.all([store.get("a"), store.get("b"), store.get("c")]))
    assert.deepEqual(ids.map((r) => r?.id), ["a", undefined, "c"])
  })

  it("a history line read twice, after later ones, undoes no outcome: paid stays paid, an ended job stays ended, nothing counts twice", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-store-"))
    const lines = [
      { ...received("a"), status: "processing" },
      { id: "a", status: "success", priceSats: 5, payment: "unpaid" },
      { id: "a", payment: "paid", paidAt: Date.now() }
    ]
    // As a rotation's late lines and the writer's own second append can leave them.
    fs.writeFileSync(path.join(dir, JOBS_FILE), [...lines, ...lines].map((line) => JSON.stringify(line) + "\n").join(""))
    const [job, earnings] = await withStore(dir, (store) => Effect.all([store.get("a"), store.earnings]))
    assert.equal(job?.status, "success")
    assert.equal(job?.payment, "paid")
    assert.deepEqual(earnings, { jobsToday: 1, satsEarnedToday: 5, satsEarnedTotal: 5 })
  })

  it("keeps jobs with an open invoice in memory however many others arrive, and counts their sats when paid", async () => {
    const limit = 10_000
    const earnings = await withStore(undefined, (store) =>
      Effect.gen(function*() {
        yield* store.record({ ...received("open"), status: "success", priceSats: 7, payment: "unpaid" })
        for (let i = 0; i < limit + 50; i++) yield* store.record({ ...received(`flood${i}`), status: "error", error: "rate limited" })
        assert.equal((yield* store.get("flood0")), undefined, "the oldest settled record left memory")
        assert.equal((yield* store.get("open"))?.priceSats, 7, "the unpaid one stayed")
        yield* store.record({ id: "open", payment: "paid", paidAt: Date.now() })
        return yield* store.earnings
      }))
    assert.equal(earnings.satsEarnedTotal, 7)
    assert.equal(earnings.satsEarnedToday, 7)
  })

  it("counts earnings of every paid job, including those no longer in memory, across a restart", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-store-"))
    const jobs = 10_050
    await withStore(dir, (store) =>
      Effect.gen(function*() {
        for (let i = 0; i < jobs; i++) {
          yield* store.record({ ...received(`j${i}`), status: "success", priceSats: 1, payment: "unpaid" })
          yield* store.record({ id: `j${i}`, payment: "paid", paidAt: Date.now() })
        }
      }))
    const expected = { jobsToday: jobs, satsEarnedToday: jobs, satsEarnedTotal: jobs }
    assert.deepEqual(await withStore(dir, (store) => store.earnings), expected)
    // Rotated (the 50 jobs no longer in memory are carried as totals), then read back from the new history.
    assert.deepEqual(await withStore(dir, (store) => store.earnings, 1000), expected)
    assert.deepEqual(await withStore(dir, (store) => store.earnings), expected)
  })

  it("archives a long history on opening and starts anew from memory, with earnings exact and nothing counted twice", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-store-"))
    const file = path.join(dir, JOBS_FILE)
    await withStore(dir, (store) =>
      Effect.gen(function*() {
        for (let i = 0; i < 200; i++) {
          yield* store.record({ ...received(`j${i}`), status: "success", priceSats: 2, payment: "unpaid" })
          if (i % 2 === 0) yield* store.record({ id: `j${i}`, payment: "paid", paidAt: Date.now() })
        }
      }))
    const before = fs.statSync(file).size
    const expected = { jobsToday: 200, satsEarnedToday: 200, satsEarnedTotal: 200 }
    // Opened with a small limit: rotated. Opened again (no longer over it) and after more work: still exact.
    assert.deepEqual(await withStore(dir, (store) => store.earnings, 10_000), expected)
    const archives = fs.readdirSync(dir).filter((f) => /^jobs-.*\.jsonl$/.test(f))
    assert.equal(archives.length, 1, "the old history is archived, not deleted")
    assert.equal(fs.statSync(path.join(dir, archives[0] as string)).size, before)
    assert.ok(fs.statSync(file).size < before, "the new history holds one line per job")
    const after = await withStore(dir, (store) =>
      Effect.gen(function*() {
        assert.equal((yield* store.get("j1"))?.payment, "unpaid", "an open invoice is carried over")
        yield* store.record({ id: "j1", payment: "paid", paidAt: Date.now() })
        return yield* store.earnings
      }), 1_000_000)
    assert.deepEqual(after, { jobsToday: 200, satsEarnedToday: 202, satsEarnedTotal: 202 })
    assert.deepEqual(await withStore(dir, (store) => store.earnings, 1_000_000), after)
  })

  it("recovers a rotation cut off between its two renames", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-store-"))
    fs.writeFileSync(path.join(dir, `${JOBS_FILE}.new`), JSON.stringify({ ...received("kept"), updatedAt: 1 }) + "\n")
    assert.equal(await withStore(dir, (store) => Effect.map(store.get("kept"), (r) => r?.id)), "kept")
  })

  it("narrows the data dir and the history files an older version left readable by others, on start", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-store-"))
    fs.chmodSync(dir, 0o755)
    const file = path.join(dir, JOBS_FILE)
    const archive = path.join(dir, "jobs-2024-01-01T00-00-00-000Z.jsonl")
    for (const f of [file, archive]) fs.writeFileSync(f, JSON.stringify({ ...received("a"), updatedAt: 1 }) + "\n", { mode: 0o644 })
    fs.chmodSync(file, 0o644)
    fs.chmodSync(archive, 0o644)
    await withStore(dir, (store) => store.record(received("b")))
    assert.equal(mode(dir), 0o700)
    assert.equal(mode(file), 0o600)
    assert.equal(mode(archive), 0o600)
  })

  it("creates the history readable by its owner only, in a dir of its owner's only", async () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-store-")), "data")
    await withStore(dir, (store) => store.record(received("a")))
    assert.equal(mode(dir), 0o700)
    assert.equal(mode(path.join(dir, JOBS_FILE)), 0o600)
  })

  it("archives the history while running once appends pass the size, losing nothing", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-store-"))
    const file = path.join(dir, JOBS_FILE)
    const jobs = 200
    await withStore(dir, (store) =>
      Effect.gen(function*() {
        for (let i = 0; i < jobs; i++) {
          yield* store.record({ ...received(`j${i}`), status: "success", priceSats: 2, payment: "unpaid" })
          yield* store.record({ id: `j${i}`, payment: "paid", paidAt: Date.now() })
        }
        assert.ok(archives(dir).length >= 2, "archived more than once while open")
      }), 20_000)
    for (const name of [JOBS_FILE, ...archives(dir)]) assert.equal(mode(path.join(dir, name)), 0o600, name)
    assert.deepEqual(fs.readdirSync(dir).filter((name) => name !== JOBS_FILE && !archives(dir).includes(name)), [], "no drafts left")
    const reopened = await withStore(dir, (store) =>
      Effect.gen(function*() {
        const missing = []
        for (let i = 0; i < jobs; i++) if ((yield* store.get(`j${i}`))?.payment !== "paid") missing.push(i)
        return { missing, earnings: yield* store.earnings }
      }), 1_000_000_000)
    assert.deepEqual(reopened, { missing: [], earnings: { jobsToday: jobs, satsEarnedToday: 2 * jobs, satsEarnedTotal: 2 * jobs } })
    assert.ok(fs.statSync(file).size < 20_000 + 1_000_000, "the live history stays bounded")
  })

  it("keeps records a failed write could not save, says so once, and writes them in order when it can", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-store-"))
    const file = path.join(dir, JOBS_FILE)
    const warnings: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => {
      if (logLevel === "Warn") warnings.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
    })
    const runtime = ManagedRuntime.make(JobStore.layer(dir, { retryMillis: 50 }).pipe(Layer.provideMerge(Logger.layer([logger]))))
    const run = <A>(use: (store: JobStore["Service"]) => Effect.Effect<A>) => runtime.runPromise(Effect.gen(function*() {
      return yield* use(yield* JobStore)
    }))
    try {
      await run((store) => store.record(received("a")))
      // The history cannot be written: a directory stands where the file was.
      fs.renameSync(file, `${file}.aside`)
      fs.mkdirSync(file)
      await run((store) =>
        Effect.gen(function*() {
          yield* store.record(received("b"))
          for (let i = 0; i < 5; i++) yield* store.record({ id: "b", status: "processing" })
          yield* store.record({ id: "b", status: "success", priceSats: 4, payment: "unpaid" })
          yield* store.record({ id: "b", payment: "paid", paidAt: Date.now() })
          yield* store.refresh
        }))
      assert.equal((await run((store) => store.get("b")))?.payment, "paid", "applied in memory")
      assert.equal((await run((store) => store.earnings)).satsEarnedTotal, 4)
      const problem = await run((store) => SubscriptionRef.get(store.writeProblem))
      assert.match(problem ?? "", /cannot be written \(EISDIR\).*8 change\(s\) are kept/)
      assert.equal(warnings.filter((w) => w.includes("cannot be written")).length, 1, "logged once, not per record")
      // Writable again: the timer writes what was kept.
      fs.rmdirSync(file)
      fs.renameSync(`${file}.aside`, file)
      await until(async () => (await run((store) => SubscriptionRef.get(store.writeProblem))) === undefined)
      const lines = fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as JobUpdate)
      assert.deepEqual(lines.map((l) => `${l.id}:${l.status ?? l.payment}`), ["a:received", "b:received", ...Array(5).fill("b:processing"), "b:success", "b:paid"])
      assert.equal((await run((store) => store.earnings)).satsEarnedTotal, 4, "what was kept is not counted again once written")
    } finally {
      await runtime.dispose()
    }
    assert.equal((await withStore(dir, (store) => store.earnings)).satsEarnedTotal, 4)
  })
})

describe("JobStore shared with another process", () => {
  let dir: string
  let other: Writer | undefined
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-store-shared-"))
  })
  afterEach(() => {
    other?.child.kill()
    other = undefined
  })

  const open = (rotateBytes = 1_000_000_000) => ManagedRuntime.make(JobStore.layer(dir, { rotateBytes }))
  const inStore = <A>(runtime: ManagedRuntime.ManagedRuntime<JobStore, never>, use: (store: JobStore["Service"]) => Effect.Effect<A>) =>
    runtime.runPromise(Effect.gen(function*() {
      return yield* use(yield* JobStore)
    }))
  const paid = (id: string, sats: number): Array<JobUpdate> => [
    { ...received(id), status: "success", priceSats: sats, payment: "unpaid" },
    { id, payment: "paid", paidAt: Date.now() }
  ]

  it("refresh catches up with what the other appended, and our own records are never counted twice", async () => {
    const ours = open()
    try {
      await inStore(ours, (store) => Effect.forEach(paid("mine", 5), store.record))
      other = await startWriter(dir)
      assert.equal(await other.ask(JSON.stringify([{ ...received("theirs"), status: "processing" }])), "done")
      assert.deepEqual(await inStore(ours, (store) => Effect.map(store.unfinished, (jobs) => jobs.map((j) => j.id))), [], "not read yet")
      await inStore(ours, (store) => store.refresh)
      assert.deepEqual(await inStore(ours, (store) => Effect.map(store.unfinished, (jobs) => jobs.map((j) => j.id))), ["theirs"])

      assert.equal(await other.ask(JSON.stringify(paid("theirs", 3))), "done")
      // Our own write catches up too, interleaved with theirs.
      await inStore(ours, (store) => Effect.forEach(paid("mine2", 7), store.record))
      assert.equal((await inStore(ours, (store) => store.get("theirs")))?.payment, "paid")
      await inStore(ours, (store) => Effect.andThen(store.refresh, store.refresh))
      assert.deepEqual(await inStore(ours, (store) => store.unfinished), [])
      const expected = { jobsToday: 3, satsEarnedToday: 15, satsEarnedTotal: 15 }
      assert.deepEqual(await inStore(ours, (store) => store.earnings), expected)
      assert.deepEqual(await withStore(dir, (store) => store.earnings), expected, "the same as a fresh read")
    } finally {
      await ours.dispose()
    }
  })

  it("after the other archived the history, refresh reads the new one and our later records go on into it", async () => {
    const ours = open()
    try {
      await inStore(ours, (store) => Effect.forEach(paid("mine", 5), store.record))
      other = await startWriter(dir, 20_000)
      const batch = Array.from({ length: 150 }, (_, i) => paid(`theirs${i}`, 1)).flat()
      assert.equal(await other.ask(JSON.stringify(batch)), "done")
      assert.ok(archives(dir).length >= 1, "the other rotated")
      await inStore(ours, (store) => store.refresh)
      const expected = { jobsToday: 151, satsEarnedToday: 155, satsEarnedTotal: 155 }
      assert.deepEqual(await inStore(ours, (store) => store.earnings), expected)
      assert.deepEqual(JSON.parse(await other.ask("earnings")), expected)

      await inStore(ours, (store) => Effect.forEach(paid("after", 10), store.record))
      const after = { jobsToday: 152, satsEarnedToday: 165, satsEarnedTotal: 165 }
      assert.deepEqual(await inStore(ours, (store) => store.earnings), after)
      assert.deepEqual(await withStore(dir, (store) => store.earnings), after, "the same as a fresh read")
      assert.equal((await withStore(dir, (store) => store.get("after")))?.payment, "paid")
    } finally {
      await ours.dispose()
    }
  })

  it("archives while the other keeps appending: neither loses a record", async () => {
    const ours = open(20_000)
    try {
      other = await startWriter(dir, 1_000_000_000)
      const rounds = 20
      for (let round = 0; round < rounds; round++) {
        const theirs: Promise<string> = other.ask(JSON.stringify(Array.from({ length: 10 }, (_, i) => paid(`t${round}-${i}`, 1)).flat()))
        await inStore(ours, (store) => Effect.forEach(Array.from({ length: 10 }, (_, i) => paid(`o${round}-${i}`, 1)).flat(), store.record))
        assert.equal(await theirs, "done")
      }
      assert.ok(archives(dir).length >= 1, "we rotated")
      const expected = { jobsToday: 400, satsEarnedToday: 400, satsEarnedTotal: 400 }
      await inStore(ours, (store) => store.refresh)
      assert.deepEqual(await inStore(ours, (store) => store.earnings), expected)
      assert.deepEqual(await withStore(dir, (store) => store.earnings), expected, "the same as a fresh read")
    } finally {
      await ours.dispose()
    }
  })
})

interface Writer {
  readonly child: ChildProcessWithoutNullStreams
  readonly ask: (line: string) => Promise<string>
}

/** A JobStore in a child process on the same data dir (test/support/jobStoreWriter.ts). */
const startWriter = async (dir: string, rotateBytes = 1_000_000_000): Promise<Writer> => {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "../support/jobStoreWriter.ts"), dir, String(rotateBytes)])
  const lines: Array<string> = []
  let waiting: (() => void) | undefined
  let stderr = ""
  child.stderr.on("data", (chunk) => (stderr += String(chunk)))
  readline.createInterface({ input: child.stdout }).on("line", (line) => {
    lines.push(line)
    waiting?.()
  })
  child.once("exit", () => waiting?.())
  const next = async () => {
    while (lines.length === 0) {
      if (child.exitCode !== null) throw new Error(`the writer exited: ${stderr}`)
      await new Promise<void>((resolve) => (waiting = resolve))
    }
    return lines.shift() as string
  }
  assert.equal(await next(), "ready")
  return {
    child,
    ask: (line) => {
      child.stdin.write(line + "\n")
      return next()
    }
  }
}

const mode = (file: string) => fs.statSync(file).mode & 0o777
const archives = (dir: string) => fs.readdirSync(dir).filter((f) => /^jobs-.*\.jsonl$/.test(f))

const until = async (check: () => Promise<boolean>, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting")
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
