// An HTTP server on 127.0.0.1 speaking enough of the OpenAI API for the `openai` npm client, as vLLM,
// llama.cpp's server, LM Studio and TGI do: GET /v1/models, POST /v1/chat/completions (SSE when
// streaming, with a last chunk carrying `usage` when `stream_options.include_usage` is asked for).
// No such server can run on these machines; tests start this instead.
//
// Text is "generated" by `responder` and streamed one whitespace-separated word per chunk (a
// "token"). usage.prompt_tokens = words in the messages (at least 1) plus `promptTokenOverhead`;
// usage.completion_tokens = chunks sent, capped by max_tokens (finish_reason "length", else "stop").
// `hold()` keeps streaming completions from sending tokens until `release()`, so a test can act while
// a job is certainly running. Every request is recorded with its Authorization header.
import type http from "node:http";
import { ModelServerStandIn, readJson, sendJson, sleep, wordsOf } from "./modelServerStandIn";

/**
 * How /v1/chat/completions behaves (/v1/models always answers, unless `apiKey` refuses it):
 * - ok: answer normally.
 * - error: HTTP `errorStatus` with `errorBody` (OpenAI's {"error": {...}} shape by default).
 * - hang: read the request and never answer, not even headers, until the client goes away.
 * - errorMidStream: (streaming) send the first token, then an SSE event {"error": {...}} and end.
 * - truncated: (streaming) send the tokens, then end without a finish_reason or [DONE].
 * - flood: (streaming) send one SSE line that never ends, 64 KiB at a time, until the client goes away.
 */
export type OpenAiMode = "ok" | "error" | "hang" | "errorMidStream" | "truncated" | "flood";

export interface ChatRequest {
  readonly path: string;
  readonly model: string;
  /** The message contents joined with "\n". */
  readonly prompt: string;
  readonly stream: boolean;
  /** The whole JSON body. */
  readonly body: Record<string, unknown>;
  readonly authorization: string | undefined;
}

export type Responder = (req: { model: string; prompt: string; body: Record<string, unknown> }) => string;

export const defaultResponder: Responder = ({ model, prompt }) => `Echo from ${model}: ${prompt}`;

export interface OpenAiStandInOptions {
  /** Model ids served by /v1/models; completions for others get 404 as vLLM answers. */
  models?: string[];
  mode?: OpenAiMode;
  /** Send usage in the last chunk when asked for (default true); false: a server that never does. */
  sendsUsage?: boolean;
  /** With mode "error": the status and body (default 500, {"error": {"message": ...}}). */
  errorStatus?: number;
  errorBody?: unknown;
  /** When set, every request must carry `Authorization: Bearer <apiKey>`, else 401. */
  apiKey?: string;
  /** Body fields this server refuses with 400 (as OpenAI itself refuses `top_k`). */
  refusedParams?: string[];
  delayMsPerToken?: number;
  responder?: Responder;
  port?: number;
  promptTokenOverhead?: number;
}

const openAiError = (message: string, type: string, param: string | null = null, code: string | null = null) => ({
  error: { message, type, param, code },
});

export class OpenAiStandIn extends ModelServerStandIn {
  models: string[];
  mode: OpenAiMode;
  sendsUsage: boolean;
  errorStatus: number;
  errorBody: unknown;
  apiKey: string | undefined;
  refusedParams: string[];
  /** GET /v1/models reads the request and never answers (a hung server), until the client goes away. */
  hangModels = false;
  delayMsPerToken: number;
  responder: Responder;
  promptTokenOverhead: number;
  /** Every /v1/chat/completions request, in order (failed and hung ones included). */
  readonly requests: ChatRequest[] = [];
  /** The Authorization header of every request to any path, in order (undefined when absent). */
  readonly authorizations: Array<string | undefined> = [];
  /** GET /v1/models requests received. */
  modelListings = 0;

  constructor(opts: OpenAiStandInOptions = {}) {
    super(opts.port);
    this.models = opts.models ?? ["qwen2.5-0.5b-instruct"];
    this.mode = opts.mode ?? "ok";
    this.sendsUsage = opts.sendsUsage ?? true;
    this.errorStatus = opts.errorStatus ?? 500;
    this.errorBody = opts.errorBody;
    this.apiKey = opts.apiKey;
    this.refusedParams = opts.refusedParams ?? [];
    this.delayMsPerToken = opts.delayMsPerToken ?? 0;
    this.responder = opts.responder ?? defaultResponder;
    this.promptTokenOverhead = opts.promptTokenOverhead ?? 0;
  }

  /** The base URL a client is given: http://127.0.0.1:<port>/v1. */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  /** Clears recorded requests and counters (not the options). */
  reset(): void {
    this.requests.length = 0;
    this.authorizations.length = 0;
    this.modelListings = 0;
    this.aborted = 0;
  }

