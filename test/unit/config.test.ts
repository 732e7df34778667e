// Proves the settings table decodes its defaults and refuses bad values with a message naming the setting.
import assert from "node:assert/strict"
import * as fs from "node:fs"
import * as path from "node:path"
import { Result } from "effect"
import {
  type Config,
  ConfigError,
  decodeConfig,
  decodeQualifiedConfig,
  defaultConfig,
  qualifiedId,
  type SettingId,
  settingIds,
  settings
} from "../../src/dvm/config"

/** The decoded config, or a test failure that shows the error. */
const expectConfig = (result: Result.Result<Config, ConfigError>): Config => {
  if (Result.isFailure(result)) assert.fail(`expected a config, got ${result.failure.message}`)
  return result.success
}

/** The error, or a test failure when the value was accepted. */
const expectError = (result: Result.Result<Config, ConfigError>): ConfigError => {
  if (Result.isSuccess(result)) assert.fail("expected the value to be rejected, but it was accepted")
  assert.ok(result.failure instanceof ConfigError)
  return result.failure
}

/** Rejected, naming the full setting id both in `setting` and at the start of the message. */
const assertRejectedNaming = (raw: Record<string, unknown>, fullId: string, detail?: RegExp) => {
  const error = expectError(decodeConfig(raw))
  assert.equal(error.setting, fullId)
  assert.ok(error.message.startsWith(`${fullId}: `), `message should start with "${fullId}: ": ${error.message}`)
  if (detail) assert.match(error.message, detail)
}

