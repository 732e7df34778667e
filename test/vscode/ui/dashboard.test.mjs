// The dashboard over a seeded history of 100,000 jobs over 60 days (test/support/seedHistory.ts,
// written into the extension's data dir before code-server starts), in paid mode with no wallet
// (a first run's settings): what it shows is compared with figures computed separately from the
// seeder's records; filters, paging, one job in full and the CSV export with the records; axe-core
// and measured contrast in the four default themes; 360 px; and the first-run status bar click.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { decode, npubEncode } from "nostr-tools/nip19";
import { tsImport } from "tsx/esm/api";
import { dataDirOf, openPanel, webviewFrame } from "./support.mjs";

// The dashboard opened some other way than the palette: its frame once drawn.
async function openPanelFrame(ctx) {
  const panel = ctx.frameLocatorForWebview();
  await panel.locator("#online-button:not([disabled])").waitFor();
  return panel;
}

const require = createRequire(import.meta.url);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const AXE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
// Light Modern last: the profile's later tests see the default look again.
// (The theme picker's labels; code-server 4.139 starts in "Light 2026".)
const THEMES = [
  ["Dark Modern", "vscode-dark", "dark"],
  ["Dark High Contrast", "vscode-high-contrast", "hc-dark"],
  ["Light High Contrast", "vscode-high-contrast-light", "hc-light"],
  ["Light Modern", "vscode-light", "light"],
];

/** Set by the profile's prepare: the seeded history and the seeder's own figures. */
let seeded;
let seeder;

const profile = {
  name: "seeded",
  // A first run's payment settings: paid mode (the default), no wallet set up.
  userSettings: { "sellCompute.payment.mode": "pay-after" },
  async prepare({ userDataDir }) {
    seeder = await tsImport(path.join(REPO, "test/support/seedHistory.ts"), import.meta.url);
    seeded = seeder.seedHistory(dataDirOf(userDataDir), { jobs: 100_000, days: 60 });
  },
};

const number = (n) => n.toLocaleString("en-US");
const rate = (t) => (t.succeeded + t.failed === 0 ? "–" : `${((t.succeeded / (t.succeeded + t.failed)) * 100).toFixed(1)}%`);
const METRICS = {
  satsPaid: (t) => number(t.satsPaid),
  satsAwaiting: (t) => number(t.satsAwaiting),
  freeJobs: (t) => number(t.freeJobs),
  jobs: (t) => number(t.jobs),
  successRate: rate,
};
const newestFirst = () => [...seeded.records].sort((a, b) => b.receivedAt - a.receivedAt);

async function rowsShown(panel) {
  return panel.locator("#job-list tbody tr").evaluateAll((rows) =>
    rows.map((r) => ({ id: r.dataset.jobId, status: r.dataset.status, receivedAt: Number(r.dataset.receivedAt) })),
  );
}

async function waitForSummary(panel, text) {
  await panel.locator("#page-summary", { hasText: text }).waitFor({ timeout: 30_000 });
}

// Through the theme picker, as a person would (the settings file is not watched in code-server).
async function setTheme(ctx, frame, [theme, bodyClass]) {
  const { page } = ctx;
  const input = await openPalette(page);
  await input.fill(">Preferences: Color Theme");
  // Not the focused row: "Browse Color Themes in Marketplace" may come first.
  await page.locator(".quick-input-list .monaco-list-row", { hasText: /^Preferences: Color Theme/ }).first().click();
  await input.fill(theme);
  const exact = page.locator(".monaco-highlighted-label", { hasText: new RegExp(`^${theme}$`) });
  await page.locator(".quick-input-list .monaco-list-row").filter({ has: exact }).first().click();
  await frame.waitForFunction((cls) => document.body.classList.contains(cls), bodyClass, { timeout: 20_000 });
  await ctx.page.waitForTimeout(300); // the chart redraws on the class change
}

// The command palette, from the workbench: the keyboard is taken out of the webview first (a key
// pressed in it may not reach the workbench), and F1 pressed again until the palette shows.
async function openPalette(page) {
  const widget = page.locator(".quick-input-widget");
  for (let attempt = 1; ; attempt++) {
    await page.locator(".part.sidebar .title-label").first().click(); // the side bar is open here
    await page.keyboard.press("F1");
    try {
      await widget.waitFor({ state: "visible", timeout: 3000 });
      return widget.locator("input");
    } catch (err) {
      if (attempt === 3) throw err;
    }
  }
}

