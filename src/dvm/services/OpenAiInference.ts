/**
 * The OpenAI-compatible backend of Inference (vLLM, llama.cpp's server, LM Studio, TGI, …), through
 * the official `openai` client: models from /v1/models, generation by streaming
 * /v1/chat/completions with `stream_options.include_usage`, so the server's own `usage` prices the
 * job. A server that sends no usage gets its tokens counted here (said once per model in the log).
 * The API key, when there is one, is read from Secrets on every call and never appears in a message:
 * whatever the server echoes back is redacted before it is shown.
 */
import { Effect } from "effect"
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError, OpenAI } from "openai"
import type { ChatCompletionCreateParamsStreaming } from "openai/resources/chat/completions"
import { InferenceError } from "../errors"
import { printable } from "../printable"
import { utf8Bytes } from "../promptTokens"
import { serverName, STATUS_TIMEOUT_MS } from "../modelServer"
import type { GenerationRequest, InferenceApi, InferenceStatus } from "./Inference"
import { MAX_MODEL_LIST_BYTES, readableModelNames } from "../modelNames"
import { generationReplyBytes, keptAliveFetch } from "./keptAliveFetch"
import type { Secrets } from "./Secrets"
import type { Settings } from "./Settings"

const NAME = serverName("openai")
/** Of an error reply, this much is read (the rest is not waited for). */
const MAX_ERROR_BODY_BYTES = 8192
/** Text past this many characters per allowed token means the server ignores max_tokens: the job is stopped. */
const MAX_CHARS_PER_TOKEN = 64
/** Without usage, the prompt is counted at this many UTF-8 bytes a token (English BPE tokenizers give about 4). */
const BYTES_PER_TOKEN = 4
/** Remembered (server, model) pairs and refused parameters; past this they are forgotten and said again. */
const MEMORY_LIMIT = 1000

/** Parameters not every server takes: one the server refuses is dropped for it from then on. */
type Optional = "top_k" | "stream_options"

/** Where and with what key: read per call, so a changed setting or key applies to the next job. */
interface Target {
  readonly baseUrl: string
  readonly apiKey: string | undefined
  readonly jobTimeoutMs: number
}

/** The error reply's body as the server sent it (at most MAX_ERROR_BODY_BYTES), kept for the message. */
interface ErrorBody {
  text?: string
}

const readAtMost = async (response: Response, limit: number): Promise<string> => {
  if (!response.body) return ""
  const reader = response.body.getReader()
  const parts: Array<Uint8Array> = []
  let size = 0
  try {
    while (size < limit) {
      const { done, value } = await reader.read()
      if (done) break
      parts.push(value)
      size += value.length
    }
  } finally {
    void reader.cancel().catch(() => undefined)
  }
  return new TextDecoder().decode(Buffer.concat(parts).subarray(0, limit))
}

/** A fetch that keeps the body of an error reply (bounded) for our message; the client gets the same text. */
const keepingErrorBody = (inner: typeof fetch, kept: ErrorBody): typeof fetch => async (input, init) => {
  const response = await inner(input, init)
  if (response.status < 400) return response
  const text = await readAtMost(response, MAX_ERROR_BODY_BYTES)
  kept.text = text
  return new Response(text, { status: response.status, statusText: response.statusText, headers: response.headers })
}

/**
 * What the server said went wrong, from the shapes the OpenAI-compatible servers use:
 * `{"error": {"message"}}` (OpenAI, llama.cpp, newer vLLM), `{"message"}` (older vLLM, LM Studio),
 * `{"error": "..."}` (TGI), `{"detail": [{"loc", "msg"}]}` (FastAPI validation: where and what,
 * never the `input` it may echo); else the text itself.
 */
const serverMessage = (body: string): string => {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return body.trim()
  }
  const o = (typeof parsed === "object" && parsed !== null ? parsed : {}) as Record<string, unknown>
  const error = o.error as Record<string, unknown> | string | undefined
  if (typeof error === "object" && error !== null && typeof error.message === "string") return error.message
  if (typeof error === "string") return error
  if (typeof o.message === "string") return o.message
  if (typeof o.detail === "string") return o.detail
  if (Array.isArray(o.detail)) {
    return o.detail.map((d: { loc?: unknown; msg?: unknown }) =>
      `${Array.isArray(d?.loc) ? d.loc.join(".") + ": " : ""}${typeof d?.msg === "string" ? d.msg : "invalid"}`).join("; ")
  }
  return body.trim()
}

/** The key never leaves in a message, whatever the server echoed; control characters are escaped. */
const shown = (text: string, apiKey: string | undefined): string =>
  printable(apiKey ? text.split(apiKey).join("[API key]") : text, 300)

