// Shared by the UI tests (not a test file itself): a NIP-90 customer in the test process, the
// Ollama stand-in's control, and panel helpers.
import path from "node:path";
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure";
import { SimplePool, useWebSocketImplementation } from "nostr-tools/pool";
import WebSocket from "ws";

useWebSocketImplementation(WebSocket);

export const env = (ctx, name) => {
  const value = ctx.env[name];
  if (!value) throw new Error(`${name} is not set: the fixtures (test/vscode/fixtures.mjs) did not run`);
  return value;
};

// Publishes kind-5050 jobs to one relay and collects what the provider sends back to it.
export class Customer {
  secretKey = generateSecretKey();
  pubkey = getPublicKey(this.secretKey);
  pool = new SimplePool();
  results = new Map(); // job id -> result event
  feedback = new Map(); // job id -> feedback events

  constructor(relay) {
    this.relay = relay;
  }

  listen() {
    return new Promise((resolve) => {
      this.sub = this.pool.subscribe([this.relay], { kinds: [6050, 7000], "#p": [this.pubkey] }, {
        onevent: (event) => {
          const jobId = event.tags.find((t) => t[0] === "e")?.[1];
          if (!jobId) return;
          if (event.kind === 6050) this.results.set(jobId, event);
          else this.feedback.set(jobId, [...(this.feedback.get(jobId) ?? []), event]);
        },
        oneose: () => resolve(),
      });
    });
  }

  async publishJob(prompt) {
    const job = finalizeEvent(
      { kind: 5050, created_at: Math.floor(Date.now() / 1000), tags: [["i", prompt, "text"]], content: "" },
      this.secretKey,
    );
    await Promise.all(this.pool.publish([this.relay], job));
    return job;
  }

  async result(jobId, timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs;
    while (!this.results.has(jobId)) {
      if (Date.now() > deadline) throw new Error(`no result for job ${jobId.slice(0, 8)} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return this.results.get(jobId);
  }

  close() {
    this.sub?.close();
    this.pool.destroy();
  }
}

export async function ollamaControl(ctx, action) {
  const url = `${env(ctx, "SELL_COMPUTE_TEST_OLLAMA_CONTROL")}${action}`;
  const res = await fetch(url, { method: action === "/state" ? "GET" : "POST" });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

// Opens the dashboard from the command palette and returns its content frame once the page script
// has drawn the host's state (the online button is enabled only then).
export async function openPanel(ctx) {
  await ctx.runCommand("Sell Compute: Open Dashboard");
  const panel = ctx.frameLocatorForWebview();
  await panel.locator("#online-button:not([disabled])").waitFor();
  return panel;
}

// Waits until the element's text matches; returns the text.
export async function waitForText(locator, pattern, timeout = 20_000) {
  await locator.filter({ hasText: pattern }).waitFor({ timeout });
  return (await locator.textContent()) ?? "";
}

export const STATUS_BAR_ID = "sell-compute.sell-compute.sellCompute.status";

// The dashboard's document as a Playwright Frame (for evaluate: axe-core, computed styles).
export async function webviewFrame(ctx) {
  const outer = await ctx.page.locator("iframe.webview.ready").filter({ visible: true }).elementHandle();
  const inner = await (await outer.contentFrame()).locator("iframe#active-frame").elementHandle();
  return inner.contentFrame();
}

// The extension's data dir in a code-server profile (context.globalStorageUri).
export const dataDirOf = (userDataDir) => path.join(userDataDir, "User/globalStorage/sell-compute.sell-compute");
