// JobStore: the durable job history — torn lines after a crash, the memory cap, earnings counted
// as records change.
import assert from "node:assert/strict"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { JOBS_FILE, JobStore } from "../../src/dvm/services/JobStore"

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
})
