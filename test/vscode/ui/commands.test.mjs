// Commands and settings as a person meets them in the workbench:
// - the command palette offers Go Online only while offline and Go Offline only while online (the
//   extension's context keys and the manifest's when clauses, evaluated by VS Code itself), and
//   never Toggle Online (the status bar's click);
// - Settings shows Sell Compute's settings in six sections;
// - a failed Go Online (Ollama really down) raises one notification, and its Open Settings shows
//   the one setting at fault, sellCompute.ollama.host.
import assert from "node:assert/strict";
import { ollamaControl } from "./support.mjs";

// The "Sell Compute: …" commands the palette lists for what is typed (the list as drawn).
async function paletteCommands(ctx, typed, expected) {
  const { page } = ctx;
  const input = page.locator(".quick-input-widget input");
  await page.keyboard.press("F1");
  await input.waitFor();
  await input.fill(`>${typed}`);
  // The list is drawn once the expected command is in it; then it is read whole.
  await page.locator(".quick-input-list .monaco-list-row").filter({ hasText: expected }).first().waitFor();
  const labels = await page.locator(".quick-input-list .monaco-list-row .label-name").allTextContents();
  await page.keyboard.press("Escape");
  return labels.map((label) => label.trim()).filter((label) => label.startsWith("Sell Compute:"));
}

// Notification toasts about Sell Compute (the workbench may show its own).
const ourToasts = (ctx) => ctx.page.locator(".notification-toast").filter({ hasText: /Sell Compute|Cannot go online|Ollama/ });

export default [
  {
    name: "commands: the palette offers Go Online only while offline, Go Offline only while online",
    timeout: 90_000,
    fn: async (ctx) => {
      await ctx.waitForStatusBarItem("Sell Compute: Offline");
      const offline = await paletteCommands(ctx, "Sell Compute: Go O", "Go Online");
      assert.ok(offline.includes("Sell Compute: Go Online"), `offline, the palette lists ${offline.join(", ")}`);
      assert.ok(!offline.includes("Sell Compute: Go Offline"), "offline, the palette offers Go Offline");

      await ctx.runCommand("Sell Compute: Go Online");
      await ctx.waitForStatusBarItem("Sell Compute: Online", { timeout: 30_000 });
      try {
        const online = await paletteCommands(ctx, "Sell Compute: Go O", "Go Offline");
        assert.ok(online.includes("Sell Compute: Go Offline"), `online, the palette lists ${online.join(", ")}`);
        assert.ok(!online.includes("Sell Compute: Go Online"), "online, the palette still offers Go Online");
        await ctx.screenshot("commands-palette-online");

        // Every other command stays, Toggle Online is never there.
        const all = await paletteCommands(ctx, "Sell Compute:", "Export Nostr Secret Key");
        assert.ok(!all.includes("Sell Compute: Toggle Online"), "the palette offers Toggle Online");
        for (const title of ["Open Dashboard", "Show Log", "Copy Public Key", "Set Up Wallet", "Refresh Status"]) {
          assert.ok(all.includes(`Sell Compute: ${title}`), `the palette does not offer ${title}: ${all.join(", ")}`);
        }
      } finally {
        await ctx.runCommand("Sell Compute: Go Offline");
        await ctx.waitForStatusBarItem("Sell Compute: Offline", { timeout: 30_000 });
      }
    },
  },
  {
    name: "settings: Sell Compute's settings in six sections",
    timeout: 60_000,
    fn: async (ctx) => {
      const { page } = ctx;
      await ctx.waitForStatusBarItem("Sell Compute: Offline");
      await ctx.runCommand("Preferences: Open Settings (UI)");
      const editor = page.locator(".settings-editor");
      await editor.waitFor();
      await page.keyboard.type("@ext:sell-compute.sell-compute");
      const sections = ["Relays", "Model and Generation", "Pricing and Payment", "Wallet", "Limits and Access", "Provider Profile"];
      const toc = editor.locator(".settings-toc-container .monaco-list-row");
      for (const title of sections) await toc.filter({ hasText: title }).first().waitFor();
      const entries = (await toc.allTextContents()).map((text) => text.replace(/\s*\(\d+\)\s*$/, "").trim());
      const listed = entries.filter((text) => sections.includes(text));
      assert.deepEqual(listed, sections, `the table of contents lists ${entries.join(" | ")}`);
      // One served job kind, already chosen: nothing to add.
      const kinds = editor.locator(".setting-item-contents").filter({ hasText: "Supported Job Kinds" });
      await kinds.locator(".setting-list-row", { hasText: "5050" }).waitFor();
      assert.equal(await kinds.getByRole("button", { name: "Add Item" }).count(), 0, "Supported Job Kinds offers Add Item");
      await ctx.screenshot("settings-sections");
      // A section of the table of contents leads to its settings.
      await toc.filter({ hasText: "Pricing and Payment" }).first().click();
      await editor.locator(".setting-item-contents").filter({ hasText: "How customers pay for a job" }).first().waitFor();
    },
  },
  {
    name: "failed Go Online: one notification; Open Settings shows the setting at fault",
    timeout: 90_000,
    fn: async (ctx) => {
      const { page } = ctx;
      await ollamaControl(ctx, "/stop");
      try {
        await ctx.waitForStatusBarItem("Sell Compute: Offline");
        await ctx.runCommand("Sell Compute: Go Online");
        const toast = await ctx.waitForNotification(/Cannot go online: Ollama is not reachable/);
        // The attempt is over once the status bar carries the warning: nothing more is coming.
        await ctx.statusBarItem("Sell Compute: Offline").locator(".codicon-warning").waitFor();
        assert.equal(await ourToasts(ctx).count(), 1, `notifications: ${(await ourToasts(ctx).allTextContents()).join(" | ")}`);
        await ctx.screenshot("commands-go-online-failed");

        await toast.getByRole("button", { name: "Open Settings" }).click();
        const editor = page.locator(".settings-editor");
        await editor.waitFor();
        await editor.locator(".search-container", { hasText: "@id:sellCompute.ollama.host" }).waitFor();
        const shown = editor.locator(".settings-tree-container .setting-item-contents");
        await shown.filter({ hasText: "Address of the Ollama server" }).first().waitFor();
        assert.equal(await shown.count(), 1, `Settings shows ${await shown.count()} settings, not just the one at fault`);
        await ctx.screenshot("commands-open-setting-at-fault");
      } finally {
        await ollamaControl(ctx, "/start");
      }
    },
  },
];
