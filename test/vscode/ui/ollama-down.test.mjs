// Going online while Ollama is down: the provider stays offline and says why, in an error
// notification, in the panel and in the status bar. Ollama (the stand-in) really stops listening.
import assert from "node:assert/strict";
import { ollamaControl, openPanel, env } from "./support.mjs";

export default [
  {
    name: "ollama down: Go Online shows the reason",
    timeout: 90_000,
    fn: async (ctx) => {
      const host = env(ctx, "SELL_COMPUTE_TEST_OLLAMA");
      await ollamaControl(ctx, "/stop");
      try {
        await ctx.waitForStatusBarItem("Sell Compute: Offline");
        const panel = await openPanel(ctx);
        await panel.locator('#ollama-status[data-ready="false"]').waitFor();
        await panel.locator("#ollama-status .summary", { hasText: "Not reachable" }).waitFor();
        await ctx.screenshot("5-ollama-down-panel");

        await panel.locator("#online-button").click();
        const toast = await ctx.waitForNotification(/Cannot go online: Ollama is not reachable/);
        assert.ok((await toast.first().textContent()).includes(host), "the notification does not name the Ollama address");
        const error = panel.locator("#provider-error");
        await error.filter({ hasText: /Ollama is not reachable/ }).waitFor();
        assert.equal(await error.isVisible(), true);
        await panel.locator('#provider-state[data-state="offline"]').waitFor();
        await panel.locator('#online-button[data-state="offline"][aria-busy="false"]').waitFor();
        assert.equal(await panel.locator("#online-button").textContent(), "Go Online");
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
