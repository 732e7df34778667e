/**
 * The dashboard in a real VS Code with 100,000 seeded jobs over 60 days (test/support/seedHistory.ts
 * in the extension's data dir, as the UI tests use it), started the way the test harness starts
 * it (code-server and Debian's Chromium, offline): per window (each its own extension host),
 * - the time from "Open Dashboard" in the command palette until the earnings show all 100,000 jobs
 *   (what a person waits for), the first window with no saved rollup (built from every file), the
 *   next ones reusing it;
 * - what the extension logs: from the panel's creation until its earnings and first page were
 *   posted, and the extension host's heap and RSS then (process.memoryUsage() in the extension
 *   host: the whole host, VS Code's own extensions included);
 * - activate() with that history (JobStore replays jobs.jsonl at activation).
 *
 *   node --import tsx bench/dashboard.ts      (SELL_COMPUTE_BENCH_DASHBOARD_RUNS, default 3)
 */
import { spawnSync } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { seedHistory } from "../test/support/seedHistory"
import { type BrowserContext, harness, median } from "./vscode"

const REPO = path.resolve(path.dirname(__filename), "..")
const RUNS = Math.max(2, Number(process.env.SELL_COMPUTE_BENCH_DASHBOARD_RUNS ?? 3))
const JOBS = 100_000
const EXTENSION_LOG = path.join("sell-compute.sell-compute", "Sell Compute.log")

// What is used of Playwright's locators past the harness's Page type (bench/vscode.ts).
interface Frames {
  locator(selector: string): Frames
  filter(options: { visible: boolean }): Frames
  first(): Frames
  contentFrame(): Frames
  locator(selector: string, options?: { hasText: string }): Frames
  waitFor(options?: { timeout?: number }): Promise<void>
}

interface Opened {
  readonly wallMs: number
}

async function openDashboard(context: BrowserContext, url: string, workspace: string): Promise<Opened> {
  context.setDefaultTimeout(120_000)
  const page = await context.newPage()
  await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`)
  const workbench = page.locator(".monaco-workbench")
  await workbench.waitFor({ timeout: 60_000 })
  await page.locator("#workbench\\.parts\\.statusbar .statusbar-item", { hasText: "Sell Compute" }).waitFor()
  await workbench.click()
  await page.keyboard.press("F1")
  await page.locator(".quick-input-widget input").fill(">Sell Compute: Open Dashboard")
  await page.locator(".quick-input-list .monaco-list-row.focused", { hasText: "Open Dashboard" }).waitFor()
  const started = performance.now()
  await page.keyboard.press("Enter")
  // The earnings' all-time jobs cell, inside the webview's two iframes.
  const frame = (page as unknown as Frames).locator("iframe.webview.ready").filter({ visible: true }).contentFrame().locator("iframe#active-frame").contentFrame()
  await frame.locator('#earnings-table tr[data-metric="jobs"] td[data-period="allTime"]', { hasText: JOBS.toLocaleString("en-US") }).waitFor()
  await frame.locator("#job-list tbody tr").first().waitFor()
  return { wallMs: performance.now() - started }
}

/** Every "Dashboard opened in …" and "Activated in …" the extension logged in this profile. */
function logged(userDataDir: string) {
  const logs = path.join(userDataDir, "logs")
  const text = (fs.readdirSync(logs, { recursive: true }) as Array<string>)
    .filter((file) => file.endsWith(EXTENSION_LOG))
    .map((file) => fs.readFileSync(path.join(logs, file), "utf8"))
    .join("\n")
  return {
    opened: [...text.matchAll(/Dashboard opened in (\d+) ms .*heap ([\d.]+) MiB, RSS ([\d.]+) MiB/g)].map((m) => ({ ms: Number(m[1]), heap: Number(m[2]), rss: Number(m[3]) })),
    activated: [...text.matchAll(/Activated in ([\d.]+) ms/g)].map((m) => Number(m[1]))
  }
}

export async function benchDashboard(): Promise<void> {
  const lib = await harness()
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-bench-dashboard-"))
  const stops: Array<() => Promise<void>> = []
  try {
    const vsix = lib.packageExtension({ out: path.join(workDir, "sell-compute.vsix"), quiet: true })
    const rebuild = spawnSync(process.execPath, ["esbuild.mjs"], { cwd: REPO, stdio: "inherit" })
    if (rebuild.status !== 0) throw new Error(`development build failed (exit ${rebuild.status ?? rebuild.signal})`)
    const profile = lib.createProfile(path.join(workDir, "profile"), { "sellCompute.payment.mode": "free" })
    const seeded = seedHistory(path.join(profile.userDataDir, "User/globalStorage/sell-compute.sell-compute"), { jobs: JOBS, days: 60 })
    const bytes = seeded.files.reduce((sum, f) => sum + fs.statSync(f).size, 0)
    lib.installVsix(profile, vsix)
    const server = await lib.startCodeServer(profile, { smokeDriver: false })
    stops.push(() => server.stop())
    const { browser, close } = await lib.launchBrowser()
    stops.push(close)

    const walls: Array<number> = []
    for (let i = 0; i < RUNS; i++) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } })
      try {
        walls.push((await openDashboard(context, server.url, profile.workspace)).wallMs)
      } finally {
        await context.close()
      }
    }
    const { opened, activated } = logged(profile.userDataDir)
    if (opened.length < RUNS) throw new Error(`the extension logged ${opened.length} dashboard openings for ${RUNS} windows`)
    const [cold, ...warm] = opened
    process.stdout.write(
      `Dashboard in VS Code, ${JOBS.toLocaleString("en")} jobs (${(bytes / 1048576).toFixed(0)} MiB in ${seeded.files.length} files): ` +
        `open until all-time earnings shown ${walls[0]!.toFixed(0)} ms cold (no rollup saved), ${median(walls.slice(1)).toFixed(0)} ms warm (median of ${RUNS - 1}); ` +
        `host side (panel created → earnings and first page posted) ${cold!.ms} ms cold, ${median(warm.map((o) => o.ms)).toFixed(0)} ms warm; ` +
        `extension host then: heap ${median(opened.map((o) => o.heap)).toFixed(1)} MiB, RSS ${median(opened.map((o) => o.rss)).toFixed(1)} MiB (median; the whole host); ` +
        `activate() with this history ${median(activated).toFixed(1)} ms\n`
    )
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {})
    fs.rmSync(workDir, { recursive: true, force: true })
  }
}

if (/bench[\\/]dashboard\.ts$/.test(process.argv[1] ?? "")) {
  benchDashboard().then(() => process.exit(0), (e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`)
    process.exit(1)
  })
}
