// The dashboard's history with 100,000 seeded jobs over 60 days (archives included, as rotation
// leaves them): opening it cold (the rollup rebuilt from every file) and warm (the saved rollup
// reused), the overview, pages, an id search and the CSV export, and the memory the History service
// holds (heap and RSS beside what JobStore alone holds).
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer, Logger, ManagedRuntime } from "effect"
import { ROLLUP_FILE } from "../src/dvm/history/rollupFile"
import { History } from "../src/dvm/services/History"
import { JobStore } from "../src/dvm/services/JobStore"
import { seedHistory } from "../test/support/seedHistory"

const JOBS = 100_000
const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`
const memory = () => {
  globalThis.gc?.()
  globalThis.gc?.()
  return process.memoryUsage()
}

const timed = async <A>(run: () => Promise<A>) => {
  const started = performance.now()
  const value = await run()
  return { ms: performance.now() - started, value }
}

export const benchHistory = async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-bench-dashboard-"))
  const out = (line: string) => process.stdout.write(`  ${line}\n`)
  process.stdout.write("Dashboard history (History service)\n")
  try {
    const seeding = await timed(async () => seedHistory(dir, { jobs: JOBS, days: 60 }))
    const bytes = seeding.value.files.reduce((sum, f) => sum + fs.statSync(f).size, 0)
    out(`${JOBS.toLocaleString("en")} jobs over 60 days: ${seeding.value.files.length} files (${seeding.value.files.length - 1} archives), ${mb(bytes)}, seeded in ${seeding.ms.toFixed(0)} ms`)
    // The seeder's own records are dropped before measuring: only the services' memory counts.
    ;(seeding as { value: unknown }).value = undefined

    const open = async (label: string) => {
      const runtime = ManagedRuntime.make(History.layer(dir).pipe(Layer.provideMerge(JobStore.layer(dir)), Layer.provideMerge(Logger.layer([]))))
      const use = <A>(f: (h: History["Service"]) => Effect.Effect<A>) => runtime.runPromise(History.use(f))
      const withStore = await timed(() => runtime.runPromise(JobStore.use((s) => s.earnings)))
      const storeOnly = memory()
      const opened = await timed(() => use((h) => h.overview))
      const info = await use((h) => h.info)
      const withHistory = memory()
      out(`${label}: JobStore opened in ${withStore.ms.toFixed(0)} ms; History's first overview in ${opened.ms.toFixed(0)} ms (${info.opened}${info.reason ? `: ${info.reason}` : ""}, ${mb(info.bytesRead)} of history read)`)
      out(`  History holds: heap +${mb(withHistory.heapUsed - storeOnly.heapUsed)}, RSS +${mb(withHistory.rss - storeOnly.rss)} (process: heap ${mb(withHistory.heapUsed)}, RSS ${mb(withHistory.rss)})`)
      return { runtime, use }
    }

    const cold = await open("cold (no rollup saved)")
    await cold.runtime.dispose()
    out(`rollup.json: ${mb(fs.statSync(path.join(dir, ROLLUP_FILE)).size)}`)
    const warm = await open("warm (rollup reused)")
    try {
      const repeat = async (times: number, f: (h: History["Service"]) => Effect.Effect<unknown>) => {
        const started = performance.now()
        for (let i = 0; i < times; i++) await warm.use(f)
        return (performance.now() - started) / times
      }
      out(`overview (open, caught up): ${(await repeat(50, (h) => h.overview)).toFixed(2)} ms`)
      out(`page of 50, newest: ${(await repeat(20, (h) => h.page({}, 0, 50))).toFixed(1)} ms; deep (offset 90,000): ${(await repeat(10, (h) => h.page({}, 90_000, 50))).toFixed(1)} ms`)
      const customer = (await warm.use((h) => h.page({}, 0, 1))).customers?.[0]
      out(`page filtered (customer + paid): ${(await repeat(20, (h) => h.page({ customer, payment: "paid" }, 0, 50))).toFixed(1)} ms; id search (4-hex prefix): ${(await repeat(20, (h) => h.page({ id: "abcd" }, 0, 50))).toFixed(1)} ms`)
      const before = memory()
      const csv = await timed(() => warm.use((h) => h.csv({})))
      const size = Buffer.byteLength(csv.value)
      csv.value = ""
      const paid = await timed(() => warm.use((h) => h.csv({ payment: "paid", model: "qwen2.5:7b" })))
      out(`CSV of all ${JOBS.toLocaleString("en")} jobs: ${csv.ms.toFixed(0)} ms (${mb(size)}); of one model's paid jobs: ${paid.ms.toFixed(0)} ms (${paid.value.split("\r\n").length - 2} rows)`)
      out(`  after the exports: heap ${mb(memory().heapUsed)} (was ${mb(before.heapUsed)})`)
    } finally {
      await warm.runtime.dispose()
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
