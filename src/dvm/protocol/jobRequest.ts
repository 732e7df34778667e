/**
 * Parse, don't validate: an untrusted kind 5xxx event becomes a typed `JobRequest`, a reason a
 * person can read (sent back as 7000 error feedback), or "not ours" (dropped in silence).
 */
import { Result, Schema } from "effect"
import type { Config } from "../config"
import { printable } from "../printable"
import { decryptFrom, detectScheme, type EncryptionScheme } from "./encryption"
import { type NostrEvent, type Tag, tagValues } from "./nostrEvent"
import { languageName, promptFor } from "./prompts"

export { JOB_KINDS, SUMMARIZATION_KIND, TEXT_GENERATION_KIND, TRANSLATION_KIND } from "./prompts"

/** Defaults of the limits a host may tighten or loosen (settings `sellCompute.limits.*`). */
export const MAX_PROMPT_CHARS = 100_000
export const MAX_EVENT_BYTES = 262_144
export const MAX_REQUEST_AGE_S = 600
/** Clocks drift; a request dated further ahead than this is not trusted. */
export const MAX_FUTURE_SKEW_S = 300
/** Inputs one request may have (each `event` or `job` input is a fetch from relays). */
export const MAX_INPUTS = 10

export interface JobParams {
  readonly model?: string
  readonly maxTokens?: number
  readonly temperature?: number
  readonly topK?: number
  readonly topP?: number
  readonly frequencyPenalty?: number
  /** Kind 5001: how long the summary should be, e.g. "2 sentences" (checked by `readLength`). */
  readonly length?: string
  /** Kind 5002: the ISO 639-1 code of the language to translate into, e.g. "es". */
  readonly language?: string
}

/**
 * One `i` input, in the order given: text as is, or a reference the pipeline fetches from relays
 * (jobInputs.ts) before the job runs: a note by id (`event`), or the result of another job (`job`).
 */
export type JobInput =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "event" | "job"; readonly id: string; readonly relay?: string }

export interface JobRequest {
  readonly id: string
  readonly kind: number
  readonly customer: string
  readonly createdAt: number
  /**
   * What goes to the model: the inputs in the kind's prompt template (prompts.ts). Empty while an
   * input still has to be fetched (`inputs` has an `event` or `job`); the pipeline fills it in.
   */
  readonly prompt: string
  readonly inputs: ReadonlyArray<JobInput>
  /** The request's `i` tags, echoed in the result when the request was in the clear. */
  readonly inputTags: ReadonlyArray<Tag>
  readonly params: JobParams
  readonly bidMsats?: number
  /** Relays the customer asked for replies on (`relays` tag). */
  readonly replyRelays: ReadonlyArray<string>
  /** Set when the request was encrypted: the reply uses the same scheme. */
  readonly encryption?: EncryptionScheme
  readonly event: NostrEvent
}

export type ParsedRequest =
  | { readonly _tag: "Job"; readonly job: JobRequest }
  /** `decrypted`: the request was encrypted and read, so `reason` may quote what it said (keep it secret). */
  | { readonly _tag: "Invalid"; readonly reason: string; readonly encryption?: EncryptionScheme; readonly decrypted?: true }
  | { readonly _tag: "NotForUs" }
  /** Not worth an answer: too old, from the future, or past its NIP-40 expiration. */
  | { readonly _tag: "Ignored"; readonly reason: string }

const invalid = (reason: string, encryption?: EncryptionScheme, decrypted = encryption !== undefined): ParsedRequest =>
  encryption ? { _tag: "Invalid", reason, encryption, ...(decrypted ? { decrypted: true as const } : {}) } : { _tag: "Invalid", reason }

const TEXT_INPUT_TYPES = new Set(["text", "prompt"])
const FETCHED_INPUT_TYPES = new Set(["event", "job"])
const EVENT_ID = /^[0-9a-f]{64}$/

/** Plain decimal numbers only: NumberFromString alone would read "" as 0 and "0x10" as 16. */
const DecimalString = Schema.String.check(Schema.isPattern(/^\s*-?\d+(\.\d+)?\s*$/, { message: "Expected a decimal number" }))

const numberParam = (minimum: number, maximum: number, integer = false) =>
  DecimalString.pipe(
    Schema.decodeTo(
      integer
        ? Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum, maximum }))
        : Schema.NumberFromString.check(Schema.isFinite(), Schema.isBetween({ minimum, maximum }))
    )
  )

/** Units a summary's `length` may be counted in, with the most of each we accept. */
const LENGTH_UNITS: Record<string, number> = { word: 2000, sentence: 100, paragraph: 20 }

