// The panel, driven like a person would: open it from the command palette, see Ollama, wallet,
// identity and relays, click Go Online, watch the status bar turn online and a customer's job
// (published over the fixture relay by this test process) appear in the list, test the provider
// from the dashboard (Test My Provider), then go offline.
import assert from "node:assert/strict";
import { decode } from "nostr-tools/nip19";
import { Customer, env, ollamaControl, openPanel, waitForText } from "./support.mjs";

export default [
  {
    name: "panel: go online from the panel and serve a job",
    timeout: 90_000,
    fn: async (ctx) => {
      const relay = env(ctx, "SELL_COMPUTE_TEST_RELAY");
      const model = env(ctx, "SELL_COMPUTE_TEST_MODEL");
      await ctx.waitForStatusBarItem("Sell Compute: Offline");
      const panel = await openPanel(ctx);

      // Offline, with every check answered.
      await panel.locator('#provider-state[data-state="offline"]').waitFor();
      await panel.locator('#ollama-status[data-ready="true"]').waitFor();
      await waitForText(panel.locator("#ollama-status .detail"), model);
      await panel.locator('#wallet-status[data-ready="not-needed"]').waitFor();
      const npub = await waitForText(panel.locator("#npub"), /^npub1[02-9ac-hj-np-z]{58}$/);
      await panel.locator("#copy-npub:not([disabled])").waitFor();
      await panel.locator(`#relay-list li[data-url="${relay}"][data-status="offline"]`).waitFor();
      assert.equal(await panel.locator("#online-button").textContent(), "Go Online");
      assert.equal(await panel.locator("#provider-error").isHidden(), true);
      await ctx.screenshot("1-panel-offline");

      await panel.locator("#online-button").click();
      await ctx.waitForStatusBarItem("Sell Compute: Online");
      await panel.locator('#provider-state[data-state="online"]').waitFor();
      await panel.locator('#online-button[data-state="online"][aria-busy="false"]').waitFor();
      assert.equal(await panel.locator("#online-button").textContent(), "Go Offline");
      await panel.locator(`#relay-list li[data-url="${relay}"][data-status="connected"]`).waitFor();
      await ctx.screenshot("2-panel-online");

      const customer = new Customer(relay);
      try {
        await customer.listen();
        const prompt = `A job from the UI test at ${new Date().toISOString()}`;
        const job = await customer.publishJob(prompt);
        const row = panel.locator(`#job-list tr[data-job-id="${job.id}"]`);
        await row.waitFor();
        await panel.locator(`#job-list tr[data-job-id="${job.id}"][data-status="success"]`).waitFor();
        await panel.locator("#no-jobs").waitFor({ state: "hidden" });
        // Today's earnings count it (and the job is the history's newest).
        await waitForText(panel.locator('#earnings-table tr[data-metric="jobs"] td[data-period="today"]'), /^[1-9]/);
        assert.equal(await panel.locator("#job-list tbody tr").first().getAttribute("data-job-id"), job.id);
        assert.match(await row.locator("td").nth(1).getAttribute("title"), /^npub1/);

        // The customer got the answer Ollama gave, signed by the identity the panel shows.
        const result = await customer.result(job.id);
        assert.equal(result.content, `Echo from ${model}: ${prompt}`);
        assert.equal(result.pubkey, decode(npub).data, "the result is not signed by the npub in the panel");
        const ollama = await ollamaControl(ctx, "/state");
        assert.ok(ollama.requests.some((r) => r.prompt.includes(prompt)), "the prompt never reached Ollama");
        await ctx.screenshot("3-panel-job-served");
      } finally {
        customer.close();
      }

      // Test My Provider from the dashboard: the report, a line per relay, passed.
      await panel.locator("#test-provider").click();
      await panel.locator(`#self-test-list li[data-result="pass"]`).waitFor({ timeout: 60_000 });
      await waitForText(panel.locator("#self-test-summary"), /^1 of 1 relay passed/);
      assert.match(await panel.locator("#self-test-list li .relay-status").textContent(), /announcement, heartbeat, feedback and result all checked; round trip/);
      assert.equal(await panel.locator("#self-test-list li .url").textContent(), relay.replace(/\/+$/, ""));
      await ctx.screenshot("3b-panel-self-test");

      await panel.locator("#online-button").click();
      await ctx.waitForStatusBarItem("Sell Compute: Offline");
      await panel.locator('#provider-state[data-state="offline"]').waitFor();
      await panel.locator(`#relay-list li[data-url="${relay}"][data-status="offline"]`).waitFor();
      await ctx.screenshot("4-panel-offline-again");
    },
  },
];
