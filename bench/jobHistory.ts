// How long opening the job history takes (it is read synchronously while the extension activates):
// a history just under the rotation threshold, and the same history once rotated. Then what catching
// up with another window costs (`refresh`, called when going online): with nothing new, and with
// 1,000 lines another process appended; and what one record costs now that each write checks for
// the other's lines.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, ManagedRuntime } from "effect"
import { JOBS_FILE, JobStore } from "../src/dvm/services/JobStore"

const ROTATE_BYTES = 16 * 1024 * 1024

/** The lines one paid pay-after job leaves in the history. */
const jobLines = (i: number) => {
  const id = i.toString(16).padStart(64, "0")
  const at = Date.now()
  return [
    { id, customer: "c".repeat(64), kind: 5050, requestedAt: Math.floor(at / 1000), receivedAt: at, status: "received", encrypted: false, updatedAt: at },
    { id, status: "processing", updatedAt: at },
    { id, model: "llama3.2:1b", promptTokens: 24, completionTokens: 180, updatedAt: at },
    { id, priceSats: 3, invoiceId: "a".repeat(64), bolt11: `lnbc30n1${"q".repeat(300)}`, invoiceExpiresAt: 0, invoiceBackend: "spark", payment: "unpaid", updatedAt: at },
    { id, status: "success", updatedAt: at },
    { id, payment: "paid", paidAt: at, updatedAt: at }
  ].map((line) => JSON.stringify(line) + "\n").join("")
}

const open = (dir: string, rotateBytes: number) => {
  const started = performance.now()
  return Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    return yield* (yield* JobStore).earnings
  }).pipe(Effect.provide(JobStore.layer(dir, { rotateBytes }))))).then((earnings) => ({ ms: performance.now() - started, earnings }))
}

export const benchJobHistory = async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-bench-history-"))
  const file = path.join(dir, JOBS_FILE)
  const chunk: Array<string> = []
  let jobs = 0
  let bytes = 0
  const fd = fs.openSync(file, "w")
  while (bytes < ROTATE_BYTES - 4096) {
    const text = jobLines(jobs++)
    chunk.push(text)
    bytes += Buffer.byteLength(text)
    if (chunk.length === 1000) fs.writeSync(fd, chunk.splice(0).join(""))
  }
  fs.writeSync(fd, chunk.join(""))
  fs.closeSync(fd)
  const full = await open(dir, Number.MAX_SAFE_INTEGER)
  await open(dir, ROTATE_BYTES / 2) // rotates: archived, begun anew from memory
  const rotated = await open(dir, Number.MAX_SAFE_INTEGER)
  const after = fs.statSync(file).size
  process.stdout.write("Job history (read while the extension activates)\n")
  process.stdout.write(`  ${jobs.toLocaleString("en")} paid jobs, ${(bytes / 1048576).toFixed(1)} MiB (just under the 16 MiB rotation point): opened in ${full.ms.toFixed(0)} ms\n`)
  process.stdout.write(`  after rotation: ${(after / 1048576).toFixed(1)} MiB (the 10,000 records kept in memory), opened in ${rotated.ms.toFixed(0)} ms; earnings the same: ${JSON.stringify(full.earnings) === JSON.stringify(rotated.earnings)} (${rotated.earnings.satsEarnedTotal} sats)\n`)
  await benchRefresh(dir, jobs)
  fs.rmSync(dir, { recursive: true, force: true })
}

const benchRefresh = async (dir: string, firstJob: number) => {
  const runtime = ManagedRuntime.make(JobStore.layer(dir, { rotateBytes: Number.MAX_SAFE_INTEGER }))
  const inStore = <A>(use: (store: JobStore["Service"]) => Effect.Effect<A>) =>
    runtime.runPromise(Effect.gen(function*() {
      return yield* use(yield* JobStore)
    }))
  const timed = async (times: number, use: (store: JobStore["Service"]) => Effect.Effect<unknown>) => {
    const started = performance.now()
    await inStore((store) => Effect.repeat(use(store), { times: times - 1 }))
    return (performance.now() - started) / times
  }
  try {
    await inStore((store) => store.refresh)
    const idle = await timed(10_000, (store) => store.refresh)
    // 1,000 lines as another process would append them.
    const lines = Array.from({ length: 167 }, (_, i) => jobLines(firstJob + i)).join("").split("\n").slice(0, 1000)
    fs.appendFileSync(path.join(dir, JOBS_FILE), lines.map((line) => line + "\n").join(""))
    const withNew = await timed(1, (store) => store.refresh)
    const seen = await inStore((store) => store.get((firstJob + 100).toString(16).padStart(64, "0")))
    let n = 0
    const perRecord = await timed(5_000, (store) => store.record({ id: `bench-${n++}`, status: "error", error: "bench" }))
    process.stdout.write(`  refresh with nothing new: ${(idle * 1000).toFixed(1)} µs; with 1,000 new lines from another process: ${withNew.toFixed(1)} ms (read: ${seen !== undefined})\n`)
    process.stdout.write(`  one record (append + check for the other's lines): ${(perRecord * 1000).toFixed(1)} µs\n`)
  } finally {
    await runtime.dispose()
  }
}
