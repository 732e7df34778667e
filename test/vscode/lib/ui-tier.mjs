// UI tier: the packaged .vsix installed in a plain code-server (no smoke-test driver, which would
// suppress notification toasts), driven through the workbench with Playwright.
// Test files: <extDir>/test/vscode/ui/*.test.mjs, default export either
//   async function (ctx) {...}            one test named after the file, or
//   [{ name, fn: async (ctx) => {...}, timeout?, profile? }, ...]
// Tests run in profiles: those without `profile` share the default one; tests naming the same
// profile object share a code-server of their own, set up by it before the server starts:
//   profile = { name, userSettings?, prepare?: async ({ userDataDir, env }) => {...} }
// (e.g. a seeded history in the extension's data dir, which it reads at activation).
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { launchBrowser } from "./browser.mjs";
import { withTimeout } from "./cleanup.mjs";
import { createProfile, installVsix, startCodeServer } from "./code-server.mjs";
import { listFiles } from "./ext-host-tier.mjs";

const TEST_TIMEOUT_MS = 60_000;
const ACTION_TIMEOUT_MS = 20_000;
const VIEWPORT = { width: 1400, height: 900 };

// A file that fails to load becomes one failing test. grep: only tests whose name contains it.
export async function loadUiTests(extDir, grep) {
  const tests = [];
  for (const file of listFiles(path.join(extDir, "test/vscode/ui"), ".test.mjs")) {
    const base = path.basename(file, ".test.mjs");
    try {
      const { default: exported } = await import(pathToFileURL(file).href);
      if (typeof exported === "function") tests.push({ name: base, fn: exported });
      else if (Array.isArray(exported)) tests.push(...exported);
      else throw new Error(`${file}: default export must be a function or an array of { name, fn }`);
    } catch (err) {
      tests.push({ name: base, fn: () => Promise.reject(err) });
    }
  }
  return grep ? tests.filter((test) => test.name.includes(grep)) : tests;
}

// Adds each test's outcome to counts ({ passed, failed }); stops quietly once signal is aborted.
export async function runUiTier({ tests, vsix, runDir, env, userSettings, screenshotsDir, counts, signal }) {
  const groups = new Map();
  for (const test of tests) {
    const key = test.profile ?? null;
    groups.set(key, [...(groups.get(key) ?? []), test]);
  }
  for (const [own, group] of groups) {
    if (signal?.aborted) return;
    const dir = own ? path.join(runDir, own.name) : runDir;
    const profile = createProfile(dir, { ...userSettings, ...own?.userSettings });
    try {
      await own?.prepare?.({ userDataDir: profile.userDataDir, env });
    } catch (err) {
      // Its tests cannot run: each fails with the reason.
      for (const test of group) {
        counts.failed++;
        console.log(`  ✗ ${test.name}\n${indent(`profile ${own.name}: ${err?.stack ?? err}`)}`);
      }
      continue;
    }
    await runProfile({ tests: group, vsix, profile, env, screenshotsDir, counts, signal });
  }
}

async function runProfile({ tests, vsix, profile, env, screenshotsDir, counts, signal }) {
  installVsix(profile, vsix);
  const server = await startCodeServer(profile, { smokeDriver: false, env });
  const { browser, close } = await launchBrowser();
  try {
    for (const test of tests) {
      if (signal?.aborted) return;
      // A fresh context per test: its own page and browser storage.
      const context = await browser.newContext({ viewport: VIEWPORT });
      context.setDefaultTimeout(ACTION_TIMEOUT_MS);
      const page = await context.newPage();
      const ctx = makeContext({ page, server, profile, env, screenshotsDir });
      const started = Date.now();
      try {
        await withTimeout(
          (async () => {
            await openWorkbench(page, server.url, profile.workspace);
            await test.fn(ctx);
          })(),
          test.timeout ?? TEST_TIMEOUT_MS,
          `UI test "${test.name}"`,
        );
        counts.passed++;
        console.log(`  ✓ ${test.name} (${Date.now() - started} ms)`);
      } catch (err) {
        if (signal?.aborted) return;
        counts.failed++;
        console.log(`  ✗ ${test.name}\n${indent(err?.stack ?? String(err))}`);
        await ctx.screenshot(`FAILED-${test.name}`).catch(() => {});
      } finally {
        await context.close().catch(() => {});
      }
    }
  } finally {
    await close();
    await server.stop();
  }
}

async function openWorkbench(page, url, workspace) {
  await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`);
  const workbench = page.locator(".monaco-workbench");
  await workbench.waitFor({ timeout: 60_000 });
  await workbench.click(); // keyboard focus for F1 and friends
}

function makeContext({ page, server, profile, env, screenshotsDir }) {
  const statusBarItem = (text) =>
    page.locator("#workbench\\.parts\\.statusbar .statusbar-item").filter({ hasText: text });
  const notification = (text) => page.locator(".notification-toast").filter({ hasText: text });
  return {
    page,
    env,
    url: server.url,
    workspace: profile.workspace,
    userDataDir: profile.userDataDir,

    // Runs a command through the palette by its "Category: Title". The palette lists the commands
    // known when it opens, and right after startup an extension's may not be there yet: reopen it
    // until the command shows up.
    async runCommand(title, { timeout = ACTION_TIMEOUT_MS } = {}) {
      const deadline = Date.now() + timeout;
      const input = page.locator(".quick-input-widget input");
      const row = page.locator(".quick-input-list .monaco-list-row.focused").filter({ hasText: title });
      for (;;) {
        await page.keyboard.press("F1");
        await input.waitFor();
        await input.fill(`>${title}`);
        try {
          await row.waitFor({ timeout: 2000 });
          break;
        } catch (err) {
          if (Date.now() > deadline) throw new Error(`command "${title}" not in the command palette`, { cause: err });
          await page.keyboard.press("Escape");
        }
      }
      await page.keyboard.press("Enter");
    },

    statusBarItem,
    notification,
    async waitForStatusBarItem(text, options) {
      await statusBarItem(text).first().waitFor(options);
      return statusBarItem(text);
    },
    async waitForNotification(text, options) {
      await notification(text).first().waitFor(options);
      return notification(text);
    },

    // The content of a webview is two iframes deep. Without nth, exactly one visible webview.
    frameLocatorForWebview(nth) {
      let outer = page.locator("iframe.webview.ready").filter({ visible: true });
      if (nth !== undefined) outer = outer.nth(nth);
      return outer.contentFrame().locator("iframe#active-frame").contentFrame();
    },

    async screenshot(name) {
      const file = path.join(screenshotsDir, `${name.replace(/[^\w.-]+/g, "_")}.png`);
      fs.mkdirSync(screenshotsDir, { recursive: true });
      await page.screenshot({ path: file });
      return file;
    },
  };
}

const indent = (text) => text.replace(/^/gm, "      ");