/** `length` (kind 5001): a whole count and a unit, e.g. "2 sentences", "1 paragraph", "150 words". */
const LengthParam = Schema.String.check(Schema.makeFilter((text: string) => {
  const match = /^\s*(\d{1,4})\s+(word|sentence|paragraph)s?\s*$/i.exec(text)
  if (!match) return 'Expected a count and a unit, e.g. "2 sentences", "1 paragraph" or "150 words"'
  const most = LENGTH_UNITS[(match[2] as string).toLowerCase()] as number
  const count = Number(match[1])
  return count >= 1 && count <= most ? undefined : `Expected between 1 and ${most} ${match[2]}s`
}))

/** `language` (kind 5002): an ISO 639-1 code, lower case, that names a language. */
const LanguageParam = Schema.String.check(Schema.makeFilter((code: string) =>
  languageName(code) !== undefined ? undefined : 'Expected an ISO 639-1 language code such as "es" or "de"'
))

/** Accepted `param` names (both spellings clients use) and how each is read. */
const paramSpecs: Record<string, { key: keyof JobParams; schema: Schema.Codec<unknown, string> }> = {
  length: { key: "length", schema: LengthParam },
  language: { key: "language", schema: LanguageParam },
  model: { key: "model", schema: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(200)) },
  max_tokens: { key: "maxTokens", schema: numberParam(1, 1_000_000, true) },
  temperature: { key: "temperature", schema: numberParam(0, 2) },
  top_k: { key: "topK", schema: numberParam(1, 1000, true) },
  top_p: { key: "topP", schema: numberParam(0, 1) },
  frequency_penalty: { key: "frequencyPenalty", schema: numberParam(-2, 2) }
}

const readParams = (tags: ReadonlyArray<Tag>): Result.Result<JobParams, string> => {
  const params: Record<string, unknown> = {}
  for (const tag of tags) {
    if (tag[0] !== "param" || tag[1] === undefined) continue
    const spec = paramSpecs[tag[1].replace(/-/g, "_")]
    if (!spec) continue // unknown params are ignored, as NIP-90 leaves them open
    const raw = tag[2]
    if (raw === undefined) return Result.fail(`param ${tag[1]} has no value`)
    const decoded = Schema.decodeUnknownResult(spec.schema)(raw)
    if (Result.isFailure(decoded)) {
      const why = decoded.failure.message.split("\n")[0] ?? "invalid value"
      return Result.fail(`param ${printable(tag[1], 40)}="${printable(raw, 40)}" is not valid: ${why}`)
    }
    params[spec.key] = decoded.success
  }
  return Result.succeed(params as JobParams)
}

const BID = numberParam(0, Number.MAX_SAFE_INTEGER, true)

/** Decrypted `content` of an encrypted request: a JSON array of tags. */
const EncryptedTags = Schema.fromJsonString(Schema.Array(Schema.Array(Schema.String)))

export interface RequestLimits {
  readonly maxPromptChars: number
  readonly maxEventBytes: number
  readonly maxRequestAgeSeconds: number
}

export interface ParseContext {
  readonly ourPubkey: string
  readonly ourSecretKey: Uint8Array
  readonly supportedKinds: ReadonlyArray<number>
  readonly limits?: Partial<RequestLimits>
  /** Unix seconds; defaults to the clock. */
  readonly now?: number
}