const unreachable = (cause: unknown): boolean => {
  const texts: Array<string> = []
  for (let c: unknown = cause, depth = 0; c && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    texts.push(String((c as { code?: unknown }).code ?? ""), c instanceof Error ? c.message : String(c))
  }
  return texts.some((t) => /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ECONNRESET|socket hang up/i.test(t))
}

/** One readable sentence for a person: where the server is, what went wrong; never the key. */
const describe = (target: Target, cause: unknown, body: ErrorBody, timedOut = false): string => {
  const at = `${NAME} at ${target.baseUrl}`
  if (timedOut || cause instanceof APIConnectionTimeoutError) return `${at} did not answer within ${STATUS_TIMEOUT_MS / 1000} s`
  if (cause instanceof APIUserAbortError) return `${at}: the request was stopped`
  if (cause instanceof APIConnectionError) {
    if (unreachable(cause)) return `${NAME} is not reachable at ${target.baseUrl} (is it running?)`
    const reason = cause.cause instanceof Error ? cause.cause.message : cause.message
    return `${at} could not be reached: ${shown(reason, target.apiKey)}`
  }
  if (cause instanceof APIError && cause.status !== undefined) {
    const said = body.text !== undefined ? serverMessage(body.text) : cause.message.replace(/^\d{3} /, "")
    const detail = said ? `: ${shown(said, target.apiKey)}` : ""
    if (cause.status === 401 || cause.status === 403) {
      const hint = target.apiKey
        ? "refused the API key"
        : "asks for an API key (set one with \"Sell Compute: Set OpenAI API Key\", or SELL_COMPUTE_OPENAI_API_KEY headless)"
      return `${at} ${hint} (HTTP ${cause.status})${detail}`
    }
    if (cause.status === 404 && !said) return `${at} answered HTTP 404 (does the base URL end in /v1?)`
    return `${at} answered HTTP ${cause.status}${detail}`
  }
  const text = cause instanceof Error ? cause.message : String(cause)
  return `${at} failed: ${shown(text, target.apiKey)}`
}

/** Model ids as a person can read them, each once, bounded in number and length. */
const modelIds = (data: unknown): ReadonlyArray<string> =>
  Array.isArray(data) ? readableModelNames(data.map((entry) => (entry as { id?: unknown } | null)?.id)) : []

const isCount = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0

const remember = (set: Set<string>, key: string): boolean => {
  if (set.has(key)) return false
  if (set.size >= MEMORY_LIMIT) set.clear()
  set.add(key)
  return true
}

