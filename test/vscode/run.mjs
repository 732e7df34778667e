// Runs the extension's tests in a real VS Code, offline and headless: code-server (VS Code's
// server and web workbench) with Debian's Chromium driven by playwright-core.
// See docs/vscode-offline-testing.md.
//
//   npm run test:vscode              both tiers
//   npm run test:vscode -- ext-host  only the extension-host (mocha) tier
//   npm run test:vscode -- ui        only the UI (Playwright) tier
//
// Environment: SELL_COMPUTE_EXT_DIR (extension under test, default the repo),
// SELL_COMPUTE_TOOLS_DIR (default <repo>/.tools), SELL_COMPUTE_TIER_TIMEOUT_MS (default 5 min),
// SELL_COMPUTE_VSCODE_GREP (only tests whose full name contains it).
//
// Extension-host tests: <extDir>/test/vscode/suite/**/*.test.ts, mocha BDD (describe/it) with the
// real `vscode` API, bundled with esbuild to out/test/vscode/suite/ (see lib/ext-host-tier.mjs).
// UI tests: <extDir>/test/vscode/ui/*.test.mjs (see lib/ui-tier.mjs for the ctx they get).
// Fixtures: <extDir>/test/vscode/fixtures.mjs (see startFixtures below).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { cleanupAll, cleanupDepth, onCleanup, withTimeout } from "./lib/cleanup.mjs";
import { bundleSuite, runExtHostTier } from "./lib/ext-host-tier.mjs";
import { EXT_DIR, RESULTS_DIR, ensureTools } from "./lib/tools.mjs";
import { loadUiTests, runUiTier } from "./lib/ui-tier.mjs";
import { buildVsix } from "./lib/vsix.mjs";

const TIER_TIMEOUT_MS = Number(process.env.SELL_COMPUTE_TIER_TIMEOUT_MS || 5 * 60_000);
const SCREENSHOTS_DIR = path.join(RESULTS_DIR, "screenshots");
const wanted = process.argv.slice(2);
const wants = (tier) => wanted.length === 0 || wanted.includes(tier);

const totals = { passed: 0, failed: 0 };
const runRoot = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-vscode-"));
const startedAt = Date.now();

try {
  await main();
} catch (err) {
  totals.failed++;
  console.log(`vscode: ${err?.stack ?? err}`);
} finally {
  await cleanupAll();
}
finish();

async function main() {
  console.log(`vscode: testing ${EXT_DIR}`);
  await timed("tools", ensureTools);
  await timed("build", () => run("npm", ["run", "build"], { cwd: EXT_DIR }));
  fs.rmSync(SCREENSHOTS_DIR, { recursive: true, force: true });

  const suiteBundle = wants("ext-host") ? await timed("bundle suite", () => bundleSuite(EXT_DIR)) : null;
  const uiTests = wants("ui") ? await loadUiTests(EXT_DIR, process.env.SELL_COMPUTE_VSCODE_GREP) : [];
  const vsix = uiTests.length > 0 ? await timed("package", packageVsix) : null;
  const { env, userSettings } = await startFixtures();

  if (suiteBundle) {
    await tier("ext-host", (counts) =>
      runExtHostTier({ extDir: EXT_DIR, suiteBundle, runDir: mkdir("ext-host"), env, userSettings, counts }),
    );
  } else if (wants("ext-host")) {
    console.log("vscode: no extension-host tests (test/vscode/suite/*.test.ts)");
  }
  if (vsix) {
    await tier("ui", (counts, signal) =>
      runUiTier({ tests: uiTests, vsix, runDir: mkdir("ui"), env, userSettings, screenshotsDir: SCREENSHOTS_DIR, counts, signal }),
    );
  } else if (wants("ui")) {
    console.log("vscode: no UI tests (test/vscode/ui/*.test.mjs)");
  }
}

// body(counts, signal) adds its results to counts as they come, so a timeout keeps what already
// ran; signal tells it that it has been abandoned.
async function tier(name, body) {
  console.log(`\nvscode: ${name} tier`);
  const started = Date.now();
  const keep = cleanupDepth();
  const counts = { passed: 0, failed: 0 };
  const abort = new AbortController();
  const running = body(counts, abort.signal);
  running.catch(() => {}); // after a timeout nobody awaits it any more
  let failure = null;
  try {
    await withTimeout(running, TIER_TIMEOUT_MS, `${name} tier`);
  } catch (err) {
    failure = err;
  }
  // Counted before cleanup: a test that breaks because its browser gets killed doesn't count.
  totals.passed += counts.passed;
  totals.failed += counts.failed + (failure ? 1 : 0);
  if (failure) {
    abort.abort();
    console.log(`  ✗ ${name} tier: ${failure?.stack ?? failure}`);
    await cleanupAll(keep); // this tier's code-server and browser, not the fixtures
  }
  console.log(`vscode: ${name} tier took ${seconds(started)}`);
}

function packageVsix() {
  return buildVsix({ extDir: EXT_DIR, out: path.join(runRoot, "sell-compute.vsix"), workDir: runRoot });
}

// <extDir>/test/vscode/fixtures.mjs: `export async function setup()` returning
// { env, userSettings, teardown() }; env reaches code-server (so the extension host) and UI tests'
// ctx.env; userSettings are merged into both tiers' settings.json before code-server starts.
async function startFixtures() {
  const file = path.join(EXT_DIR, "test/vscode/fixtures.mjs");
  if (!fs.existsSync(file)) return { env: {}, userSettings: {} };
  const { setup } = await import(pathToFileURL(file).href);
  const { env = {}, userSettings = {}, teardown } = (await setup()) ?? {};
  if (teardown) onCleanup(teardown);
  return { env, userSettings };
}

function finish() {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  fs.writeFileSync(path.join(RESULTS_DIR, "vscode-summary.json"), JSON.stringify(totals) + "\n");
  if (totals.failed > 0 && fs.readdirSync(runRoot).length > 0) {
    console.log(`vscode: logs and profiles kept in ${runRoot}`);
  } else {
    fs.rmSync(runRoot, { recursive: true, force: true });
  }
  console.log(`vscode: total ${seconds(startedAt)}`);
  console.log(`vscode: ${totals.passed} passed, ${totals.failed} failed`);
  process.exit(totals.failed === 0 && totals.passed > 0 ? 0 : 1);
}

function run(command, args, options) {
  const result = spawnSync(command, args, { stdio: "inherit", ...options });
  if (result.status !== 0) {
    const message = `${path.basename(command)} ${args.join(" ")} failed (exit ${result.status ?? result.signal})`;
    throw Object.assign(new Error(message), { stack: message }); // its output says why
  }
}

async function timed(label, fn) {
  const started = Date.now();
  const result = await fn();
  console.log(`vscode: ${label} took ${seconds(started)}`);
  return result;
}

function mkdir(name) {
  const dir = path.join(runRoot, name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function seconds(since) {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}
