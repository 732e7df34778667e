// Proves the OpenAI API stand-in (test/support/openai-server.ts) against the official `openai`
// client, with no product code: what the integration tests rely on it for.
import assert from "node:assert/strict";
import { APIError, OpenAI } from "openai";
import { startOpenAiStandIn, type OpenAiStandIn } from "../support/openai-server";
import { waitFor } from "../support/ollama-server";

describe("test support: OpenAI API stand-in", function () {
  this.timeout(20_000);
  let server: OpenAiStandIn;
  const client = (apiKey = "sk-test") => new OpenAI({ baseURL: server.baseUrl, apiKey, maxRetries: 0 });

  before(async () => {
    server = await startOpenAiStandIn({ models: ["qwen2.5-0.5b-instruct", "llama-3.1-8b"] });
  });
  after(async () => {
    await server?.close();
  });
  beforeEach(() => {
    server.reset();
    server.mode = "ok";
    server.sendsUsage = true;
    server.apiKey = undefined;
    server.refusedParams = [];
    server.release();
  });

  it("lists its models at /v1/models and records the Authorization header", async () => {
    const page = await client("sk-listing").models.list();
    assert.deepEqual(page.data.map((m) => m.id), ["qwen2.5-0.5b-instruct", "llama-3.1-8b"]);
    assert.equal(server.modelListings, 1);
    assert.deepEqual(server.authorizations, ["Bearer sk-listing"]);
  });

  it("streams a completion word by word, ending with a finish_reason and a usage chunk when asked", async () => {
    const stream = await client().chat.completions.create({
      model: "llama-3.1-8b",
      messages: [{ role: "user", content: "three little words" }],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 100,
    });
    const pieces: string[] = [];
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice?.delta.content) pieces.push(choice.delta.content);
      if (choice?.finish_reason) finish = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(pieces.join(""), "Echo from llama-3.1-8b: three little words");
    assert.equal(pieces.length, 6);
    assert.equal(finish, "stop");
    assert.deepEqual(usage, { prompt_tokens: 3, completion_tokens: 6, total_tokens: 9 });
    assert.equal(server.requests[0]?.prompt, "three little words");
    assert.equal(server.requests[0]?.body.max_tokens, 100);
  });

  it("caps at max_tokens (finish_reason length) and sends no usage in no-usage mode or when not asked", async () => {
    server.sendsUsage = false;
    const stream = await client().chat.completions.create({
      model: "llama-3.1-8b",
      messages: [{ role: "user", content: "a b c d e" }],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 2,
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""), "Echo from");
    assert.equal(chunks.at(-1)?.choices[0]?.finish_reason, "length");
    assert.ok(chunks.every((c) => !c.usage));

    server.sendsUsage = true;
    const unasked = await client().chat.completions.create({ model: "llama-3.1-8b", messages: [{ role: "user", content: "x" }], stream: true });
    for await (const chunk of unasked) assert.equal(chunk.usage ?? undefined, undefined);
  });

  it("answers errors as the OpenAI API does: a set status, an unknown model (404), a refused parameter (400), a wrong key (401)", async () => {
    server.mode = "error";
    server.errorStatus = 503;
    await assert.rejects(client().chat.completions.create({ model: "llama-3.1-8b", messages: [{ role: "user", content: "x" }] }), (e: unknown) => e instanceof APIError && e.status === 503);
    server.mode = "ok";
    await assert.rejects(client().chat.completions.create({ model: "nope", messages: [{ role: "user", content: "x" }] }), (e: unknown) => e instanceof APIError && e.status === 404);
    server.refusedParams = ["top_k"];
    const withTopK = { model: "llama-3.1-8b", messages: [{ role: "user" as const, content: "x" }], top_k: 5 };
    await assert.rejects(client().chat.completions.create(withTopK), (e: unknown) => e instanceof APIError && e.status === 400 && /top_k/.test(e.message));
    server.apiKey = "sk-right";
    await assert.rejects(client("sk-wrong").models.list(), (e: unknown) => e instanceof APIError && e.status === 401);
    assert.equal((await client("sk-right").models.list()).data.length, 2);
  });

  it("holds a streaming completion until released, and counts a client's abort", async () => {
    server.hold();
    const controller = new AbortController();
    const stream = await client().chat.completions.create(
      { model: "llama-3.1-8b", messages: [{ role: "user", content: "held" }], stream: true },
      { signal: controller.signal },
    );
    await waitFor(() => server.inFlight === 1, 5000, "the completion running");
    controller.abort();
    // The client ends an aborted stream quietly; what matters here is that the server saw it go.
    const received = [];
    for await (const chunk of stream) received.push(chunk);
    assert.ok(received.every((c) => !c.choices[0]?.delta.content), "no token was sent while held");
    await waitFor(() => server.aborted === 1, 5000, "the abort seen by the server");
    assert.equal(server.inFlight, 0);
  });

  it("floods: one SSE line that never ends, until the client goes away", async () => {
    server.mode = "flood";
    const controller = new AbortController();
    const response = await fetch(`${server.baseUrl}/chat/completions`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model: "llama-3.1-8b", messages: [{ role: "user", content: "x" }], stream: true }),
      signal: controller.signal,
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (text.length < 512 * 1024) text += new TextDecoder().decode((await reader.read()).value);
    assert.ok(!text.slice(-400 * 1024).includes("\n"), "no line end in the last 400 KiB");
    controller.abort();
    await waitFor(() => server.inFlight === 0, 5000, "the flood stopped");
  });

  it("never answers the model list when told to hang it", async () => {
    server.hangModels = true;
    try {
      await assert.rejects(new OpenAI({ baseURL: server.baseUrl, apiKey: "x", maxRetries: 0, timeout: 300 }).models.list(), /timed out/i);
      assert.equal(server.modelListings, 1);
    } finally {
      server.hangModels = false;
    }
  });

  it("sends an error event mid-stream, and ends a truncated stream without finish_reason", async () => {
    server.mode = "errorMidStream";
    const failing = await client().chat.completions.create({ model: "llama-3.1-8b", messages: [{ role: "user", content: "x" }], stream: true });
    await assert.rejects(async () => {
      for await (const _ of failing) void _;
    }, /crashed mid-stream/);
    server.mode = "truncated";
    const truncated = await client().chat.completions.create({ model: "llama-3.1-8b", messages: [{ role: "user", content: "x" }], stream: true });
    const finishes = [];
    for await (const chunk of truncated) finishes.push(chunk.choices[0]?.finish_reason);
    assert.ok(finishes.length > 1 && finishes.every((f) => f === null));
  });
});