// Text contrast from computed styles: each element's colour over the first opaque background behind it.
function measureContrast(selectors) {
  const parse = (c) => (c.match(/[\d.]+/g) ?? []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c[3] === undefined || c[3] === 1)) return c;
    }
    return parse(getComputedStyle(document.documentElement).backgroundColor);
  };
  const out = [];
  for (const selector of selectors) {
    for (const el of document.querySelectorAll(selector)) {
      if (!el.textContent.trim() || el.getClientRects().length === 0) continue;
      const fg = parse(getComputedStyle(el).color);
      const [l1, l2] = [lum(fg), lum(background(el))].sort((a, b) => b - a);
      out.push({ selector, text: el.textContent.trim().slice(0, 40), ratio: (l1 + 0.05) / (l2 + 0.05) });
    }
  }
  return out;
}
const STATUS_TEXT = [
  "#provider-state .state-text",
  "#blocker-reason",
  ".job-status .with-icon span:not(.codicon)",
  ".payment .with-icon span:not(.codicon)",
  ".error-reason",
  "#page-summary",
  ".card .summary",
  ".card .detail",
  ".relay-status",
  "#earnings-table td",
];

export default [
  {
    name: "dashboard: earnings, chart, filters, paging, detail and CSV agree with a seeded history of 100,000 jobs",
    profile,
    timeout: 150_000,
    fn: async (ctx) => {
      await ctx.waitForStatusBarItem("Sell Compute: Offline");
      const panel = await openPanel(ctx);

      // Earnings at a glance: every period and metric as computed from the records.
      const expected = seeder.expectedOverview(seeded.records, Date.now());
      await panel.locator('#earnings-table tr[data-metric="jobs"] td[data-period="allTime"]', { hasText: number(100_000) }).waitFor({ timeout: 60_000 });
      for (const [metric, text] of Object.entries(METRICS)) {
        for (const period of ["today", "last7Days", "last30Days", "allTime"]) {
          const cell = panel.locator(`#earnings-table tr[data-metric="${metric}"] td[data-period="${period}"]`);
          assert.equal(await cell.textContent(), text(expected[period]), `${metric} ${period}`);
        }
      }

      // The chart: 30 days, then today's 24 hours, each point as in the records.
      const points = async () => panel.locator("#chart-data tbody tr").evaluateAll((rows) =>
        rows.map((r) => ({ start: Number(r.dataset.start), jobs: r.cells[1].textContent, sats: r.cells[2].textContent })));
      await panel.locator('#chart[data-range="days"][data-points="30"] canvas').first().waitFor();
      assert.deepEqual(await points(), expected.perDay.map((p) => ({ start: p.start, jobs: number(p.jobs), sats: number(p.satsPaid) })));
      await panel.locator("#chart-hours").click();
      await panel.locator('#chart[data-range="hours"][data-points="24"] canvas').first().waitFor();
      assert.deepEqual(await points(), expected.perHour.map((p) => ({ start: p.start, jobs: number(p.jobs), sats: number(p.satsPaid) })));
      await panel.locator("#chart-days").click();
      await ctx.screenshot("dashboard-default-theme");

      // Paging: newest first, 50 a page.
      const all = newestFirst();
      await waitForSummary(panel, `1–50 of ${number(100_000)} jobs`);
      const firstPage = await rowsShown(panel);
      assert.deepEqual(firstPage.map((r) => r.receivedAt), all.slice(0, 50).map((r) => r.receivedAt));
      for (const row of firstPage) assert.equal(seeded.records.find((r) => r.id === row.id)?.receivedAt, row.receivedAt);
      await panel.locator("#page-next").click();
      await waitForSummary(panel, `51–100 of ${number(100_000)} jobs`);
      assert.deepEqual((await rowsShown(panel)).map((r) => r.receivedAt), all.slice(50, 100).map((r) => r.receivedAt));
      await panel.locator("#page-prev").click();
      await waitForSummary(panel, "1–50 of");

      // Filters: status, payment, model, customer (as an npub), and a job id searched by prefix.
      const failed = seeded.records.filter((r) => r.status === "error");
      await panel.locator("#filter-status").selectOption("error");
      await waitForSummary(panel, `of ${number(failed.length)} matching job`);
      assert.ok((await rowsShown(panel)).every((r) => r.status === "error"));
      await ctx.screenshot("dashboard-failed-jobs");
      const model = seeded.models[1];
      const failedOnModel = failed.filter((r) => r.model === model);
      await panel.locator(`#filter-model option[value="${model}"]`).waitFor({ state: "attached" });
      await panel.locator("#filter-model").selectOption(model);
      await waitForSummary(panel, `of ${number(failedOnModel.length)} matching job`);

      // CSV export of what is shown (failed jobs on one model): the same jobs, newest first.
      const target = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-csv-")), "jobs.csv");
      await panel.locator("#export-csv").click();
      const input = ctx.page.locator(".quick-input-widget input");
      await input.waitFor();
      // The dialog puts its default path in once it has listed the folder: type over it after that.
      await ctx.page.waitForFunction(() => (document.querySelector(".quick-input-widget input")?.value ?? "").endsWith(".csv"));
      await input.fill(target);
      await ctx.page.waitForFunction((expected) => document.querySelector(".quick-input-widget input")?.value === expected, target);
      // VS Code's own save dialog (the simple one, in the browser): the path typed, then OK.
      await ctx.page.locator(".quick-input-widget").getByRole("button", { name: "OK" }).click();
      await waitForFile(target);
      const lines = fs.readFileSync(target, "utf8").split("\r\n").filter((line) => line !== "");
      assert.equal(lines.length, failedOnModel.length + 1, "a header and one line per job shown");
      const ids = lines.slice(1).map((line) => line.match(/[0-9a-f]{64}/)?.[0]);
      assert.deepEqual(new Set(ids), new Set(failedOnModel.map((r) => r.id)));

      await panel.locator("#filter-status").selectOption("");
      await panel.locator("#filter-model").selectOption("");
      const paid = seeded.records.filter((r) => r.payment === "paid");
      await panel.locator("#filter-payment").selectOption("paid");
      await waitForSummary(panel, `of ${number(paid.length)} matching job`);
      await panel.locator("#filter-payment").selectOption("");
      const customer = seeded.customers[2];
      const theirs = seeded.records.filter((r) => r.customer === customer);
      await panel.locator("#filter-customer").fill(npubEncode(customer));
      await waitForSummary(panel, `of ${number(theirs.length)} matching job`);
      await panel.locator("#filter-customer").fill("");
      const sought = all[1234];
      await panel.locator("#filter-id").fill(sought.id.slice(0, 12));
      await waitForSummary(panel, "1–1 of 1 matching job");
      assert.deepEqual((await rowsShown(panel)).map((r) => r.id), [sought.id]);

      // One job in full, opened from the keyboard: its request as a nevent, its timeline.
      await panel.locator(`#job-list tr[data-job-id="${sought.id}"] button[data-open]`).focus();
      await ctx.page.keyboard.press("Enter");
      const request = panel.locator('#job-detail dd[data-field="request"] code');
      await request.waitFor();
      const nevent = decode(await request.textContent());
      assert.equal(nevent.type, "nevent");
      assert.equal(nevent.data.id, sought.id);
      assert.equal(nevent.data.author, sought.customer);
      await panel.locator('#job-timeline li[data-step="received"][data-done="true"]').waitFor();
      assert.equal(await panel.locator('#job-timeline li[data-step="paid"]').getAttribute("data-done"), String(sought.paidAt !== undefined));
      await ctx.screenshot("dashboard-job-detail");
      await panel.locator("#job-detail-close").click();
      await panel.locator("#filter-id").fill("");
      await waitForSummary(panel, `1–50 of ${number(100_000)} jobs`);

      // Four themes: no serious or critical axe violation; status text ≥ 4.5:1 from computed styles.
      const frame = await webviewFrame(ctx);
      await frame.evaluate(AXE);
      for (const theme of THEMES) {
        await setTheme(ctx, frame, theme);
        const violations = await frame.evaluate(async () => {
          const result = await globalThis.axe.run(document, { resultTypes: ["violations"] });
          return result.violations
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
        });
        assert.deepEqual(violations, [], `axe in ${theme[0]}`);
        const low = (await frame.evaluate(measureContrast, STATUS_TEXT)).filter((m) => m.ratio < 4.5);
        assert.deepEqual(low, [], `text under 4.5:1 in ${theme[0]}`);
        await frame.evaluate(() => window.scrollTo(0, 0)); // the earnings on top, for docs/ (README)
        await ctx.screenshot(`dashboard-${theme[2]}`);
      }

      // Usable at 360 px: nothing but the tables' own scrollers is wider than the view.
      const palette = await openPalette(ctx.page);
      await palette.fill(">View: Close Primary Side Bar"); // the editor gets the width beside the activity bar
      await ctx.page.locator(".quick-input-list .monaco-list-row", { hasText: /^View: Close Primary Side Bar/ }).first().click();
      await ctx.page.setViewportSize({ width: 410, height: 900 });
      await frame.waitForFunction(() => document.documentElement.clientWidth >= 340 && document.documentElement.clientWidth <= 370, null, { timeout: 10_000 });
      const overflow = await frame.evaluate(() => ({ width: document.documentElement.clientWidth, scroll: document.documentElement.scrollWidth }));
      assert.ok(overflow.scroll <= overflow.width, `the page scrolls sideways at ${overflow.width} px (${overflow.scroll} px wide)`);
      await ctx.screenshot("dashboard-narrow");
    },
  },
  {
    name: "first run: paid mode without a wallet, a status bar click opens the setup guide at the wallet step and stays offline",
    profile,
    timeout: 60_000,
    fn: async (ctx) => {
      const item = await ctx.waitForStatusBarItem("Sell Compute: Offline");
      await item.first().hover();
      await ctx.page.locator(".monaco-hover", { hasText: "Click to open the setup guide" }).waitFor();
      await ctx.page.locator(".monaco-hover a", { hasText: "Open Dashboard" }).waitFor();
      await ctx.screenshot("status-bar-tooltip-first-run");
      await ctx.page.mouse.move(0, 0);
      await item.first().click();
      const guide = ctx.page.locator(".gettingStartedContainer");
      await guide.locator(".getting-started-step.expanded", { hasText: "Set up a wallet" }).waitFor({ timeout: 20_000 });
      await ctx.screenshot("walkthrough-wallet-step");
      // Still offline, and no failure to read in a toast.
      await ctx.page.waitForTimeout(1500);
      assert.equal(await ctx.statusBarItem("Sell Compute: Online").count(), 0);
      await ctx.statusBarItem("Sell Compute: Offline").first().waitFor();
      assert.equal(await ctx.page.locator(".notification-toast").count(), 0, "a notification was shown");

      // The dashboard's primary action is the way forward, not a Go Online bound to fail.
      const panel = await openPanel(ctx);
      await panel.locator('#online-button[data-action="wallet"]', { hasText: "Set Up Wallet" }).waitFor();
      await panel.locator("#free-mode-button:not([hidden])").waitFor();
      await panel.locator("#blocker", { hasText: "Paid mode needs a wallet" }).waitFor();
      assert.doesNotMatch(await panel.locator("body").textContent(), /SELL_COMPUTE_|headless/i, "no headless advice in VS Code");
    },
  },
  {
    name: "walkthrough: Open Setup Guide shows every step; the activity bar's summary leads to the dashboard",
    profile,
    fn: async (ctx) => {
      await ctx.waitForStatusBarItem("Sell Compute: Offline");
      await ctx.runCommand("Sell Compute: Open Setup Guide");
      const guide = ctx.page.locator(".gettingStartedContainer");
      await guide.locator(".getting-started-category", { hasText: "Get Started with Sell Compute" }).or(guide.getByText("Get Started with Sell Compute")).first().waitFor();
      for (const step of ["Install Ollama and a model", "Choose how you are paid", "Set up a wallet", "Set your prices", "Go online", "Test your provider"]) {
        await guide.locator(".getting-started-step", { hasText: step }).first().waitFor();
      }
      await ctx.screenshot("walkthrough");

      // The activity bar's summary: the state, what blocks going online, the way to the dashboard.
      await ctx.page.locator('.activitybar .action-item a[aria-label^="Sell Compute"]').click();
      const view = ctx.page.locator(".pane-body .monaco-list");
      await view.locator(".monaco-list-row", { hasText: "Offline" }).waitFor();
      await view.locator(".monaco-list-row", { hasText: "Paid mode needs a wallet" }).waitFor();
      await view.locator(".monaco-list-row", { hasText: "Open Dashboard" }).click();
      await openPanelFrame(ctx);
      await ctx.screenshot("summary-view");
    },
  },
];

async function waitForFile(file, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!fs.existsSync(file) || fs.statSync(file).size === 0) {
    if (Date.now() > deadline) throw new Error(`${file} was not written within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await new Promise((resolve) => setTimeout(resolve, 200)); // written whole
}
