/**
 * Every setting of Sell Compute, described once: its id (relative to `sellCompute.`), its Schema
 * (type and range), its default and the text shown in VS Code's Settings. Both hosts decode their
 * raw values (workspace configuration or a JSON file) through `decodeConfig`, and package.json's
 * `contributes.configuration` is checked against this table by a unit test.
 */
import { Result, Schema } from "effect"

export const SETTINGS_SECTION = "sellCompute"

const RelayUrl = Schema.String.check(
  Schema.isPattern(/^wss?:\/\/[^\s/?#]+(?:[/?#]\S*)?$/, { message: "must be a ws:// or wss:// URL" })
)
const HttpUrl = Schema.String.check(
  Schema.isPattern(/^https?:\/\/[^\s/?#]+(?:[/?#]\S*)?$/, { message: "must be an http:// or https:// URL" })
)
const intBetween = (minimum: number, maximum: number) =>
  Schema.Int.check(Schema.isBetween({ minimum, maximum }))
const numberBetween = (minimum: number, maximum: number) =>
  Schema.Number.check(Schema.isBetween({ minimum, maximum }))

export const PAYMENT_MODES = ["pay-after", "free"] as const
export const WALLET_BACKENDS = ["spark"] as const
export const SPARK_NETWORKS = ["MAINNET", "REGTEST"] as const

/** What package.json's contributes.configuration must say about a setting (besides its default). */
interface SettingSpec<S extends Schema.Top> {
  readonly schema: S
  readonly default: S["Type"]
  readonly description: string
  /** JSON-schema facts VS Code shows and validates; the unit test compares them with package.json. */
  readonly json: Record<string, unknown>
}

const setting = <S extends Schema.Top>(spec: SettingSpec<S>) => spec

export const settings = {
  relays: setting({
    schema: Schema.Array(RelayUrl).check(Schema.isMinLength(1), Schema.isMaxLength(20)),
    default: ["wss://relay.damus.io", "wss://nos.lol", "wss://relay.primal.net"],
    description: "Nostr relays to listen on for jobs and to publish results, status updates and the provider announcement to.",
    json: { type: "array", items: { type: "string", pattern: "^wss?://" }, minItems: 1, maxItems: 20 }
  }),
  supportedJobKinds: setting({
    schema: Schema.Array(Schema.Literal(5050)).check(Schema.isMinLength(1)),
    default: [5050],
    description: "NIP-90 job request kinds to serve. `5050` is text generation.",
    json: { type: "array", items: { type: "number", enum: [5050] }, minItems: 1 }
  }),
  "ollama.host": setting({
    schema: HttpUrl,
    default: "http://127.0.0.1:11434",
    description: "Address of the Ollama server that runs the jobs.",
    json: { type: "string" }
  }),
  "textGeneration.model": setting({
    schema: Schema.String,
    default: "",
    description: "Ollama model used when a job names none (or names one not installed). Empty: the first installed model.",
    json: { type: "string" }
  }),
  "textGeneration.maxTokens": setting({
    schema: intBetween(1, 32768),
    default: 512,
    description: "Most tokens generated for one job. A job's own `max_tokens` is capped at this.",
    json: { type: "integer", minimum: 1, maximum: 32768 }
  }),
  "textGeneration.temperature": setting({
    schema: numberBetween(0, 2),
    default: 0.5,
    description: "Sampling temperature used when a job gives none.",
    json: { type: "number", minimum: 0, maximum: 2 }
  }),
  "textGeneration.topK": setting({
    schema: intBetween(1, 1000),
    default: 50,
    description: "Top-k sampling used when a job gives none.",
    json: { type: "integer", minimum: 1, maximum: 1000 }
  }),
  "textGeneration.topP": setting({
    schema: numberBetween(0, 1),
    default: 0.7,
    description: "Top-p (nucleus) sampling used when a job gives none.",
    json: { type: "number", minimum: 0, maximum: 1 }
  }),
  "textGeneration.frequencyPenalty": setting({
    schema: numberBetween(-2, 2),
    default: 1,
    description: "Frequency penalty used when a job gives none.",
    json: { type: "number", minimum: -2, maximum: 2 }
  }),
  "pricing.minPriceSats": setting({
    schema: intBetween(0, 1_000_000),
    default: 3,
    description: "Least a job costs, in sats.",
    json: { type: "integer", minimum: 0, maximum: 1000000 }
  }),
  "pricing.pricePer1kTokens": setting({
    schema: numberBetween(0, 1_000_000),
    default: 2,
    description: "Price per 1,000 tokens (prompt + generated, as counted by Ollama), in sats.",
    json: { type: "number", minimum: 0, maximum: 1000000 }
  }),
  "payment.mode": setting({
    schema: Schema.Literals(PAYMENT_MODES),
    default: "pay-after",
    description: "`pay-after`: the result carries a Lightning invoice. `free`: no invoice.",
    json: { type: "string", enum: [...PAYMENT_MODES] }
  }),
  "wallet.backend": setting({
    schema: Schema.Literals(WALLET_BACKENDS),
    default: "spark",
    description: "Wallet that issues the invoices. `spark`: a Spark wallet whose mnemonic is kept in the OS secret store.",
    json: { type: "string", enum: [...WALLET_BACKENDS] }
  }),
  "spark.network": setting({
    schema: Schema.Literals(SPARK_NETWORKS),
    default: "MAINNET",
    description: "Spark network. `MAINNET` is real money; `REGTEST` is for testing.",
    json: { type: "string", enum: [...SPARK_NETWORKS] }
  }),
  maxConcurrentJobs: setting({
    schema: intBetween(1, 64),
    default: 1,
    description: "Jobs run on Ollama at the same time. Further jobs wait their turn.",
    json: { type: "integer", minimum: 1, maximum: 64 }
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
