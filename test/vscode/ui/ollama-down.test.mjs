// Ollama down: the dashboard says so and its primary action leads to the setup guide instead of a
// Go Online bound to fail; Go Online from the command palette stays offline and says why once, in
// one notification (naming the address), the same reason in the dashboard, a warning sign in the
// status bar. Ollama (the stand-in) really stops listening.
import assert from "node:assert/strict";
import { ollamaControl, openPanel, env } from "./support.mjs";

export default [
  {
    name: "ollama down: the dashboard leads to the setup guide; Go Online says why once",
    timeout: 90_000,
    fn: async (ctx) => {
      const host = env(ctx, "SELL_COMPUTE_TEST_OLLAMA");
      await ollamaControl(ctx, "/stop");
      try {
        await ctx.waitForStatusBarItem("Sell Compute: Offline");
        const panel = await openPanel(ctx);
        await panel.locator('#ollama-status[data-ready="false"]').waitFor();
        await panel.locator("#ollama-status .summary", { hasText: "Not reachable" }).waitFor();
        await panel.locator('#online-button[data-action="ollama"]', { hasText: "Open Setup Guide" }).waitFor();
        await panel.locator("#blocker", { hasText: `Ollama is not reachable at ${host}` }).waitFor();
        await ctx.screenshot("5-ollama-down-panel");

        await ctx.runCommand("Sell Compute: Go Online");
        const toast = await ctx.waitForNotification(/Cannot go online: Ollama is not reachable/);
        assert.ok((await toast.first().textContent()).includes(host), "the notification does not name the Ollama address");
        assert.equal(await toast.count(), 1, "one notification");
        const error = panel.locator("#provider-error");
        await error.filter({ hasText: /Ollama is not reachable/ }).waitFor();
        assert.equal(await error.isVisible(), true);
        // The reason once in the dashboard: the blocker notice gives way to the error.
        assert.equal(await panel.locator("#blocker").isVisible(), false);
        await panel.locator('#provider-state[data-state="offline"]').waitFor();
        assert.equal(await ctx.statusBarItem("Sell Compute: Online").count(), 0);
        // The status bar's offline item now carries a warning sign.
        await ctx.statusBarItem("Sell Compute: Offline").locator(".codicon-warning").waitFor();
        await ctx.screenshot("6-ollama-down-error");
      } finally {
        await ollamaControl(ctx, "/start");
      }
    },
  },
];
