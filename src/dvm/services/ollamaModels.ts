/**
 * What Ollama says about its installed models, for the catalogue in our announcement: each model's
 * name and parameter size (`/api/tags`) and context length (`/api/show`, asked once per model
 * version and cached). Every request has a deadline and a size limit, every field is checked before
 * it is used, and a model whose details cannot be had is still listed, without them.
 */
import { Effect } from "effect"
import { keptAliveFetch } from "./keptAliveFetch"

export interface ModelDetails {
  readonly name: string
  /** As Ollama writes it, e.g. "8.0B". */
  readonly parameterSize?: string
  /** Tokens of context the model was trained for. */
  readonly contextLength?: number
}

/** Each request to Ollama ends within this. */
export const MODEL_INFO_TIMEOUT_MS = 5000
/** Answers larger than this are not read. */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024
/** Models listed at most (Ollama's own list has no bound). */
export const MAX_MODELS = 200
/** `/api/show` requests at once. */
const SHOW_CONCURRENCY = 4

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** A name, size or digest fit to go in an event: short, printable, no surprises. */
const plain = (value: unknown, max: number): string | undefined =>
  typeof value === "string" && value.length > 0 && value.length <= max && /^[\x21-\x7e]+$/.test(value) ? value : undefined

const readJson = async (response: Response): Promise<unknown> => {
  if (!response.ok) throw new Error(`HTTP ${response.status}`)
  return response.json()
}

const request = (host: string, path: string, signal: AbortSignal, body?: unknown) =>
  // Joined as text: `new URL(path, host)` would drop a path the host may have (a proxy's prefix).
  // keptAliveFetch bounds the answer: past MAX_ANSWER_BYTES it fails.
  keptAliveFetch(signal, MAX_ANSWER_BYTES)(`${host.replace(/\/+$/, "")}${path}`, {
    method: body === undefined ? "GET" : "POST",
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } })
  }).then(readJson)

interface Listed {
  readonly name: string
  /** Changes when the model is pulled again: the cache key with the name. */
  readonly version: string
  readonly parameterSize?: string
}

const listed = (answer: unknown): ReadonlyArray<Listed> => {
  if (!isRecord(answer) || !Array.isArray(answer.models)) throw new Error("/api/tags did not list models")
  const out: Array<Listed> = []
  for (const entry of answer.models.slice(0, MAX_MODELS)) {
    if (!isRecord(entry)) continue
    const name = plain(entry.name, 200)
    if (!name) continue
    const version = plain(entry.digest, 128) ?? plain(entry.modified_at, 64) ?? ""
    const parameterSize = isRecord(entry.details) ? plain(entry.details.parameter_size, 20) : undefined
    out.push({ name, version, ...(parameterSize ? { parameterSize } : {}) })
  }
  return out
}

/** `model_info["<architecture>.context_length"]`, when it is a whole number in reason. */
const contextLengthOf = (answer: unknown): number | undefined => {
  if (!isRecord(answer) || !isRecord(answer.model_info)) return undefined
  const info = answer.model_info
  const architecture = plain(info["general.architecture"], 64)
  const value = architecture ? info[`${architecture}.context_length`] : undefined
  return typeof value === "number" && Number.isInteger(value) && value > 0 && value <= 100_000_000 ? value : undefined
}

/**
 * Returns `details(host)`: the installed models with what Ollama says of each, or why Ollama could
 * not be read. Context lengths are remembered per model version, so each is asked once.
 */
export const makeModelDetails = () => {
  const contextLengths = new Map<string, number | undefined>()
  const details = (host: string): Effect.Effect<ReadonlyArray<ModelDetails>, string> =>
    Effect.gen(function*() {
      // The deadline is Effect's: timing out interrupts the request, whose signal aborts the fetch.
      const models = yield* Effect.tryPromise({
        try: (signal) => request(host, "/api/tags", signal).then(listed),
        catch: (cause) => `Ollama at ${host} did not list its models: ${cause instanceof Error ? cause.message : String(cause)}`.slice(0, 300)
      }).pipe(Effect.timeoutOrElse({
        duration: MODEL_INFO_TIMEOUT_MS,
        orElse: () => Effect.fail(`Ollama at ${host} did not list its models within ${MODEL_INFO_TIMEOUT_MS / 1000} s`)
      }))
      return yield* Effect.forEach(models, (model) =>
        Effect.gen(function*() {
          const key = `${host} ${model.name} ${model.version}`
          if (!contextLengths.has(key)) {
            const found = yield* Effect.tryPromise({
              try: (signal) => request(host, "/api/show", signal, { model: model.name }).then(contextLengthOf),
              catch: () => "unknown"
            }).pipe(Effect.timeout(MODEL_INFO_TIMEOUT_MS), Effect.orElseSucceed(() => "unknown" as const))
            // An answer is kept; a failure is asked again next time.
            if (found !== "unknown") contextLengths.set(key, found)
            if (contextLengths.size > MAX_MODELS * 4) contextLengths.delete(contextLengths.keys().next().value as string)
          }
          const contextLength = contextLengths.get(key)
          return {
            name: model.name,
            ...(model.parameterSize ? { parameterSize: model.parameterSize } : {}),
            ...(contextLength !== undefined ? { contextLength } : {})
          }
        }), { concurrency: SHOW_CONCURRENCY })
    })
  return { details }
}
