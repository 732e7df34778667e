/**
 * The extension in a real VS Code, started the way the test harness starts it (code-server and
 * Debian's Chromium, offline; test/vscode/lib): the production .vsix (`npm run package`'s build) is
 * installed, then the workbench is opened in N fresh windows, each with its own extension host that
 * activates the extension (onStartupFinished). Per window:
 * - VS Code's own activation figure, read from Developer: Show Running Extensions: loading the
 *   extension's code plus calling activate() (what VS Code shows people and judges extensions by);
 * - activate() from its first line until it resolves, which the extension logs ("Activated in …").
 * Prints the medians and the .vsix size. Needs the harness's tools (installed when missing).
 *
 *   node --import tsx bench/vscode.ts      (SELL_COMPUTE_BENCH_VSCODE_RUNS, default 5)
 */
import { spawnSync } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { pathToFileURL } from "node:url"

// tsx runs this package's .ts files as CommonJS.
const REPO = path.resolve(path.dirname(__filename), "..")
const RUNS = Math.max(1, Number(process.env.SELL_COMPUTE_BENCH_VSCODE_RUNS ?? 5))
const EXTENSION_LOG = path.join("sell-compute.sell-compute", "Sell Compute.log")

// The harness's modules are plain JavaScript (no types): what is used of them.
interface Locator {
  waitFor(options?: { timeout?: number }): Promise<void>
  filter(options: { hasText: string | RegExp }): Locator
  click(): Promise<void>
  fill(text: string): Promise<void>
  textContent(): Promise<string | null>
}
interface Page {
  goto(url: string): Promise<unknown>
  locator(selector: string, options?: { hasText?: string | RegExp }): Locator
  keyboard: { press(key: string): Promise<void> }
}
export interface BrowserContext {
  newPage(): Promise<Page>
  close(): Promise<void>
  setDefaultTimeout(ms: number): void
}
interface Profile {
  userDataDir: string
  workspace: string
}
export interface Harness {
  createProfile(runDir: string, userSettings?: Record<string, unknown>): Profile
  installVsix(profile: Profile, vsix: string): void
  startCodeServer(profile: Profile, options: { smokeDriver: boolean }): Promise<{ url: string; stop(): Promise<void> }>
  launchBrowser(): Promise<{ browser: { newContext(options: object): Promise<BrowserContext> }; close(): Promise<void> }>
  packageExtension(options: { out: string; quiet: boolean }): string
}

const load = async (file: string): Promise<Record<string, unknown>> => import(pathToFileURL(path.join(REPO, file)).href)

export const harness = async (): Promise<Harness> => ({
  ...(await load("test/vscode/lib/code-server.mjs")),
  ...(await load("test/vscode/lib/browser.mjs")),
  ...(await load("scripts/package.mjs"))
}) as unknown as Harness

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Opens the workbench in a fresh window and returns VS Code's activation time for the extension (ms). */
async function vscodeActivationMs(context: BrowserContext, url: string, workspace: string): Promise<number> {
  context.setDefaultTimeout(30_000)
  const page = await context.newPage()
  await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`)
  const workbench = page.locator(".monaco-workbench")
  await workbench.waitFor({ timeout: 60_000 })
  // The status bar item is made by activate(): it is there once the extension is active.
  await page.locator("#workbench\\.parts\\.statusbar .statusbar-item", { hasText: "Sell Compute" }).waitFor()
  await workbench.click()
  await page.keyboard.press("F1")
  await page.locator(".quick-input-widget input").fill(">Developer: Show Running Extensions")
  await page.locator(".quick-input-list .monaco-list-row.focused", { hasText: "Show Running Extensions" }).waitFor()
  await page.keyboard.press("Enter")
  // "Activation: 112ms" (or "Startup Activation: …"): codeLoadingTime + activateCallTime.
  const row = page.locator(".monaco-list-row", { hasText: "Sell Compute" }).filter({ hasText: /Activation: \d+ms/ })
  await row.waitFor()
  const match = /Activation: (\d+)ms/.exec((await row.textContent()) ?? "")
  if (!match) throw new Error("no activation time for Sell Compute in Running Extensions")
  return Number(match[1])
}

/** Every "Activated in X ms" the extension logged in this profile, one per extension host. */
function loggedActivateMs(userDataDir: string): Array<number> {
  const logs = path.join(userDataDir, "logs")
  return (fs.readdirSync(logs, { recursive: true }) as Array<string>)
    .filter((file) => file.endsWith(EXTENSION_LOG))
    .flatMap((file) => [...fs.readFileSync(path.join(logs, file), "utf8").matchAll(/Activated in ([\d.]+) ms/g)])
    .map((m) => Number(m[1]))
}

export async function benchVscode(): Promise<void> {
  const lib = await harness()
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-bench-vscode-"))
  const stops: Array<() => Promise<void>> = []
  try {
    const vsix = lib.packageExtension({ out: path.join(workDir, "sell-compute.vsix"), quiet: true })
    const vsixMb = fs.statSync(vsix).size / 1024 / 1024
    // Leave dist/ as the other benches and tests expect it: the development build.
    const rebuild = spawnSync(process.execPath, ["esbuild.mjs"], { cwd: REPO, stdio: "inherit" })
    if (rebuild.status !== 0) throw new Error(`development build failed (exit ${rebuild.status ?? rebuild.signal})`)

    const profile = lib.createProfile(path.join(workDir, "profile"))
    lib.installVsix(profile, vsix)
    const server = await lib.startCodeServer(profile, { smokeDriver: false })
    stops.push(() => server.stop())
    const { browser, close } = await lib.launchBrowser()
    stops.push(close)

    const vscodeMs: Array<number> = []
    for (let i = 0; i < RUNS; i++) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } })
      try {
        vscodeMs.push(await vscodeActivationMs(context, server.url, profile.workspace))
      } finally {
        await context.close()
      }
    }
    const activateMs = loggedActivateMs(profile.userDataDir)
    if (activateMs.length < RUNS) throw new Error(`the extension logged ${activateMs.length} activations for ${RUNS} windows`)

    process.stdout.write(
      `Extension: activation ${median(vscodeMs).toFixed(0)} ms (median of ${RUNS} VS Code windows; VS Code's figure: loading the code + calling activate(); ` +
        `range ${Math.min(...vscodeMs)}–${Math.max(...vscodeMs)} ms), activate() until resolved ${median(activateMs).toFixed(1)} ms, ` +
        `.vsix ${vsixMb.toFixed(2)} MB\n`
    )
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {})
    fs.rmSync(workDir, { recursive: true, force: true })
  }
}

if (/bench[\\/]vscode\.ts$/.test(process.argv[1] ?? "")) {
  benchVscode().then(() => process.exit(0), (e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`)
    process.exit(1)
  })
}