  protected failureBody(message: string): unknown {
    return openAiError(message, "invalid_request_error");
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const authorization = req.headers.authorization;
    this.authorizations.push(authorization);
    if (this.apiKey !== undefined && authorization !== `Bearer ${this.apiKey}`) {
      // As OpenAI answers; the key shown is the one received, to prove clients never repeat it.
      const given = authorization?.replace(/^Bearer /, "") ?? "";
      return sendJson(res, 401, openAiError(`Incorrect API key provided: ${given}.`, "invalid_request_error", null, "invalid_api_key"));
    }
    if (req.method === "GET" && url.pathname === "/v1/models") {
      this.modelListings++;
      if (this.hangModels) return;
      return sendJson(res, 200, {
        object: "list",
        data: this.models.map((id) => ({ id, object: "model", created: 1_735_689_600, owned_by: "stand-in" })),
      });
    }
    if (req.method === "POST" && url.pathname === "/v1/chat/completions") return this.complete(url.pathname, authorization, req, res);
    sendJson(res, 404, openAiError(`Not found: ${req.method} ${url.pathname}`, "invalid_request_error"));
  }

  private async complete(path: string, authorization: string | undefined, req: http.IncomingMessage, res: http.ServerResponse) {
    const body = await readJson(req);
    const model = String(body.model ?? "");
    const stream = body.stream === true;
    const messages = Array.isArray(body.messages) ? (body.messages as Array<{ content?: unknown }>) : [];
    const prompt = messages.map((m) => String(m.content ?? "")).join("\n");
    this.requests.push({ path, model, prompt, stream, body, authorization });

    const { finish, gone } = this.track(res);
    const fail = (status: number, error: unknown) => {
      finish();
      sendJson(res, status, error);
    };

    const mode = this.mode;
    if (mode === "hang") return;
    if (mode === "error") {
      return fail(this.errorStatus, this.errorBody ?? openAiError("The model runner crashed (CUDA out of memory)", "server_error"));
    }
    const refused = this.refusedParams.find((p) => p in body);
    if (refused) return fail(400, openAiError(`Unrecognized request argument supplied: ${refused}`, "invalid_request_error", refused));
    if (!this.models.includes(model)) {
      return fail(404, openAiError(`The model \`${model}\` does not exist.`, "NotFoundError", "model", "model_not_found"));
    }

    const words = wordsOf(this.responder({ model, prompt, body }));
    const maxTokens = typeof body.max_tokens === "number" && body.max_tokens > 0 ? body.max_tokens : Infinity;
    const emitted = words.slice(0, maxTokens);
    const tokens = emitted.map((w, i) => (i === 0 ? w : ` ${w}`));
    const finishReason = emitted.length < words.length ? "length" : "stop";
    const usage = {
      prompt_tokens: Math.max(1, wordsOf(prompt).length) + this.promptTokenOverhead,
      completion_tokens: tokens.length,
      total_tokens: Math.max(1, wordsOf(prompt).length) + this.promptTokenOverhead + tokens.length,
    };
    const id = `chatcmpl-${Math.random().toString(36).slice(2)}`;
    const created = Math.floor(Date.now() / 1000);

    if (!stream) {
      if (this.delayMsPerToken > 0) await sleep(this.delayMsPerToken * tokens.length);
      if (gone()) return;
      finish();
      return sendJson(res, 200, {
        id,
        object: "chat.completion",
        created,
        model,
        choices: [{ index: 0, message: { role: "assistant", content: tokens.join("") }, finish_reason: finishReason }],
        ...(this.sendsUsage ? { usage } : {}),
      });
    }

    const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
      id,
      object: "chat.completion.chunk",
      created,
      model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
    const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
    res.flushHeaders(); // so the client has its stream (and can abort it) before the first token
    send(chunk({ role: "assistant", content: "" }, null));
    if (mode === "flood") {
      res.write("data: ");
      return this.flood(res, "x".repeat(64 * 1024));
    }
    const count = mode === "errorMidStream" ? Math.min(1, tokens.length) : tokens.length;
    for (const token of tokens.slice(0, count)) {
      await this.whileHeld(gone);
      if (this.delayMsPerToken > 0) await sleep(this.delayMsPerToken);
      if (gone()) return;
      send(chunk({ content: token }, null));
    }
    if (gone()) return;
    finish();
    if (mode === "errorMidStream") {
      send(openAiError("The model runner crashed mid-stream", "server_error"));
      return void res.end();
    }
    if (mode === "truncated") return void res.end();
    send(chunk({}, finishReason));
    const options = body.stream_options as { include_usage?: unknown } | undefined;
    if (this.sendsUsage && options?.include_usage === true) send({ id, object: "chat.completion.chunk", created, model, choices: [], usage });
    res.end("data: [DONE]\n\n");
  }
}

/** Creates and starts a stand-in; `close()` it in an after() hook. */
export async function startOpenAiStandIn(opts: OpenAiStandInOptions = {}): Promise<OpenAiStandIn> {
  const standIn = new OpenAiStandIn(opts);
  await standIn.start();
  return standIn;
}