export const makeOpenAiInference = (settings: Settings["Service"], secrets: Secrets["Service"]): InferenceApi => {
  const currentTarget = Effect.gen(function*() {
    const config = yield* settings.current
    const apiKey = (yield* secrets.get("openaiApiKey"))?.trim() || undefined
    return { baseUrl: config["openai.baseUrl"], apiKey, jobTimeoutMs: config["limits.jobTimeoutSeconds"] * 1000 } satisfies Target
  })
  /** `${baseUrl} ${parameter}` the server refused: not sent to it again. */
  const refused = new Set<string>()
  /** `${baseUrl} ${model}` whose tokens were counted here: said once each. */
  const countedHere = new Set<string>()

  /**
   * A client for one call. Everything it could take from the environment (OPENAI_API_KEY, an
   * organization, a project, a log level) is set here instead: the user's OpenAI key must never
   * reach another server. Authorization is ours alone, also over OPENAI_CUSTOM_HEADERS: the key, or
   * no header at all without one. No retries: a job's timeout and its customer decide, not the client.
   */
  const client = (target: Target, fetch: typeof globalThis.fetch, timeoutMs: number) =>
    new OpenAI({
      baseURL: target.baseUrl,
      apiKey: target.apiKey ?? "unused",
      adminAPIKey: null,
      organization: null,
      project: null,
      webhookSecret: null,
      defaultHeaders: { Authorization: target.apiKey ? `Bearer ${target.apiKey}` : null },
      maxRetries: 0,
      timeout: timeoutMs,
      logLevel: "off",
      fetch
    })

  const status = Effect.gen(function*() {
    const target = yield* currentTarget
    const body: ErrorBody = {}
    const timeout = AbortSignal.timeout(STATUS_TIMEOUT_MS)
    return yield* Effect.tryPromise({
      try: async (interrupted) => {
        const signal = AbortSignal.any([interrupted, timeout])
        const page = await client(target, keepingErrorBody(keptAliveFetch(signal, MAX_MODEL_LIST_BYTES), body), STATUS_TIMEOUT_MS).models.list({ signal })
        const result: InferenceStatus = { backend: "openai", reachable: true, host: target.baseUrl, models: modelIds(page.data) }
        return result
      },
      catch: (cause) => describe(target, cause, body, timeout.aborted)
    }).pipe(
      Effect.catch((error) => Effect.succeed<InferenceStatus>({ backend: "openai", reachable: false, host: target.baseUrl, models: [], error }))
    )
  })

  /** One streamed completion; fails with the client's error, which the caller describes. */
  const stream = async (target: Target, request: GenerationRequest, body: ErrorBody, interrupted: AbortSignal) => {
    const { options } = request
    const sends = (p: Optional) => !refused.has(`${target.baseUrl} ${p}`)
    const params: ChatCompletionCreateParamsStreaming & { top_k?: number } = {
      model: request.model,
      messages: [{ role: "user", content: request.prompt }],
      stream: true,
      max_tokens: options.maxTokens,
      temperature: options.temperature,
      top_p: options.topP,
      frequency_penalty: options.frequencyPenalty,
      ...(sends("stream_options") ? { stream_options: { include_usage: true } } : {}),
      ...(sends("top_k") ? { top_k: options.topK } : {})
    }
    const maxChars = options.maxTokens * MAX_CHARS_PER_TOKEN + 4096
    const maxBytes = generationReplyBytes(options.maxTokens)
    const openai = client(target, keepingErrorBody(keptAliveFetch(interrupted, maxBytes), body), target.jobTimeoutMs + STATUS_TIMEOUT_MS)
    const chunks = await openai.chat.completions.create(params, { signal: interrupted })
    let text = ""
    let pieces = 0
    let finished = false
    let usage: { promptTokens: number; completionTokens: number } | undefined
    for await (const chunk of chunks) {
      if (interrupted.aborted) break // what was already read goes nowhere after a stop
      const choice: unknown = Array.isArray(chunk.choices) ? chunk.choices[0] : undefined
      const piece = (choice as { delta?: { content?: unknown } } | undefined)?.delta?.content
      if (typeof piece === "string" && piece !== "") {
        text += piece
        pieces++
        if (text.length > maxChars) throw new Error(`it sent more text than max_tokens (${options.maxTokens}) allows; the job was stopped`)
        request.onText?.(text)
      }
      if ((choice as { finish_reason?: unknown } | undefined)?.finish_reason) finished = true
      const u = chunk.usage as { prompt_tokens?: unknown; completion_tokens?: unknown } | null | undefined
      if (u && isCount(u.prompt_tokens) && isCount(u.completion_tokens)) {
        // Never more output than the customer allowed is charged, whatever the server claims.
        usage = { promptTokens: u.prompt_tokens, completionTokens: Math.min(u.completion_tokens, options.maxTokens) }
      }
    }
    return { text, pieces, finished, usage }
  }

  /** The parameter a 400/422 says the server does not take, if it is one we can go without. */
  const refusedParameter = (cause: unknown, body: ErrorBody, target: Target): Optional | undefined => {
    if (!(cause instanceof APIError) || (cause.status !== 400 && cause.status !== 422)) return undefined
    // What the server said, not the whole body: a body may echo the request, which names them all.
    const said = body.text !== undefined ? serverMessage(body.text) : cause.message
    return (["top_k", "stream_options"] as const).find((p) => said.includes(p) && !refused.has(`${target.baseUrl} ${p}`))
  }

  const generate = (request: GenerationRequest) =>
    Effect.gen(function*() {
      const target = yield* currentTarget
      // A server that refuses an optional parameter is asked again without it (at most once per
      // parameter), and never sent it again: `top_k` and `stream_options` where the server takes them.
      for (let attempt = 0; ; attempt++) {
        const body: ErrorBody = {}
        const outcome = yield* Effect.tryPromise({
          try: (interrupted) => stream(target, request, body, interrupted),
          catch: (cause) => ({ cause, body })
        }).pipe(Effect.result)
        if (outcome._tag === "Failure") {
          const { cause } = outcome.failure
          const parameter = attempt < 2 ? refusedParameter(cause, body, target) : undefined
          if (parameter) {
            remember(refused, `${target.baseUrl} ${parameter}`)
            yield* Effect.logInfo(`${NAME} at ${target.baseUrl} does not take \`${parameter}\`; it is no longer sent there`)
            continue
          }
          return yield* new InferenceError({ message: describe(target, cause, body) })
        }
        const { text, pieces, finished, usage } = outcome.success
        if (!finished) return yield* new InferenceError({ message: `${NAME} at ${target.baseUrl} ended the response before it was done` })
        if (usage) return { text, model: request.model, ...usage }
        if (remember(countedHere, `${target.baseUrl} ${request.model}`)) {
          yield* Effect.logWarning(
            `${NAME} at ${target.baseUrl} sends no token counts (usage) for ${printable(request.model)}: its jobs are priced from ` +
              `tokens counted here (one per streamed piece of text, the prompt at ${BYTES_PER_TOKEN} bytes a token)`
          )
        }
        return {
          text,
          model: request.model,
          promptTokens: Math.max(1, Math.ceil(utf8Bytes(request.prompt) / BYTES_PER_TOKEN)),
          completionTokens: pieces
        }
      }
    })

  return { status, generate }
}
