/**
 * Every setting of Sell Compute, described once: its id (relative to `sellCompute.`), its Schema
 * (type and range), its default and the text shown in VS Code's Settings. Both hosts decode their
 * raw values (workspace configuration or a JSON file) through `decodeConfig`. package.json's
 * `contributes.configuration` is generated from this table (`npm run sync:settings`, one entry per
 * section of SETTING_SECTIONS) and a unit test checks it is in sync.
 */
import { Result, Schema } from "effect"
import { SUMMARIZATION_KIND, TEXT_GENERATION_KIND, TRANSLATION_KIND } from "./protocol/prompts"

export const SETTINGS_SECTION = "sellCompute"

const RelayUrl = Schema.String.check(
  Schema.isPattern(/^wss?:\/\/[^\s/?#]+(?:[/?#]\S*)?$/, { message: "must be a ws:// or wss:// URL" })
)
const HttpUrl = Schema.String.check(
  Schema.isPattern(/^https?:\/\/[^\s/?#]+(?:[/?#]\S*)?$/, { message: "must be an http:// or https:// URL" })
)
const Pubkey = Schema.String.check(
  Schema.isPattern(/^(?:[0-9a-f]{64}|npub1[02-9ac-hj-np-z]{58})$/, { message: "must be a hex public key or an npub" })
)
const ModelName = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(200))
const intBetween = (minimum: number, maximum: number) =>
  Schema.Int.check(Schema.isBetween({ minimum, maximum }))
const numberBetween = (minimum: number, maximum: number) =>
  Schema.Number.check(Schema.isBetween({ minimum, maximum }))

export const PAYMENT_MODES = ["pay-after", "pay-first", "free"] as const
export const WALLET_BACKENDS = ["spark", "nwc"] as const
export const SPARK_NETWORKS = ["MAINNET", "REGTEST"] as const
export const INFERENCE_BACKENDS = ["ollama", "openai"] as const

/**
 * The NIP-90 job request kinds this provider serves, each with what Settings says of it. The one
 * list: `sellCompute.supportedJobKinds` accepts and offers exactly these, so serving a new kind is
 * one entry here.
 */
export const SERVED_JOB_KINDS = [
  { kind: TEXT_GENERATION_KIND, description: "Text generation: a prompt in, the model's text out." },
  { kind: SUMMARIZATION_KIND, description: "Summarization: text, a note or another job's result in, a summary out (param `length`)." },
  { kind: TRANSLATION_KIND, description: "Translation: text, a note or another job's result in, the translation out (param `language`; English when none)." }
] as const
const servedKinds = SERVED_JOB_KINDS.map((k) => k.kind)

/**
 * The sections of VS Code's Settings, in the order shown (package.json's `contributes.configuration`
 * is an array with one entry each). Within a section, settings keep the order of the table below.
 */
export const SETTING_SECTIONS = {
  relays: "Relays",
  model: "Model and Generation",
  pricing: "Pricing and Payment",
  wallet: "Wallet",
  limits: "Limits and Access",
  profile: "Provider Profile"
} as const
export type SectionId = keyof typeof SETTING_SECTIONS

/** `enum` with an `enumDescriptions` entry for every value (VS Code shows it in the dropdown). */
const enumFacts = <const V extends string>(values: ReadonlyArray<V>, text: Record<V, string>) => ({
  enum: [...values],
  enumDescriptions: values.map((value) => text[value])
})
const PAYMENT_MODE_TEXT: Record<(typeof PAYMENT_MODES)[number], string> = {
  "pay-after": "Run the job first; the result carries a Lightning invoice for what it cost.",
  "pay-first": "Ask for the most the job can cost before any work starts; run it once paid.",
  free: "No invoice: jobs are served free (no wallet needed)."
}
const WALLET_BACKEND_TEXT: Record<(typeof WALLET_BACKENDS)[number], string> = {
  spark: "A Spark wallet on this machine; its recovery phrase is kept in the OS secret store.",
  nwc: "Any Nostr Wallet Connect (NIP-47) wallet, by its connection string."
}
const SPARK_NETWORK_TEXT: Record<(typeof SPARK_NETWORKS)[number], string> = {
  MAINNET: "Bitcoin mainnet: real money.",
  REGTEST: "Spark's test network: test money, for trying things out."
}

/** What package.json's contributes.configuration must say about a setting (besides its default). */
interface SettingSpec<S extends Schema.Top> {
  readonly schema: S
  readonly default: S["Type"]
  readonly description: string
  /** JSON-schema facts VS Code shows and validates; the unit test compares them with package.json. */
  readonly json: Record<string, unknown>
  /** VS Code scope: "application" for money, keys, endpoints and abuse limits (one value per machine user). */
  readonly scope: "application" | "window"
  /** The section of VS Code's Settings it is shown in. */
  readonly section: SectionId
}

const setting = <S extends Schema.Top>(spec: SettingSpec<S>) => spec

export const settings = {
  relays: setting({
    schema: Schema.Array(RelayUrl).check(Schema.isMinLength(1), Schema.isMaxLength(20)),
    default: ["wss://relay.damus.io", "wss://nos.lol", "wss://relay.primal.net"],
    description: "Nostr relays to listen on for jobs and to publish results, status updates and the provider announcement to.",
    json: { type: "array", items: { type: "string", pattern: "^wss?://" }, minItems: 1, maxItems: 20 },
    scope: "application",
    section: "relays"
  }),
  supportedJobKinds: setting({
    schema: Schema.Array(Schema.Literals(servedKinds)).check(Schema.isMinLength(1), Schema.isUnique()),
    default: [...servedKinds],
    description: "NIP-90 job request kinds to serve, all on the same model: `5050` text generation, `5001` summarization (param `length`), `5002` translation (param `language`).",
    json: {
      type: "array",
      items: { type: "number", enum: servedKinds, enumDescriptions: SERVED_JOB_KINDS.map((k) => k.description) },
      minItems: 1,
      uniqueItems: true
    },
    scope: "window",
    section: "model"
  }),
  "ollama.host": setting({
    schema: HttpUrl,
    default: "http://127.0.0.1:11434",
    description: "Address of the Ollama server that runs the jobs (when `inference.backend` is `ollama`).",
    json: { type: "string" },
    scope: "application",
    section: "model"
  }),
  "inference.backend": setting({
    schema: Schema.Literals(INFERENCE_BACKENDS),
    default: "ollama",
    description: "What runs the jobs. `ollama`: Ollama at `ollama.host`. `openai`: any server speaking the OpenAI API (vLLM, llama.cpp's server, LM Studio, TGI) at `openai.baseUrl`; its API key, if it needs one, is kept in the OS secret store (command Set OpenAI API Key).",
    json: {
      type: "string",
      enum: [...INFERENCE_BACKENDS],
      enumDescriptions: [
        "Ollama, at sellCompute.ollama.host.",
        "A server speaking the OpenAI API (vLLM, llama.cpp server, LM Studio, TGI), at sellCompute.openai.baseUrl."
      ]
    },
    scope: "application",
    section: "model"
  }),
  "openai.baseUrl": setting({
    schema: HttpUrl,
    default: "http://127.0.0.1:8000/v1",
    description: "Base URL of the OpenAI-compatible server, up to and including `/v1` (e.g. `http://127.0.0.1:8000/v1` for vLLM, `http://127.0.0.1:8080/v1` for llama.cpp, `http://127.0.0.1:1234/v1` for LM Studio). Used when `inference.backend` is `openai`.",
    json: { type: "string" },
    scope: "application",
    section: "model"
  }),
  "textGeneration.model": setting({
    schema: Schema.String,
    default: "",
    description: "Model used when a job names none (or names one the model server does not have). Empty: the first model the server lists.",
    json: { type: "string" },
    scope: "window",
    section: "model"
  }),
  "textGeneration.models": setting({
    schema: Schema.Array(ModelName).check(Schema.isMaxLength(100)),
    default: [],
    description: "Models offered to customers (Ollama names, e.g. `llama3.2` or `qwen2.5:7b`). Empty: every installed model. Only installed models in this list are announced and run.",
    json: { type: "array", items: { type: "string", minLength: 1, maxLength: 200 }, maxItems: 100 },
    scope: "application",
    section: "model"
  }),
  "textGeneration.maxTokens": setting({
    schema: intBetween(1, 32768),
    default: 512,
    description: "Most tokens generated for one job. A job's own `max_tokens` is capped at this.",
    json: { type: "integer", minimum: 1, maximum: 32768 },
    scope: "window",
    section: "model"
  }),
  "textGeneration.temperature": setting({
    schema: numberBetween(0, 2),
    default: 0.5,
    description: "Sampling temperature used when a job gives none.",
    json: { type: "number", minimum: 0, maximum: 2 },
    scope: "window",
    section: "model"
  }),
  "textGeneration.topK": setting({
    schema: intBetween(1, 1000),
    default: 50,
    description: "Top-k sampling used when a job gives none.",
    json: { type: "integer", minimum: 1, maximum: 1000 },
    scope: "window",
    section: "model"
  }),
  "textGeneration.topP": setting({
    schema: numberBetween(0, 1),
    default: 0.7,
    description: "Top-p (nucleus) sampling used when a job gives none.",
    json: { type: "number", minimum: 0, maximum: 1 },
    scope: "window",
    section: "model"
  }),
  "textGeneration.frequencyPenalty": setting({
    schema: numberBetween(-2, 2),
    default: 1,
    description: "Frequency penalty used when a job gives none.",
    json: { type: "number", minimum: -2, maximum: 2 },
    scope: "window",
    section: "model"
  }),
  "pricing.minPriceSats": setting({
    schema: intBetween(0, 1_000_000),
    default: 3,
    description: "Least a job costs, in sats.",
    json: { type: "integer", minimum: 0, maximum: 1000000 },
    scope: "application",
    section: "pricing"
  }),
  "pricing.pricePer1kTokens": setting({
    schema: numberBetween(0, 1_000_000),
    default: 2,
    description: "Price per 1,000 tokens (prompt + generated, as counted by the model server), in sats.",
    json: { type: "number", minimum: 0, maximum: 1000000 },
    scope: "application",
    section: "pricing"
  }),
  "pricing.perModel": setting({
    schema: Schema.Record(Schema.String, numberBetween(0, 1_000_000)).check(
      Schema.isMaxProperties(100),
      Schema.makeFilter((prices: object) => Object.keys(prices).every((m) => m.length >= 1 && m.length <= 200) || "Expected model names of 1 to 200 characters")
    ),
    default: {},
    description: "Price per 1,000 tokens for particular models, in sats, e.g. `{\"llama3.2\": 1, \"qwen2.5:32b\": 20}`. Models not listed cost `pricing.pricePer1kTokens`.",
    json: { type: "object", additionalProperties: { type: "number", minimum: 0, maximum: 1000000 }, maxProperties: 100 },
    scope: "application",
    section: "pricing"
  }),
  "payment.mode": setting({
    schema: Schema.Literals(PAYMENT_MODES),
    default: "pay-after",
    description: "How customers pay for a job. `pay-after` and `pay-first` need a wallet (run **Sell Compute: Set Up Wallet**, see `#sellCompute.wallet.backend#`); `free` needs none.",
    json: { type: "string", ...enumFacts(PAYMENT_MODES, PAYMENT_MODE_TEXT) },
    scope: "application",
    section: "pricing"
  }),
  "payment.invoiceExpirySeconds": setting({
    schema: intBetween(60, 86_400),
    default: 600,
    description: "How long an invoice can be paid, in seconds. Unpaid after this, it counts as expired.",
    json: { type: "integer", minimum: 60, maximum: 86400 },
    scope: "application",
    section: "pricing"
  }),
  "wallet.backend": setting({
    schema: Schema.Literals(WALLET_BACKENDS),
    default: "spark",
    description: "Wallet that issues the invoices when `#sellCompute.payment.mode#` is a paid mode. Its secret (a Spark recovery phrase or an NWC connection string) is never a setting: **Sell Compute: Set Up Wallet** keeps it in the OS secret store.",
    json: { type: "string", ...enumFacts(WALLET_BACKENDS, WALLET_BACKEND_TEXT) },
    scope: "application",
    section: "wallet"
  }),
  "spark.network": setting({
    schema: Schema.Literals(SPARK_NETWORKS),
    default: "MAINNET",
    description: "Network of the Spark wallet (when `#sellCompute.wallet.backend#` is `spark`).",
    json: { type: "string", ...enumFacts(SPARK_NETWORKS, SPARK_NETWORK_TEXT) },
    scope: "application",
    section: "wallet"
  }),
  maxConcurrentJobs: setting({
    schema: intBetween(1, 64),
    default: 1,
    description: "Jobs run on Ollama at the same time. Further jobs wait their turn.",
    json: { type: "integer", minimum: 1, maximum: 64 },
    scope: "window",
    section: "limits"
  }),
  "limits.maxQueuedJobs": setting({
    schema: intBetween(0, 1000),
    default: 20,
    description: "Jobs that may wait for Ollama. When the queue is full, new customers are told the provider is busy.",
    json: { type: "integer", minimum: 0, maximum: 1000 },
    scope: "application",
    section: "limits"
  }),
  "limits.jobsPerMinutePerCustomer": setting({
    schema: intBetween(1, 10_000),
    default: 10,
    description: "Jobs one customer may send per minute; more are refused with when to retry.",
    json: { type: "integer", minimum: 1, maximum: 10000 },
    scope: "application",
    section: "limits"
  }),
  "limits.jobsInFlightPerCustomer": setting({
    schema: intBetween(1, 100),
    default: 2,
    description: "Jobs of one customer running or waiting at the same time.",
    json: { type: "integer", minimum: 1, maximum: 100 },
    scope: "application",
    section: "limits"
  }),
  "limits.maxPromptChars": setting({
    schema: intBetween(100, 1_000_000),
    default: 16_000,
    description: "Longest prompt accepted, in characters. The result repeats the prompt, and many relays refuse events over 64 KB.",
    json: { type: "integer", minimum: 100, maximum: 1000000 },
    scope: "application",
    section: "limits"
  }),
  "limits.maxEventBytes": setting({
    schema: intBetween(1024, 4_194_304),
    default: 24_576,
    description: "Largest job request accepted, in bytes of JSON. The result carries the whole request, and many relays refuse events over 64 KB.",
    json: { type: "integer", minimum: 1024, maximum: 4194304 },
    scope: "application",
    section: "limits"
  }),
  "limits.maxRequestAgeSeconds": setting({
    schema: intBetween(10, 86_400),
    default: 600,
    description: "Requests older than this (by their `created_at`) are ignored: the customer has likely moved on.",
    json: { type: "integer", minimum: 10, maximum: 86400 },
    scope: "application",
    section: "limits"
  }),
  "limits.jobTimeoutSeconds": setting({
    schema: intBetween(5, 3600),
    default: 300,
    description: "Longest a job may run on Ollama before it is stopped and the customer told.",
    json: { type: "integer", minimum: 5, maximum: 3600 },
    scope: "application",
    section: "limits"
  }),
  "streaming.intervalMs": setting({
    schema: intBetween(0, 60_000),
    default: 2000,
    description: "While the model writes, the customer is sent the text so far (NIP-90 `partial` feedback) at most this often, in milliseconds. `0` turns it off.",
    json: { type: "integer", minimum: 0, maximum: 60000 },
    scope: "application",
    section: "model"
  }),
  "profile.name": setting({
    schema: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(100)),
    default: "Sell Compute",
    description: "The provider's name in its NIP-89 announcement, as customers' clients show it.",
    json: { type: "string", minLength: 1, maxLength: 100 },
    scope: "application",
    section: "profile"
  }),
  "profile.about": setting({
    schema: Schema.String.check(Schema.isMaxLength(1000)),
    default: "Text generation, summaries and translations (NIP-90 kinds 5050, 5001, 5002) on a local Ollama, billed per token over Lightning.",
    description: "What the provider offers, in its NIP-89 announcement.",
    json: { type: "string", maxLength: 1000 },
    scope: "application",
    section: "profile"
  }),
  "profile.picture": setting({
    schema: Schema.String.check(Schema.isMaxLength(1000), Schema.isPattern(/^(?:$|https:\/\/[^\s/?#]+(?:[/?#]\S*)?$)/, { message: "must be empty or an https:// URL" })),
    default: "",
    description: "An https:// URL of the provider's picture, in its NIP-89 announcement. Empty: none (clients show a letter).",
    json: { type: "string", maxLength: 1000, pattern: "^(?:$|https://)" },
    scope: "application",
    section: "profile"
  }),
  "access.allowList": setting({
    schema: Schema.Array(Pubkey).check(Schema.isMaxLength(10_000)),
    default: [],
    description: "When not empty, only these customers (hex public keys or npubs) are served.",
    json: { type: "array", items: { type: "string" }, maxItems: 10000 },
    scope: "application",
    section: "limits"
  }),
  "access.denyList": setting({
    schema: Schema.Array(Pubkey).check(Schema.isMaxLength(10_000)),
    default: [],
    description: "Customers (hex public keys or npubs) never served, even when in `#sellCompute.access.allowList#`.",
    json: { type: "array", items: { type: "string" }, maxItems: 10000 },
    scope: "application",
    section: "limits"
  })
} as const

export type SettingId = keyof typeof settings
export const settingIds = Object.keys(settings) as ReadonlyArray<SettingId>

export type Config = { readonly [K in SettingId]: (typeof settings)[K]["schema"]["Type"] }

export const defaultConfig: Config = Object.fromEntries(
  settingIds.map((id) => [id, settings[id].default])
) as unknown as Config

/** A setting's full id as the user sees it, e.g. `sellCompute.pricing.minPriceSats`. */
export const qualifiedId = (id: SettingId) => `${SETTINGS_SECTION}.${id}`

export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  setting: Schema.String,
  message: Schema.String
}) {}

/**
 * Decodes raw values keyed by setting id (missing or undefined → default). The first bad value
 * fails with a message naming the setting, e.g. "sellCompute.maxConcurrentJobs: Expected a value
 * between 1 and 64, got 0".
 */
export const decodeConfig = (raw: Readonly<Record<string, unknown>>): Result.Result<Config, ConfigError> => {
  const out: Record<string, unknown> = {}
  for (const id of settingIds) {
    const value = raw[id]
    if (value === undefined) {
      out[id] = settings[id].default
      continue
    }
    const decoded = Schema.decodeUnknownResult(settings[id].schema as Schema.Codec<unknown>)(value)
    if (Result.isFailure(decoded)) {
      const reason = decoded.failure.message.split("\n")[0] ?? "invalid value"
      return Result.fail(new ConfigError({
        setting: qualifiedId(id),
        message: `${qualifiedId(id)}: ${reason}, got ${JSON.stringify(value)}`
      }))
    }
    out[id] = decoded.success
  }
  return Result.succeed(out as unknown as Config)
}

/** Reads a flat object whose keys are full setting ids (`"sellCompute.relays"`), as the headless host's file. */
export const decodeQualifiedConfig = (raw: unknown): Result.Result<Config, ConfigError> => {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return Result.fail(new ConfigError({ setting: "", message: "the config must be a JSON object keyed by setting id" }))
  }
  const prefix = `${SETTINGS_SECTION}.`
  const known = new Set<string>(settingIds)
  const relative: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(raw)) {
    const id = key.startsWith(prefix) ? key.slice(prefix.length) : key
    if (!known.has(id)) {
      return Result.fail(new ConfigError({ setting: key, message: `${key}: unknown setting` }))
    }
    relative[id] = value
  }
  return decodeConfig(relative)
}