describe("config: decodeConfig", () => {
  it("decodes an empty object to the defaults", () => {
    const config = expectConfig(decodeConfig({}))
    assert.deepEqual(config, defaultConfig)
  })

  it("has the documented default values", () => {
    assert.deepEqual(defaultConfig.relays, ["wss://relay.damus.io", "wss://nos.lol", "wss://relay.primal.net"])
    assert.deepEqual(defaultConfig.supportedJobKinds, [5050, 5001, 5002])
    assert.deepEqual(defaultConfig["textGeneration.models"], [])
    assert.deepEqual(defaultConfig["pricing.perModel"], {})
    assert.equal(defaultConfig["profile.name"], "Sell Compute")
    assert.equal(defaultConfig["profile.picture"], "")
    assert.equal(defaultConfig["ollama.host"], "http://127.0.0.1:11434")
    assert.equal(defaultConfig["textGeneration.maxTokens"], 512)
    assert.equal(defaultConfig["pricing.minPriceSats"], 3)
    assert.equal(defaultConfig["pricing.pricePer1kTokens"], 2)
    assert.equal(defaultConfig["payment.mode"], "pay-after")
    assert.equal(defaultConfig["spark.network"], "MAINNET")
    assert.equal(defaultConfig.maxConcurrentJobs, 1)
    assert.equal(defaultConfig["inference.backend"], "ollama")
    assert.equal(defaultConfig["openai.baseUrl"], "http://127.0.0.1:8000/v1")
  })

  it("decodes every default value through its own schema", () => {
    const raw = Object.fromEntries(settingIds.map((id) => [id, defaultConfig[id]]))
    assert.deepEqual(expectConfig(decodeConfig(raw)), defaultConfig)
  })

  it("treats an undefined value as missing and uses the default", () => {
    const config = expectConfig(decodeConfig({ maxConcurrentJobs: undefined, relays: undefined }))
    assert.equal(config.maxConcurrentJobs, 1)
    assert.deepEqual(config.relays, defaultConfig.relays)
  })

  it("keeps valid given values and defaults the rest", () => {
    const config = expectConfig(decodeConfig({
      maxConcurrentJobs: 64,
      relays: ["ws://localhost:7777", "wss://relay.example.com/path?x=1"],
      "textGeneration.temperature": 2,
      "payment.mode": "free"
    }))
    assert.equal(config.maxConcurrentJobs, 64)
    assert.deepEqual(config.relays, ["ws://localhost:7777", "wss://relay.example.com/path?x=1"])
    assert.equal(config["textGeneration.temperature"], 2)
    assert.equal(config["payment.mode"], "free")
    assert.equal(config["pricing.minPriceSats"], defaultConfig["pricing.minPriceSats"])
  })

  it("accepts the inclusive bounds of maxConcurrentJobs (1 and 64)", () => {
    assert.equal(expectConfig(decodeConfig({ maxConcurrentJobs: 1 })).maxConcurrentJobs, 1)
    assert.equal(expectConfig(decodeConfig({ maxConcurrentJobs: 64 })).maxConcurrentJobs, 64)
  })

  it("rejects maxConcurrentJobs 0, naming sellCompute.maxConcurrentJobs", () => {
    assertRejectedNaming({ maxConcurrentJobs: 0 }, "sellCompute.maxConcurrentJobs", /between 1 and 64.*got 0/)
  })

  it("rejects maxConcurrentJobs 65, naming sellCompute.maxConcurrentJobs", () => {
    assertRejectedNaming({ maxConcurrentJobs: 65 }, "sellCompute.maxConcurrentJobs", /got 65/)
  })

  it("rejects a fractional maxConcurrentJobs", () => {
    assertRejectedNaming({ maxConcurrentJobs: 1.5 }, "sellCompute.maxConcurrentJobs", /integer/)
  })

  it("rejects maxConcurrentJobs given as a string (wrong type)", () => {
    assertRejectedNaming({ maxConcurrentJobs: "2" }, "sellCompute.maxConcurrentJobs", /got "2"/)
  })

  it("rejects an http:// relay, naming sellCompute.relays", () => {
    assertRejectedNaming({ relays: ["http://relay.example.com"] }, "sellCompute.relays", /ws:\/\/ or wss:\/\//)
  })

  it("rejects a relay list where only one entry is bad", () => {
    assertRejectedNaming({ relays: ["wss://nos.lol", "https://relay.example.com"] }, "sellCompute.relays")
  })

  it("rejects an empty relay list, naming sellCompute.relays", () => {
    assertRejectedNaming({ relays: [] }, "sellCompute.relays", /at least 1/)
  })

  it("rejects more than 20 relays", () => {
    const relays = Array.from({ length: 21 }, (_, i) => `wss://relay${i}.example.com`)
    assertRejectedNaming({ relays }, "sellCompute.relays", /at most 20/)
  })

  it("rejects relays given as a single string (wrong type)", () => {
    assertRejectedNaming({ relays: "wss://nos.lol" }, "sellCompute.relays")
  })

  it("rejects temperature 3, naming sellCompute.textGeneration.temperature", () => {
    assertRejectedNaming({ "textGeneration.temperature": 3 }, "sellCompute.textGeneration.temperature", /between 0 and 2.*got 3/)
  })

  it("rejects payment.mode \"pay-later\", naming sellCompute.payment.mode", () => {
    assertRejectedNaming({ "payment.mode": "pay-later" }, "sellCompute.payment.mode", /pay-later/)
  })

  it("rejects an ollama.host that is not http(s), naming sellCompute.ollama.host", () => {
    assertRejectedNaming({ "ollama.host": "ws://127.0.0.1:11434" }, "sellCompute.ollama.host", /http:\/\/ or https:\/\//)
  })

  it("takes inference.backend ollama or openai, and an http(s) openai.baseUrl, naming the setting otherwise", () => {
    assert.equal(expectConfig(decodeConfig({ "inference.backend": "openai" }))["inference.backend"], "openai")
    assertRejectedNaming({ "inference.backend": "vllm" }, "sellCompute.inference.backend", /vllm/)
    assert.equal(expectConfig(decodeConfig({ "openai.baseUrl": "https://gpu.example:8443/v1" }))["openai.baseUrl"], "https://gpu.example:8443/v1")
    assertRejectedNaming({ "openai.baseUrl": "127.0.0.1:8000/v1" }, "sellCompute.openai.baseUrl", /http:\/\/ or https:\/\//)
  })

  it("rejects textGeneration.maxTokens 0 and 32769", () => {
    assertRejectedNaming({ "textGeneration.maxTokens": 0 }, "sellCompute.textGeneration.maxTokens")
    assertRejectedNaming({ "textGeneration.maxTokens": 32769 }, "sellCompute.textGeneration.maxTokens")
  })

  it("rejects a negative pricing.minPriceSats", () => {
    assertRejectedNaming({ "pricing.minPriceSats": -1 }, "sellCompute.pricing.minPriceSats")
  })

  it("accepts any of 5050, 5001 and 5002 in supportedJobKinds, and rejects another kind or one twice", () => {
    assert.deepEqual(expectConfig(decodeConfig({ supportedJobKinds: [5002] })).supportedJobKinds, [5002])
    assert.deepEqual(expectConfig(decodeConfig({ supportedJobKinds: [5001, 5050] })).supportedJobKinds, [5001, 5050])
    assertRejectedNaming({ supportedJobKinds: [5100] }, "sellCompute.supportedJobKinds")
    assertRejectedNaming({ supportedJobKinds: [5050, 5050] }, "sellCompute.supportedJobKinds", /unique items/)
    assertRejectedNaming({ supportedJobKinds: [] }, "sellCompute.supportedJobKinds")
  })

  it("takes per-model prices from 0 to 1,000,000 sats per 1,000 tokens, and refuses others", () => {
    assert.deepEqual(expectConfig(decodeConfig({ "pricing.perModel": { "llama3.2": 0, "qwen2.5:32b": 1_000_000 } }))["pricing.perModel"], { "llama3.2": 0, "qwen2.5:32b": 1_000_000 })
    assertRejectedNaming({ "pricing.perModel": { "llama3.2": -1 } }, "sellCompute.pricing.perModel")
    assertRejectedNaming({ "pricing.perModel": { "llama3.2": 1_000_001 } }, "sellCompute.pricing.perModel")
    assertRejectedNaming({ "pricing.perModel": { "llama3.2": "1" } }, "sellCompute.pricing.perModel")
    assertRejectedNaming({ "pricing.perModel": { "": 1 } }, "sellCompute.pricing.perModel")
  })

  it("takes a model allow-list of names, refusing an empty name", () => {
    assert.deepEqual(expectConfig(decodeConfig({ "textGeneration.models": ["llama3.2", "qwen2.5:7b"] }))["textGeneration.models"], ["llama3.2", "qwen2.5:7b"])
    assertRejectedNaming({ "textGeneration.models": [""] }, "sellCompute.textGeneration.models")
  })

  it("takes a profile picture only as an https:// URL (or none), and a name of 1 to 100 characters", () => {
    assert.equal(expectConfig(decodeConfig({ "profile.picture": "https://example.com/me.png" }))["profile.picture"], "https://example.com/me.png")
    assertRejectedNaming({ "profile.picture": "http://example.com/me.png" }, "sellCompute.profile.picture", /https/)
    assertRejectedNaming({ "profile.picture": "javascript:alert(1)" }, "sellCompute.profile.picture")
    assertRejectedNaming({ "profile.name": "" }, "sellCompute.profile.name")
    assertRejectedNaming({ "profile.name": "x".repeat(101) }, "sellCompute.profile.name")
    assertRejectedNaming({ "profile.about": "x".repeat(1001) }, "sellCompute.profile.about")
  })

  it("rejects an unknown spark.network", () => {
    assertRejectedNaming({ "spark.network": "TESTNET" }, "sellCompute.spark.network", /TESTNET/)
  })

  it("rejects null as a value rather than defaulting it", () => {
    assertRejectedNaming({ maxConcurrentJobs: null }, "sellCompute.maxConcurrentJobs")
  })

  it("qualifiedId prefixes the section name", () => {
    assert.equal(qualifiedId("pricing.minPriceSats"), "sellCompute.pricing.minPriceSats")
  })
})

describe("config: decodeQualifiedConfig", () => {
  it("accepts full ids (sellCompute.xxx)", () => {
    const config = expectConfig(decodeQualifiedConfig({
      "sellCompute.maxConcurrentJobs": 4,
      "sellCompute.relays": ["ws://localhost:7777"]
    }))
    assert.equal(config.maxConcurrentJobs, 4)
    assert.deepEqual(config.relays, ["ws://localhost:7777"])
  })

  it("accepts relative ids, also mixed with full ids", () => {
    const config = expectConfig(decodeQualifiedConfig({
      "pricing.minPriceSats": 7,
      "sellCompute.pricing.pricePer1kTokens": 0.5
    }))
    assert.equal(config["pricing.minPriceSats"], 7)
    assert.equal(config["pricing.pricePer1kTokens"], 0.5)
    assert.equal(config.maxConcurrentJobs, defaultConfig.maxConcurrentJobs)
  })

  it("decodes an empty object to the defaults", () => {
    assert.deepEqual(expectConfig(decodeQualifiedConfig({})), defaultConfig)
  })

  it("rejects an unknown full key, naming the key", () => {
    const error = expectError(decodeQualifiedConfig({ "sellCompute.maxJobs": 2 }))
    assert.equal(error.setting, "sellCompute.maxJobs")
    assert.match(error.message, /^sellCompute\.maxJobs: unknown setting/)
  })

  it("rejects an unknown relative key, naming the key", () => {
    const error = expectError(decodeQualifiedConfig({ "pricing.maxPrice": 2 }))
    assert.equal(error.setting, "pricing.maxPrice")
    assert.match(error.message, /unknown setting/)
  })

  it("rejects a bad value given under a relative id with the full setting id in the message", () => {
    const error = expectError(decodeQualifiedConfig({ maxConcurrentJobs: 0 }))
    assert.equal(error.setting, "sellCompute.maxConcurrentJobs")
    assert.match(error.message, /^sellCompute\.maxConcurrentJobs: /)
  })

  it("rejects a bad value given under a full id with the full setting id in the message", () => {
    const error = expectError(decodeQualifiedConfig({ "sellCompute.textGeneration.temperature": 3 }))
    assert.equal(error.setting, "sellCompute.textGeneration.temperature")
    assert.match(error.message, /^sellCompute\.textGeneration\.temperature: /)
  })

  for (const [label, input] of [
    ["null", null],
    ["an array", [{ "sellCompute.maxConcurrentJobs": 2 }]],
    ["a string", "sellCompute.maxConcurrentJobs=2"],
    ["a number", 42],
    ["undefined", undefined]
  ] as const) {
    it(`rejects ${label} as the whole config (not an object)`, () => {
      const error = expectError(decodeQualifiedConfig(input))
      assert.match(error.message, /must be a JSON object/)
    })
  }
})

/**
 * Every numeric setting's range, written out: the Schema must accept exactly these bounds, refuse
 * one step beyond each, and package.json (what VS Code validates) must say the same. The expected
 * bounds are literals on purpose: a Schema loosened (say `limits.jobTimeoutSeconds` accepting 0)
 * and package.json regenerated from it must still fail here.
 */
const NUMERIC_BOUNDS: ReadonlyArray<readonly [id: string, type: "integer" | "number", minimum: number, maximum: number]> = [
  ["textGeneration.maxTokens", "integer", 1, 32768],
  ["textGeneration.temperature", "number", 0, 2],
  ["textGeneration.topK", "integer", 1, 1000],
  ["textGeneration.topP", "number", 0, 1],
  ["textGeneration.frequencyPenalty", "number", -2, 2],
  ["pricing.minPriceSats", "integer", 0, 1_000_000],
  ["pricing.pricePer1kTokens", "number", 0, 1_000_000],
  ["payment.invoiceExpirySeconds", "integer", 60, 86_400],
  ["maxConcurrentJobs", "integer", 1, 64],
  ["limits.maxQueuedJobs", "integer", 0, 1000],
  ["limits.jobsPerMinutePerCustomer", "integer", 1, 10_000],
  ["limits.jobsInFlightPerCustomer", "integer", 1, 100],
  ["limits.maxPromptChars", "integer", 100, 1_000_000],
  ["limits.maxEventBytes", "integer", 1024, 4_194_304],
  ["limits.maxRequestAgeSeconds", "integer", 10, 86_400],
  ["limits.jobTimeoutSeconds", "integer", 5, 3600],
  ["streaming.intervalMs", "integer", 0, 60000]
]

describe("config: the bounds of every numeric setting", () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")) as {
    contributes: { configuration: ReadonlyArray<{ properties: Record<string, Record<string, unknown>> }> }
  }
  // One entry per section of Settings.
  const properties: Record<string, Record<string, unknown>> = Object.assign({}, ...manifest.contributes.configuration.map((s) => s.properties))

  it("the table covers every numeric setting of the Schema, and nothing else", () => {
    const numeric = settingIds.filter((id) => typeof defaultConfig[id] === "number")
    assert.deepEqual([...numeric].sort(), NUMERIC_BOUNDS.map(([id]) => id).sort())
  })

  for (const [id, type, minimum, maximum] of NUMERIC_BOUNDS) {
    const fullId = `sellCompute.${id}`
    // An integer setting is refused one below and one above; a number a small step past each bound.
    const step = type === "integer" ? 1 : 0.001
    describe(fullId, () => {
      it(`accepts its bounds ${minimum} and ${maximum}`, () => {
        assert.equal(expectConfig(decodeConfig({ [id]: minimum }))[id as SettingId], minimum)
        assert.equal(expectConfig(decodeConfig({ [id]: maximum }))[id as SettingId], maximum)
      })

      it(`refuses ${minimum - step} (below its minimum)`, () => {
        assertRejectedNaming({ [id]: minimum - step }, fullId)
      })

      it(`refuses ${maximum + step} (above its maximum)`, () => {
        assertRejectedNaming({ [id]: maximum + step }, fullId)
      })

      if (type === "integer") {
        it("refuses a fraction inside its range", () => {
          assertRejectedNaming({ [id]: minimum + 0.5 }, fullId, /int/i)
        })
      }

      it(`says ${type} from ${minimum} to ${maximum} in package.json and in the Schema's JSON facts`, () => {
        const property = properties[fullId] ?? assert.fail(`${fullId} is not in package.json`)
        assert.deepEqual([property.type, property.minimum, property.maximum], [type, minimum, maximum])
        const json = settings[id as SettingId].json
        assert.deepEqual([json.type, json.minimum, json.maximum], [type, minimum, maximum])
      })
    })
  }
})
