// Proves the test helpers in test/support work against the real clients we use in production code.
import assert from "node:assert/strict";
import WebSocket from "ws";
import { SimplePool, useWebSocketImplementation } from "nostr-tools/pool";
import { finalizeEvent, generateSecretKey, type Event, type EventTemplate } from "nostr-tools/pure";
import { Ollama, type GenerateResponse } from "ollama";
import { startRelay, type RelayProcess } from "../support/relay";
import { startOllamaStandIn, waitFor, type OllamaStandIn } from "../support/ollama-server";

useWebSocketImplementation(WebSocket);

const now = () => Math.floor(Date.now() / 1000);

function signed(template: Partial<EventTemplate>, sk = generateSecretKey()): Event {
  return finalizeEvent({ kind: 1, created_at: now(), tags: [], content: "", ...template }, sk);
}

/** A minimal raw client, to see exactly what the relay sends (nostr-tools filters events client-side). */
async function rawClient(url: string) {
  const ws = new WebSocket(url);
  const received: unknown[][] = [];
  ws.on("message", (data) => received.push(JSON.parse(data.toString())));
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  return {
    received,
    send: (message: unknown[]) => ws.send(JSON.stringify(message)),
    waitFor: (pred: (m: unknown[]) => boolean) => waitFor(() => received.some(pred), 5000, "relay message"),
    close: () => ws.close(),
  };
}

describe("test support: relay process", function () {
  this.timeout(20_000);
  let relay: RelayProcess;
  let pool: SimplePool;

  before(async () => {
    relay = await startRelay();
    pool = new SimplePool();
  });
  after(async () => {
    pool?.destroy();
    await relay?.stop();
  });

  it("delivers a published event to a live subscription and to a later query", async () => {
    const tag = `t${Math.random()}`;
    const got = new Promise<Event>((resolve) => {
      const sub = pool.subscribe([relay.url], { kinds: [1], "#t": [tag] }, {
        onevent: (event) => {
          sub.close();
          resolve(event);
        },
        oneose: () => void pool.publish([relay.url], event),
      });
    });
    const event = signed({ content: "hello", tags: [["t", tag]] });
    assert.equal((await got).id, event.id);
    const stored = await pool.querySync([relay.url], { ids: [event.id] });
    assert.deepEqual(stored.map((e) => e.content), ["hello"]);
  });

  it("rejects an event with a bad signature", async () => {
    const good = signed({ content: "original" });
    // A fresh object: nostr-tools marks verified events and a spread copy would carry the mark.
    const bad = { ...JSON.parse(JSON.stringify(good)), sig: good.sig.replace(/^./, (c: string) => (c === "0" ? "1" : "0")) };
    await assert.rejects(Promise.all(pool.publish([relay.url], bad)), /signature/);
    assert.deepEqual(await pool.querySync([relay.url], { ids: [good.id] }), []);
  });

  it("applies tag filters to live events, answers REQ with EOSE, and honours CLOSE", async () => {
    const client = await rawClient(relay.url);
    const me = `${"ab".repeat(32)}`;
    client.send(["REQ", "mine", { kinds: [5050], "#p": [me] }]);
    await client.waitFor((m) => m[0] === "EOSE" && m[1] === "mine");
    const other = signed({ kind: 5050, tags: [["p", "cd".repeat(32)]] });
    const forMe = signed({ kind: 5050, tags: [["p", me]] });
    await Promise.all(pool.publish([relay.url], other));
    await Promise.all(pool.publish([relay.url], forMe));
    await client.waitFor((m) => m[0] === "EVENT" && (m[2] as Event).id === forMe.id);
    assert.ok(!client.received.some((m) => m[0] === "EVENT" && (m[2] as Event).id === other.id));

    client.send(["CLOSE", "mine"]);
    const after = signed({ kind: 5050, tags: [["p", me]] });
    client.send(["EVENT", after]);
    await client.waitFor((m) => m[0] === "OK" && m[1] === after.id && m[2] === true);
    assert.ok(!client.received.some((m) => m[0] === "EVENT" && (m[2] as Event).id === after.id));
    client.close();
  });

  it("keeps only the newest version of a parameterised-replaceable event (31990)", async () => {
    const sk = generateSecretKey();
    const v1 = signed({ kind: 31990, created_at: now() - 10, tags: [["d", "svc"], ["k", "5050"]], content: "v1" }, sk);
    const v2 = signed({ kind: 31990, created_at: now(), tags: [["d", "svc"], ["k", "5050"]], content: "v2" }, sk);
    await Promise.all(pool.publish([relay.url], v2));
    await Promise.all(pool.publish([relay.url], v1)); // older: accepted as a duplicate, not stored
    const found = await pool.querySync([relay.url], { kinds: [31990], authors: [v1.pubkey], "#k": ["5050"] });
    assert.deepEqual(found.map((e) => e.content), ["v2"]);
  });

  it("restarts on the same port (with an empty store), also after a crash", async () => {
    const event = signed({ content: "before restart" });
    await Promise.all(pool.publish([relay.url], event));
    await relay.restart();
    relay.kill(); // SIGKILL
    await relay.restart();
    const client = await rawClient(relay.url);
    client.send(["REQ", "q", { ids: [event.id] }]);
    await client.waitFor((m) => m[0] === "EOSE");
    assert.ok(!client.received.some((m) => m[0] === "EVENT"));
    client.close();
  });
});

