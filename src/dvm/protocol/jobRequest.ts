/**
 * Parse, don't validate: an untrusted kind 5xxx event becomes a typed `JobRequest`, a reason a
 * person can read (sent back as 7000 error feedback), or "not ours" (dropped in silence).
 */
import { Result, Schema } from "effect"
import type { Config } from "../config"
import { printable } from "../printable"
import { decryptFrom, detectScheme, type EncryptionScheme } from "./encryption"
import { type NostrEvent, type Tag, tagValues } from "./nostrEvent"

/** Defaults of the limits a host may tighten or loosen (settings `sellCompute.limits.*`). */
export const MAX_PROMPT_CHARS = 100_000
export const MAX_EVENT_BYTES = 262_144
export const MAX_REQUEST_AGE_S = 600
/** Clocks drift; a request dated further ahead than this is not trusted. */
export const MAX_FUTURE_SKEW_S = 300

export interface JobParams {
  readonly model?: string
  readonly maxTokens?: number
  readonly temperature?: number
  readonly topK?: number
  readonly topP?: number
  readonly frequencyPenalty?: number
}

export interface JobRequest {
  readonly id: string
  readonly kind: number
  readonly customer: string
  readonly createdAt: number
  readonly prompt: string
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

/** Accepted `param` names (both spellings clients use) and how each is read. */
const paramSpecs: Record<string, { key: keyof JobParams; schema: Schema.Codec<unknown, string> }> = {
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
  const texts: Array<string> = []
  for (const tag of inputTags) {
    const type = tag[2] ?? "text"
    if (!TEXT_INPUT_TYPES.has(type)) {
      return invalid(`input type "${printable(type, 20)}" is not supported; send the prompt as an i tag of type "text"`, encryption)
    }
    if (tag[1] !== undefined && tag[1].trim() !== "") texts.push(tag[1])
  }
  if (texts.length === 0 && !encryption && event.content.trim() !== "") texts.push(event.content)
  const prompt = texts.join("\n\n")
  if (prompt.trim() === "") {
    return invalid('no prompt: send it as ["i", "<prompt>", "text"]', encryption)
  }
  if (prompt.length > maxPromptChars) {
    return invalid(`prompt is too long (${prompt.length} characters, limit ${maxPromptChars})`, encryption)
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
    prompt,
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
