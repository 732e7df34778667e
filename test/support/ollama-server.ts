// An HTTP server on 127.0.0.1 speaking enough of Ollama's REST API for the `ollama` npm client:
// GET / | /api/version | /api/tags | /api/ps, POST /api/show | /api/generate | /api/chat (NDJSON when
// streaming). Ollama itself can't run on these machines; tests start this instead.
//
// Text is "generated" by `responder` and emitted one whitespace-separated word per chunk (a "token").
// prompt_eval_count = words in the prompt (at least 1) plus `promptTokenOverhead` (the tokens a real
// model's chat template adds); eval_count = chunks emitted, capped by options.num_predict when it is
// > 0 (then done_reason is "length", else "stop"). `hold()` keeps streaming generations from sending
// tokens until `release()`, so a test can act while a job is certainly still running.
import type http from "node:http";
import { ModelServerStandIn, readJson, sendJson, sleep, wordsOf } from "./modelServerStandIn";

/**
 * How /api/generate and /api/chat behave (the other endpoints always answer):
 * - ok: answer normally.
 * - fail500: HTTP 500 with {"error": "..."}.
 * - hang: read the request and never answer, not even headers, until the client goes away.
 * - stall: (streaming) send 200 headers, then nothing more until the client goes away; the client's
 *   iterator exists, so its abort() works (with "hang" it can't: see the test file). Non-streaming: as hang.
 * - errorMidStream: (streaming) send the first token, then an {"error": "..."} line and end.
 * - flood: (streaming) send one NDJSON line that never ends, 64 KiB at a time, until the client goes away.
 */
export type OllamaMode = "ok" | "fail500" | "hang" | "stall" | "errorMidStream" | "flood";

export interface GenerationRequest {
  endpoint: "generate" | "chat";
  model: string;
  /** For chat: the message contents joined with "\n". */
  prompt: string;
  options: Record<string, unknown>;
  stream: boolean;
  /** Chat messages as received (chat only). */
  messages?: Array<{ role: string; content: string }>;
  /** The whole JSON body. */
  body: Record<string, unknown>;
}

export type Responder = (req: { model: string; prompt: string; options: Record<string, unknown> }) => string;

export const defaultResponder: Responder = ({ model, prompt }) => `Echo from ${model}: ${prompt}`;

export interface OllamaStandInOptions {
  /** Model names served by /api/tags; requests for others get 404 like real Ollama. */
  models?: string[];
  mode?: OllamaMode;
  delayMsPerToken?: number;
  responder?: Responder;
  /** Listen on this port (default 0: pick a free one). */
  port?: number;
  /** Added to prompt_eval_count, as a model's chat template adds tokens to the prompt (default 0). */
  promptTokenOverhead?: number;
}

const VERSION = "0.12.6";
const FAKE_DIGEST = "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72";

function modelDetails(parameterSize = "1.2B") {
  return {
    parent_model: "",
    format: "gguf",
    family: "llama",
    families: ["llama"],
    parameter_size: parameterSize,
    quantization_level: "Q8_0",
  };
}

export class OllamaStandIn extends ModelServerStandIn {
  models: string[];
  mode: OllamaMode;
  delayMsPerToken: number;
  responder: Responder;
  /** Added to every prompt_eval_count reported (a chat template's tokens). */
  promptTokenOverhead: number;
  /** Per model: the parameter size /api/tags and /api/show give (default "1.2B") and the context length /api/show gives (default 131072). */
  modelFacts: Record<string, { parameterSize?: string; contextLength?: number }> = {};
  /** "hang": /api/show never answers (the other endpoints still do). */
  showMode: "ok" | "hang" = "ok";
  /** /api/show requests received (not cleared by reset()). */
  showRequests = 0;
  /** Every /api/generate and /api/chat request received, in order (including failed/hung ones). */
  readonly requests: GenerationRequest[] = [];
  private readonly loaded = new Set<string>();

  constructor(opts: OllamaStandInOptions = {}) {
    super(opts.port);
    this.models = opts.models ?? ["llama3.2:1b"];
    this.mode = opts.mode ?? "ok";
    this.delayMsPerToken = opts.delayMsPerToken ?? 0;
    this.responder = opts.responder ?? defaultResponder;
    this.promptTokenOverhead = opts.promptTokenOverhead ?? 0;
  }

  /** http://127.0.0.1:<port>, the `host` for `new Ollama({ host })`; stable across stop()/start(). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  setMode(mode: OllamaMode): void {
    this.mode = mode;
  }

  /** Clears recorded requests and counters (not models/mode/responder). */
  reset(): void {
    this.requests.length = 0;
    this.aborted = 0;
    this.loaded.clear();
  }