export const parseJobRequest = (event: NostrEvent, ctx: ParseContext): ParsedRequest => {
  const targets = tagValues(event.tags, "p")
  if (targets.length > 0 && !targets.includes(ctx.ourPubkey)) return { _tag: "NotForUs" }
  const maxPromptChars = ctx.limits?.maxPromptChars ?? MAX_PROMPT_CHARS
  const maxEventBytes = ctx.limits?.maxEventBytes ?? MAX_EVENT_BYTES
  const maxAge = ctx.limits?.maxRequestAgeSeconds ?? MAX_REQUEST_AGE_S
  const now = ctx.now ?? Math.floor(Date.now() / 1000)
  if (event.created_at < now - maxAge) return { _tag: "Ignored", reason: `older than ${maxAge} s` }
  if (event.created_at > now + MAX_FUTURE_SKEW_S) return { _tag: "Ignored", reason: "dated in the future" }
  const expiration = Number(tagValues(event.tags, "expiration")[0])
  if (Number.isFinite(expiration) && expiration <= now) return { _tag: "Ignored", reason: "expired (NIP-40)" }
  const size = new TextEncoder().encode(JSON.stringify(event)).length
  if (size > maxEventBytes) return invalid(`request is too large (${size} bytes, limit ${maxEventBytes})`)
  if (!ctx.supportedKinds.includes(event.kind)) {
    // Only a request addressed to us is told; an open one is for the providers that serve its kind
    // (a subscription made before the kinds were narrowed still brings them).
    if (!targets.includes(ctx.ourPubkey)) return { _tag: "Ignored", reason: `kind ${event.kind} is not served here` }
    return invalid(`job kind ${event.kind} is not served here (supported: ${ctx.supportedKinds.join(", ")})`)
  }

  let tags: ReadonlyArray<Tag> = event.tags
  let encryption: EncryptionScheme | undefined
  if (event.tags.some((t) => t[0] === "encrypted")) {
    // An encrypted request not addressed to us by p tag cannot be for us: we could not read it.
    if (!targets.includes(ctx.ourPubkey)) return { _tag: "NotForUs" }
    encryption = detectScheme(event.content)
    let plaintext: string
    try {
      plaintext = decryptFrom(encryption, ctx.ourSecretKey, event.pubkey, event.content)
    } catch {
      return invalid(`could not decrypt the request with ${encryption.toUpperCase()}: was it encrypted to this provider's key?`, encryption, false)
    }
    const decoded = Schema.decodeUnknownResult(EncryptedTags)(plaintext)
    if (Result.isFailure(decoded)) {
      return invalid("the decrypted request is not a JSON array of tags", encryption)
    }
    tags = [...event.tags, ...decoded.success]
  }

  const inputTags = tags.filter((t) => t[0] === "i")
  const inputs: Array<JobInput> = []
  for (const tag of inputTags) {
    const type = tag[2] ?? "text"
    const value = tag[1]
    if (FETCHED_INPUT_TYPES.has(type)) {
      if (value === undefined || !EVENT_ID.test(value)) {
        return invalid(`an input of type "${type}" must be an event id (64 lower-case hex characters), not "${printable(value ?? "", 70)}"`, encryption)
      }
      const relay = tag[3]
      inputs.push({ type: type as "event" | "job", id: value, ...(relay !== undefined && /^wss?:\/\//.test(relay) ? { relay } : {}) })
      continue
    }
    if (!TEXT_INPUT_TYPES.has(type)) {
      return invalid(`input type "${printable(type, 20)}" is not supported; send the prompt as an i tag of type "text" (or a note as type "event", another job's result as type "job")`, encryption)
    }
    if (value !== undefined && value.trim() !== "") inputs.push({ type: "text", text: value })
  }
  if (inputs.length === 0 && !encryption && event.content.trim() !== "") inputs.push({ type: "text", text: event.content })
  if (inputs.length > MAX_INPUTS) return invalid(`too many inputs (${inputs.length}, limit ${MAX_INPUTS})`, encryption)
  const text = inputs.flatMap((i) => (i.type === "text" ? [i.text] : [])).join("\n\n")
  const fetched = inputs.some((i) => i.type !== "text")
  if (!fetched && text.trim() === "") {
    return invalid('no prompt: send it as ["i", "<prompt>", "text"]', encryption)
  }
  if (text.length > maxPromptChars) {
    return invalid(`prompt is too long (${text.length} characters, limit ${maxPromptChars})`, encryption)
  }

  const params = readParams(tags)
  if (Result.isFailure(params)) return invalid(params.failure, encryption)

  let bidMsats: number | undefined
  const bid = tagValues(tags, "bid")[0]
  if (bid !== undefined) {
    const decoded = Schema.decodeUnknownResult(BID)(bid)
    if (Result.isFailure(decoded)) return invalid(`bid "${printable(bid, 40)}" is not a whole number of millisats`, encryption)
    bidMsats = decoded.success
  }

  const replyRelays = tags
    .filter((t) => t[0] === "relays")
    .flatMap((t) => t.slice(1))
    .filter((url) => /^wss?:\/\//.test(url))
    .slice(0, 10)

  const job: JobRequest = {
    id: event.id,
    kind: event.kind,
    customer: event.pubkey,
    createdAt: event.created_at,
    prompt: fetched ? "" : promptFor(event.kind, text, params.success),
    inputs,
    inputTags: encryption ? [] : inputTags,
    params: params.success,
    replyRelays,
    event,
    ...(bidMsats !== undefined ? { bidMsats } : {}),
    ...(encryption ? { encryption } : {})
  }
  return { _tag: "Job", job }
}

/** What actually goes to the model: the job's parameters where given, capped and defaulted by our settings. */
export interface GenerationOptions {
  readonly maxTokens: number
  readonly temperature: number
  readonly topK: number
  readonly topP: number
  readonly frequencyPenalty: number
}

export const generationOptions = (params: JobParams, config: Config): GenerationOptions => ({
  maxTokens: Math.min(params.maxTokens ?? config["textGeneration.maxTokens"], config["textGeneration.maxTokens"]),
  temperature: params.temperature ?? config["textGeneration.temperature"],
  topK: params.topK ?? config["textGeneration.topK"],
  topP: params.topP ?? config["textGeneration.topP"],
  frequencyPenalty: params.frequencyPenalty ?? config["textGeneration.frequencyPenalty"]
})
