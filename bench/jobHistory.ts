// How long opening the job history takes (it is read synchronously while the extension activates):
// a history just under the rotation threshold, and the same history once rotated.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
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
  fs.rmSync(dir, { recursive: true, force: true })
}