  protected failureBody(message: string): unknown {
    return { error: message };
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const route = `${req.method} ${url.pathname}`;
    if (req.method === "GET" && url.pathname === "/") {
      res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
      return void res.end("Ollama is running");
    }
    if (route === "GET /api/version") return sendJson(res, 200, { version: VERSION });
    if (route === "GET /api/tags") {
      return sendJson(res, 200, { models: this.models.map((name) => this.modelEntry(name)) });
    }
    if (route === "GET /api/ps") {
      const expires = new Date(Date.now() + 5 * 60_000).toISOString();
      const models = [...this.loaded]
        .filter((name) => this.models.includes(name))
        .map((name) => ({ ...this.modelEntry(name), expires_at: expires, size_vram: 1_321_098_329 }));
      return sendJson(res, 200, { models });
    }
    if (route === "POST /api/show") {
      this.showRequests++;
      const body = await readJson(req);
      if (this.showMode === "hang") return; // the socket is destroyed by stop()
      const name = String(body.model ?? body.name ?? "");
      if (!this.models.includes(name)) return sendJson(res, 404, { error: `model '${name}' not found` });
      const facts = this.modelFacts[name] ?? {};
      return sendJson(res, 200, {
        license: "",
        modelfile: `FROM ${name}\n`,
        parameters: "",
        template: "{{ .Prompt }}",
        details: modelDetails(facts.parameterSize),
        model_info: { "general.architecture": "llama", "llama.context_length": facts.contextLength ?? 131072 },
        capabilities: ["completion"],
        modified_at: "2025-01-01T00:00:00Z",
      });
    }
    if (route === "POST /api/generate" || route === "POST /api/chat") {
      return this.generate(route === "POST /api/chat" ? "chat" : "generate", req, res);
    }
    sendJson(res, 404, { error: "404 page not found" });
  }

  private modelEntry(name: string) {
    return {
      name,
      model: name,
      modified_at: "2025-01-01T00:00:00Z",
      size: 1_321_098_329,
      digest: FAKE_DIGEST,
      details: modelDetails(this.modelFacts[name]?.parameterSize),
    };
  }

  private async generate(endpoint: "generate" | "chat", req: http.IncomingMessage, res: http.ServerResponse) {
    const started = process.hrtime.bigint();
    const body = await readJson(req);
    const model = String(body.model ?? "");
    const options = (body.options ?? {}) as Record<string, unknown>;
    const stream = body.stream !== false; // Ollama streams unless told not to
    const messages = Array.isArray(body.messages) ? (body.messages as Array<{ role: string; content: string }>) : undefined;
    const prompt = endpoint === "chat" ? (messages ?? []).map((m) => m.content).join("\n") : String(body.prompt ?? "");
    this.requests.push({ endpoint, model, prompt, options, stream, messages, body });

    const { finish, gone } = this.track(res);
    const end = (text?: string) => {
      finish();
      res.end(text);
    };

    const mode = this.mode;
    if (mode === "hang") return; // answered only by the client going away
    if (mode === "fail500") {
      finish();
      return sendJson(res, 500, { error: "llama runner process has terminated: exit status 2" });
    }
    if (!model || !this.models.includes(model)) {
      finish();
      return sendJson(res, 404, { error: `model '${model}' not found` });
    }
    this.loaded.add(model);

    const words = wordsOf(this.responder({ model, prompt, options }));
    const numPredict = typeof options.num_predict === "number" ? options.num_predict : -1;
    const emitted = numPredict > 0 ? words.slice(0, numPredict) : words;
    const tokens = emitted.map((w, i) => (i === 0 ? w : ` ${w}`));
    const evalStarted = process.hrtime.bigint();
    const chunk = (text: string) =>
      endpoint === "chat"
        ? { model, created_at: new Date().toISOString(), message: { role: "assistant", content: text }, done: false }
        : { model, created_at: new Date().toISOString(), response: text, done: false };
    const finalChunk = (text: string) => {
      const now = process.hrtime.bigint();
      return {
        ...chunk(text),
        done: true,
        done_reason: emitted.length < words.length ? "length" : "stop",
        ...(endpoint === "generate" ? { context: [1, 2, 3] } : {}),
        total_duration: Number(now - started),
        load_duration: 1_000_000,
        prompt_eval_count: Math.max(1, wordsOf(prompt).length) + this.promptTokenOverhead,
        prompt_eval_duration: Number(evalStarted - started),
        eval_count: tokens.length,
        eval_duration: Number(now - evalStarted),
      };
    };

    if (!stream) {
      if (mode === "stall") return; // nothing to stall between: same as hang
      if (this.delayMsPerToken > 0) await sleep(this.delayMsPerToken * tokens.length);
      if (gone()) return;
      finish();
      return sendJson(res, 200, finalChunk(tokens.join("")));
    }

    res.writeHead(200, { "Content-Type": "application/x-ndjson" });
    res.flushHeaders(); // so the client gets its stream (and can abort it) before the first token
    if (mode === "stall") return;
    if (mode === "flood") {
      res.write(`{"model":"${model}","response":"`);
      return this.flood(res, "x".repeat(64 * 1024));
    }
    const count = mode === "errorMidStream" ? Math.min(1, tokens.length) : tokens.length;
    for (const token of tokens.slice(0, count)) {
      await this.whileHeld(gone);
      if (this.delayMsPerToken > 0) await sleep(this.delayMsPerToken);
      if (gone()) return;
      res.write(JSON.stringify(chunk(token)) + "\n");
    }
    if (gone()) return;
    if (mode === "errorMidStream") {
      return end(JSON.stringify({ error: "an error was encountered while running the model" }) + "\n");
    }
    end(JSON.stringify(finalChunk("")) + "\n");
  }
}

/** Creates and starts a stand-in; `close()` it in an after() hook. */
export async function startOllamaStandIn(opts: OllamaStandInOptions = {}): Promise<OllamaStandIn> {
  const standIn = new OllamaStandIn(opts);
  await standIn.start();
  return standIn;
}

/**
 * Polls `predicate` (which may be async, e.g. reading a job record) until it is true (e.g.
 * `() => ollama.aborted === 1`); rejects after `timeoutMs`.
 */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 5000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}