describe("test support: Ollama stand-in", function () {
  this.timeout(10_000);
  let server: OllamaStandIn;
  let ollama: Ollama;

  before(async () => {
    server = await startOllamaStandIn({ models: ["llama3.2:1b", "qwen2.5:0.5b"] });
    ollama = new Ollama({ host: server.url });
  });
  beforeEach(() => {
    server.reset();
    server.setMode("ok");
    server.delayMsPerToken = 0;
  });
  after(() => server?.close());

  it("lists models, shows one, and reports its version", async () => {
    const { models } = await ollama.list();
    assert.deepEqual(models.map((m) => m.name), ["llama3.2:1b", "qwen2.5:0.5b"]);
    assert.equal(models[0]?.details.family, "llama");
    assert.deepEqual((await ollama.show({ model: "qwen2.5:0.5b" })).capabilities, ["completion"]);
    assert.match((await ollama.version()).version, /^\d+\.\d+\.\d+$/);
  });

  it("gives each model the size and context length set for it, counts /api/show, and can hang it", async () => {
    server.modelFacts = { "qwen2.5:0.5b": { parameterSize: "494M", contextLength: 32768 } };
    try {
      const before = server.showRequests;
      const shown = await ollama.show({ model: "qwen2.5:0.5b" });
      assert.equal(shown.details.parameter_size, "494M");
      assert.equal((shown.model_info as unknown as Record<string, unknown>)["llama.context_length"], 32768);
      assert.equal((await ollama.list()).models.find((m) => m.name === "qwen2.5:0.5b")?.details.parameter_size, "494M");
      assert.equal((await ollama.show({ model: "llama3.2:1b" })).details.parameter_size, "1.2B", "the default for a model with no facts");
      assert.equal(server.showRequests - before, 2);
      server.showMode = "hang";
      const abort = new AbortController();
      const hanging = new Ollama({ host: server.url, fetch: (input, init) => fetch(input, { ...init, signal: abort.signal }) });
      const shownLater = hanging.show({ model: "qwen2.5:0.5b" }).then(() => "answered", () => "aborted");
      await waitFor(() => server.showRequests - before === 3, 5000, "the hanging /api/show to arrive");
      abort.abort();
      assert.equal(await shownLater, "aborted");
      assert.equal((await ollama.list()).models.length, 2, "the other endpoints still answer");
    } finally {
      server.modelFacts = {};
      server.showMode = "ok";
    }
  });

  it("streams a generation with Ollama's counts and records the request", async () => {
    server.responder = () => "one two three four five";
    const stream = await ollama.generate({ model: "llama3.2:1b", prompt: "say five words", stream: true, options: { temperature: 0 } });
    const chunks: GenerateResponse[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks[chunks.length - 1]!;
    assert.equal(chunks.map((c) => c.response).join(""), "one two three four five");
    assert.equal(last.done, true);
    assert.equal(last.done_reason, "stop");
    assert.equal(last.prompt_eval_count, 3);
    assert.equal(last.eval_count, 5);
    assert.ok(last.total_duration > 0);
    assert.deepEqual(server.requests.map((r) => [r.endpoint, r.model, r.prompt, r.options]), [
      ["generate", "llama3.2:1b", "say five words", { temperature: 0 }],
    ]);
    assert.deepEqual((await ollama.ps()).models.map((m) => m.name), ["llama3.2:1b"]);
  });

  it("caps output at num_predict (done_reason length), also without streaming and for chat", async () => {
    server.responder = () => "a b c d e f g";
    const whole = await ollama.generate({ model: "llama3.2:1b", prompt: "x", options: { num_predict: 3 } });
    assert.deepEqual([whole.response, whole.eval_count, whole.done_reason], ["a b c", 3, "length"]);
    const chat = await ollama.chat({ model: "llama3.2:1b", messages: [{ role: "user", content: "hi there" }], stream: true });
    let text = "";
    let final;
    for await (const part of chat) {
      text += part.message.content;
      if (part.done) final = part;
    }
    assert.equal(text, "a b c d e f g");
    assert.deepEqual([final?.eval_count, final?.prompt_eval_count], [7, 2]);
  });

  it("fails with HTTP 500 in fail500 mode and 404 for an unknown model", async () => {
    server.setMode("fail500");
    await assert.rejects(ollama.generate({ model: "llama3.2:1b", prompt: "x", stream: true }), (e: Error & { status_code?: number }) => {
      assert.equal(e.status_code, 500);
      assert.match(e.message, /llama runner/);
      return true;
    });
    server.setMode("ok");
    await assert.rejects(ollama.generate({ model: "nope", prompt: "x" }), { status_code: 404 });
  });

  it("counts a stalled stream aborted with the client's abort()", async () => {
    server.setMode("stall");
    const stream = await ollama.generate({ model: "llama3.2:1b", prompt: "x", stream: true });
    const reading = (async () => {
      for await (const _ of stream) void _;
    })();
    stream.abort();
    await assert.rejects(reading, { name: "AbortError" });
    await waitFor(() => server.aborted === 1, 5000, "abort to be counted");
  });

  it("counts a hanging request aborted through an injected fetch signal", async () => {
    // With no response headers yet, ollama.abort() can't reach the request: only the fetch signal can.
    server.setMode("hang");
    const controller = new AbortController();
    const client = new Ollama({
      host: server.url,
      fetch: (input, init) => fetch(input, { ...init, signal: controller.signal }),
    });
    const pending = client.generate({ model: "llama3.2:1b", prompt: "x", stream: true });
    await waitFor(() => server.requests.length === 1, 5000, "request to arrive");
    controller.abort();
    await assert.rejects(pending, { name: "AbortError" });
    await waitFor(() => server.aborted === 1, 5000, "abort to be counted");
    assert.equal(server.inFlight, 0);
  });

  it("is unreachable after stop() and answers again after start() on the same port", async () => {
    const { port } = server;
    await server.stop();
    await assert.rejects(ollama.list(), /fetch failed/);
    await server.start();
    assert.equal(server.port, port);
    assert.equal((await ollama.list()).models.length, 2);
  });
});
