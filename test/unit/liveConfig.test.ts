// The VS Code host's reading of settings: a bad value is named and its last good value kept,
// while every other setting still takes its new value.
import assert from "node:assert/strict"
import { type Config, defaultConfig, type SettingId } from "../../src/dvm/config"
import { decodeLiveConfig } from "../../src/host/liveConfig"

const reading = (values: Partial<Record<SettingId, unknown>>) => (id: SettingId) => values[id]

describe("decodeLiveConfig", () => {
  it("takes the defaults for settings that are not set", () => {
    const { config, problems } = decodeLiveConfig(reading({}), defaultConfig)
    assert.deepEqual(config, defaultConfig)
    assert.deepEqual(problems, [])
  })

  it("takes valid values", () => {
    const { config, problems } = decodeLiveConfig(reading({ maxConcurrentJobs: 4, relays: ["ws://127.0.0.1:7777"] }), defaultConfig)
    assert.equal(config.maxConcurrentJobs, 4)
    assert.deepEqual(config.relays, ["ws://127.0.0.1:7777"])
    assert.deepEqual(problems, [])
  })

  it("keeps the last good value of a rejected setting and names it, while applying the others", () => {
    const previous: Config = { ...defaultConfig, maxConcurrentJobs: 3 }
    const { config, problems } = decodeLiveConfig(reading({ maxConcurrentJobs: 0, "pricing.minPriceSats": 10 }), previous)
    assert.equal(config.maxConcurrentJobs, 3)
    assert.equal(config["pricing.minPriceSats"], 10)
    assert.equal(problems.length, 1)
    assert.equal(problems[0]?.setting, "sellCompute.maxConcurrentJobs")
    assert.match(problems[0]?.message ?? "", /^sellCompute\.maxConcurrentJobs: .*got 0/)
  })

  it("reports every rejected setting, each by name", () => {
    const { problems } = decodeLiveConfig(reading({ relays: ["http://not-a-relay"], "payment.mode": "sometimes" }), defaultConfig)
    assert.deepEqual(problems.map((p) => p.setting), ["sellCompute.relays", "sellCompute.payment.mode"])
  })
})
