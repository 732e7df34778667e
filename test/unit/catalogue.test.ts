// Proves which installed models are offered (the allow-list, with or without ":latest") and what each costs.
import assert from "node:assert/strict"
import { catalogueOf, offeredModels, pricePer1kFor, sameModel } from "../../src/dvm/catalogue"
import { type Config, defaultConfig } from "../../src/dvm/config"
import { quoteFor } from "../../src/dvm/quote"
import { parseJobRequest } from "../../src/dvm/protocol/jobRequest"
import { finalizeEvent, generateSecretKey } from "nostr-tools/pure"

const installed = ["llama3.2:latest", "qwen2.5:7b", "mistral:latest"]
const config = (patch: Partial<Config>): Config => ({ ...defaultConfig, ...patch })

describe("catalogue", () => {
  it("a name with and without :latest is the same model; other tags are not", () => {
    assert.equal(sameModel("llama3.2", "llama3.2:latest"), true)
    assert.equal(sameModel("llama3.2:latest", "llama3.2"), true)
    assert.equal(sameModel("qwen2.5", "qwen2.5:7b"), false)
    assert.equal(sameModel("llama3", "llama3.2"), false)
  })

  it("offers every installed model when the allow-list is empty", () => {
    assert.deepEqual(offeredModels(installed, defaultConfig), installed)
  })

  it("offers only the installed models the allow-list names, in Ollama's order", () => {
    assert.deepEqual(offeredModels(installed, config({ "textGeneration.models": ["qwen2.5:7b", "llama3.2", "gemma3"] })), ["llama3.2:latest", "qwen2.5:7b"])
    assert.deepEqual(offeredModels(installed, config({ "textGeneration.models": ["gemma3"] })), [])
  })

  it("prices a model at its own price when set (either spelling), else the global one", () => {
    const priced = config({ "pricing.pricePer1kTokens": 2, "pricing.perModel": { "llama3.2": 0.5, "qwen2.5:7b": 10 } })
    assert.equal(pricePer1kFor(priced, "llama3.2:latest"), 0.5)
    assert.equal(pricePer1kFor(priced, "qwen2.5:7b"), 10)
    assert.equal(pricePer1kFor(priced, "mistral:latest"), 2)
    assert.equal(pricePer1kFor(priced, undefined), 2)
  })

  it("builds the catalogue from what Ollama said: offered models only, each with its price", () => {
    const models = [{ name: "llama3.2:latest", parameterSize: "3.2B", contextLength: 131072 }, { name: "qwen2.5:7b" }]
    assert.deepEqual(catalogueOf(models, config({ "textGeneration.models": ["llama3.2"], "pricing.perModel": { "llama3.2": 4 } })), [
      { name: "llama3.2:latest", parameterSize: "3.2B", contextLength: 131072, pricePer1kTokens: 4 }
    ])
  })

  it("quotes a job at its model's own price", () => {
    const event = finalizeEvent({ kind: 5050, created_at: Math.floor(Date.now() / 1000), tags: [["i", "hi", "text"], ["bid", "1000000"]], content: "" }, generateSecretKey())
    const parsed = parseJobRequest(event, { ourPubkey: "0".repeat(64), ourSecretKey: generateSecretKey(), supportedKinds: [5050] })
    if (parsed._tag !== "Job") assert.fail("not a job")
    const priced = config({ "pricing.minPriceSats": 0, "pricing.pricePer1kTokens": 1000, "pricing.perModel": { big: 2000 }, "textGeneration.maxTokens": 100 })
    // 10 prompt tokens + 100 at 1 sat per token (global) or 2 (big).
    assert.deepEqual(quoteFor(parsed.job, priced, 10, "small"), { maxTokens: 100, worstSats: 110 })
    assert.deepEqual(quoteFor(parsed.job, priced, 10, "big"), { maxTokens: 100, worstSats: 220 })
  })
})
