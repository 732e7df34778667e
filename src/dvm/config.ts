/**
 * Every setting of Sell Compute, described once: its id (relative to `sellCompute.`), its Schema
 * (type and range), its default and the text shown in VS Code's Settings. Both hosts decode their
 * raw values (workspace configuration or a JSON file) through `decodeConfig`, and package.json's
 * `contributes.configuration` is checked against this table by a unit test.
 */
import { Result, Schema } from "effect"
import { JOB_KINDS } from "./protocol/prompts"

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

/** What package.json's contributes.configuration must say about a setting (besides its default). */
interface SettingSpec<S extends Schema.Top> {
  readonly schema: S
  readonly default: S["Type"]
  readonly description: string
  /** JSON-schema facts VS Code shows and validates; the unit test compares them with package.json. */
  readonly json: Record<string, unknown>
  /** VS Code scope: "application" for money, keys, endpoints and abuse limits (one value per machine user). */
  readonly scope: "application" | "window"
}

const setting = <S extends Schema.Top>(spec: SettingSpec<S>) => spec

export const settings = {
  relays: setting({
    schema: Schema.Array(RelayUrl).check(Schema.isMinLength(1), Schema.isMaxLength(20)),
    default: ["wss://relay.damus.io", "wss://nos.lol", "wss://relay.primal.net"],
    description: "Nostr relays to listen on for jobs and to publish results, status updates and the provider announcement to.",
    json: { type: "array", items: { type: "string", pattern: "^wss?://" }, minItems: 1, maxItems: 20 },
    scope: "application"
  }),
  supportedJobKinds: setting({
    schema: Schema.Array(Schema.Literals(JOB_KINDS)).check(
      Schema.isMinLength(1),
      Schema.makeFilter((kinds: ReadonlyArray<number>) => new Set(kinds).size === kinds.length || "Expected each kind once")
    ),
    default: [...JOB_KINDS],
    description: "NIP-90 job request kinds to serve, all on the same model: `5050` text generation, `5001` summarization (param `length`), `5002` translation (param `language`).",
    json: { type: "array", items: { type: "number", enum: [...JOB_KINDS] }, minItems: 1, uniqueItems: true },
    scope: "window"
  }),
  "ollama.host": setting({
    schema: HttpUrl,
    default: "http://127.0.0.1:11434",
    description: "Address of the Ollama server that runs the jobs.",
    json: { type: "string" },
    scope: "application"
  }),
  "textGeneration.model": setting({
    schema: Schema.String,
    default: "",
    description: "Ollama model used when a job names none (or names one not installed). Empty: the first installed model.",
    json: { type: "string" },
    scope: "window"
  }),
  "textGeneration.models": setting({
    schema: Schema.Array(ModelName).check(Schema.isMaxLength(100)),
    default: [],
    description: "Models offered to customers (Ollama names, e.g. `llama3.2` or `qwen2.5:7b`). Empty: every installed model. Only installed models in this list are announced and run.",
    json: { type: "array", items: { type: "string", minLength: 1, maxLength: 200 }, maxItems: 100 },
    scope: "application"
  }),
  "textGeneration.maxTokens": setting({
    schema: intBetween(1, 32768),
    default: 512,
    description: "Most tokens generated for one job. A job's own `max_tokens` is capped at this.",
    json: { type: "integer", minimum: 1, maximum: 32768 },
    scope: "window"
  }),
  "textGeneration.temperature": setting({
    schema: numberBetween(0, 2),
    default: 0.5,
    description: "Sampling temperature used when a job gives none.",
    json: { type: "number", minimum: 0, maximum: 2 },
    scope: "window"
  }),
  "textGeneration.topK": setting({
    schema: intBetween(1, 1000),
    default: 50,
    description: "Top-k sampling used when a job gives none.",
    json: { type: "integer", minimum: 1, maximum: 1000 },
    scope: "window"
  }),
  "textGeneration.topP": setting({
    schema: numberBetween(0, 1),
    default: 0.7,
    description: "Top-p (nucleus) sampling used when a job gives none.",
    json: { type: "number", minimum: 0, maximum: 1 },
    scope: "window"
  }),
  "textGeneration.frequencyPenalty": setting({
    schema: numberBetween(-2, 2),
    default: 1,
    description: "Frequency penalty used when a job gives none.",
    json: { type: "number", minimum: -2, maximum: 2 },
    scope: "window"
  }),
  "pricing.minPriceSats": setting({
    schema: intBetween(0, 1_000_000),
    default: 3,
    description: "Least a job costs, in sats.",
    json: { type: "integer", minimum: 0, maximum: 1000000 },
    scope: "application"
  }),
  "pricing.pricePer1kTokens": setting({
    schema: numberBetween(0, 1_000_000),
    default: 2,
    description: "Price per 1,000 tokens (prompt + generated, as counted by Ollama), in sats.",
    json: { type: "number", minimum: 0, maximum: 1000000 },
    scope: "application"
  }),
  "pricing.perModel": setting({
    schema: Schema.Record(Schema.String, numberBetween(0, 1_000_000)).check(
      Schema.isMaxProperties(100),
      Schema.makeFilter((prices: object) => Object.keys(prices).every((m) => m.length >= 1 && m.length <= 200) || "Expected model names of 1 to 200 characters")
    ),
    default: {},
    description: "Price per 1,000 tokens for particular models, in sats, e.g. `{\"llama3.2\": 1, \"qwen2.5:32b\": 20}`. Models not listed cost `pricing.pricePer1kTokens`.",
    json: { type: "object", additionalProperties: { type: "number", minimum: 0, maximum: 1000000 }, maxProperties: 100 },
    scope: "application"
  }),
  "payment.mode": setting({
    schema: Schema.Literals(PAYMENT_MODES),
    default: "pay-after",
    description: "`pay-after`: the result carries a Lightning invoice. `pay-first`: the customer pays the most the job can cost before any work starts. `free`: no invoice.",
    json: { type: "string", enum: [...PAYMENT_MODES] },
    scope: "application"
  }),
  "payment.invoiceExpirySeconds": setting({
    schema: intBetween(60, 86_400),
    default: 600,
    description: "How long an invoice can be paid, in seconds. Unpaid after this, it counts as expired.",
    json: { type: "integer", minimum: 60, maximum: 86400 },
    scope: "application"
  }),
  "wallet.backend": setting({
    schema: Schema.Literals(WALLET_BACKENDS),
    default: "spark",
    description: "Wallet that issues the invoices. `spark`: a Spark wallet whose mnemonic is kept in the OS secret store. `nwc`: any Nostr Wallet Connect (NIP-47) wallet, by its connection string.",
    json: { type: "string", enum: [...WALLET_BACKENDS] },
    scope: "application"
  }),
  "spark.network": setting({
    schema: Schema.Literals(SPARK_NETWORKS),
    default: "MAINNET",
    description: "Spark network. `MAINNET` is real money; `REGTEST` is for testing.",
    json: { type: "string", enum: [...SPARK_NETWORKS] },
    scope: "application"
  }),
  maxConcurrentJobs: setting({
    schema: intBetween(1, 64),
    default: 1,
    description: "Jobs run on Ollama at the same time. Further jobs wait their turn.",
    json: { type: "integer", minimum: 1, maximum: 64 },
    scope: "window"
  }),
  "limits.maxQueuedJobs": setting({
    schema: intBetween(0, 1000),
    default: 20,
    description: "Jobs that may wait for Ollama. When the queue is full, new customers are told the provider is busy.",
    json: { type: "integer", minimum: 0, maximum: 1000 },
    scope: "application"
  }),
  "limits.jobsPerMinutePerCustomer": setting({
    schema: intBetween(1, 10_000),
    default: 10,
    description: "Jobs one customer may send per minute; more are refused with when to retry.",
    json: { type: "integer", minimum: 1, maximum: 10000 },
    scope: "application"
  }),
  "limits.jobsInFlightPerCustomer": setting({
    schema: intBetween(1, 100),
    default: 2,
    description: "Jobs of one customer running or waiting at the same time.",
    json: { type: "integer", minimum: 1, maximum: 100 },
    scope: "application"
  }),
  "limits.maxPromptChars": setting({
    schema: intBetween(100, 1_000_000),
    default: 16_000,
    description: "Longest prompt accepted, in characters. The result repeats the prompt, and many relays refuse events over 64 KB.",
    json: { type: "integer", minimum: 100, maximum: 1000000 },
    scope: "application"
  }),
  "limits.maxEventBytes": setting({
    schema: intBetween(1024, 4_194_304),
    default: 24_576,
    description: "Largest job request accepted, in bytes of JSON. The result carries the whole request, and many relays refuse events over 64 KB.",
    json: { type: "integer", minimum: 1024, maximum: 4194304 },
    scope: "application"
  }),
  "limits.maxRequestAgeSeconds": setting({
    schema: intBetween(10, 86_400),
    default: 600,
    description: "Requests older than this (by their `created_at`) are ignored: the customer has likely moved on.",
    json: { type: "integer", minimum: 10, maximum: 86400 },
    scope: "application"
  }),
  "limits.jobTimeoutSeconds": setting({
    schema: intBetween(5, 3600),
    default: 300,
    description: "Longest a job may run on Ollama before it is stopped and the customer told.",
    json: { type: "integer", minimum: 5, maximum: 3600 },
    scope: "application"
  }),
  "streaming.intervalMs": setting({
    schema: intBetween(0, 60_000),
    default: 2000,
    description: "While the model writes, the customer is sent the text so far (NIP-90 `partial` feedback) at most this often, in milliseconds. `0` turns it off.",
    json: { type: "integer", minimum: 0, maximum: 60000 },
    scope: "application"
  }),
  "profile.name": setting({
    schema: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(100)),
    default: "Sell Compute",
    description: "The provider's name in its NIP-89 announcement, as customers' clients show it.",
    json: { type: "string", minLength: 1, maxLength: 100 },
    scope: "application"
  }),
  "profile.about": setting({
    schema: Schema.String.check(Schema.isMaxLength(1000)),
    default: "Text generation, summaries and translations (NIP-90 kinds 5050, 5001, 5002) on a local Ollama, billed per token over Lightning.",
    description: "What the provider offers, in its NIP-89 announcement.",
    json: { type: "string", maxLength: 1000 },
    scope: "application"
  }),
  "profile.picture": setting({
    schema: Schema.String.check(Schema.isMaxLength(1000), Schema.isPattern(/^(?:$|https:\/\/[^\s/?#]+(?:[/?#]\S*)?$)/, { message: "must be empty or an https:// URL" })),
    default: "",
    description: "An https:// URL of the provider's picture, in its NIP-89 announcement. Empty: none (clients show a letter).",
    json: { type: "string", maxLength: 1000, pattern: "^(?:$|https://)" },
    scope: "application"
  }),
  "access.allowList": setting({
    schema: Schema.Array(Pubkey).check(Schema.isMaxLength(10_000)),
    default: [],
    description: "When not empty, only these customers (hex public keys or npubs) are served.",
    json: { type: "array", items: { type: "string" }, maxItems: 10000 },
    scope: "application"
  }),
  "access.denyList": setting({
    schema: Schema.Array(Pubkey).check(Schema.isMaxLength(10_000)),
    default: [],
    description: "Customers (hex public keys or npubs) never served.",
    json: { type: "array", items: { type: "string" }, maxItems: 10000 },
    scope: "application"
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
