// The catalogue in the NIP-89 announcement, through the real provider, relay and Ollama API: the
// installed models narrowed by the allow-list, their sizes, context lengths and prices, the profile,
// jobs served only on offered models, and a new announcement when the models or the profile change.
import assert from "node:assert/strict"
import type { Event } from "nostr-tools/pure"
import { MODEL_POLL_MS, pollModelsEvery } from "../../src/dvm/services/Kind5050DVM"
import { Customer, statusOf, tag } from "../support/customer"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startProvider, type TestProvider } from "../support/provider"
import { type RelayProcess, startRelay } from "../support/relay"

describe("the catalogue in the announcement", function() {
  this.timeout(40_000)
  let relay: RelayProcess
  let ollama: OllamaStandIn
  let provider: TestProvider | undefined
  let customer: Customer

  before(async () => {
    ;[relay, ollama] = await Promise.all([startRelay(), startOllamaStandIn({ models: ["llama3.2:1b", "qwen2.5:0.5b", "phi3:mini"] })])
    ollama.modelFacts = { "llama3.2:1b": { parameterSize: "1.2B", contextLength: 131072 }, "phi3:mini": { parameterSize: "3.8B", contextLength: 4096 } }
    customer = new Customer([relay.url])
    await customer.listen()
  })

  afterEach(async () => {
    pollModelsEvery(MODEL_POLL_MS)
    ollama.showMode = "ok"
    await provider?.dispose()
    provider = undefined
  })

  after(async () => {
    customer?.close()
    await Promise.all([relay?.stop(), ollama?.close()])
  })

  const latestAnnouncement = async (pubkey: string): Promise<Event | undefined> => {
    const found = await customer.pool.querySync([relay.url], { kinds: [31990], authors: [pubkey] })
    return found.sort((a, b) => b.created_at - a.created_at)[0]
  }

  const contentOf = (event: Event | undefined) => JSON.parse(event?.content ?? "{}") as Record<string, any>

  it("lists the allowed installed models with size, context and price, and the profile; jobs run only on them", async () => {
    provider = await startProvider({
      relays: [relay.url],
      "ollama.host": ollama.url,
      "textGeneration.models": ["llama3.2:1b", "phi3:mini", "gemma3"],
      "pricing.pricePer1kTokens": 2,
      "pricing.perModel": { "phi3:mini": 7.5 },
      "pricing.minPriceSats": 3,
      "payment.mode": "pay-after",
      "profile.name": "Ada's box",
      "profile.about": "Two small models",
      "profile.picture": "https://example.com/ada.png"
    })
    await provider.goOnline()
    const announcement = await latestAnnouncement(provider.pubkey)
    const content = contentOf(announcement)
    assert.deepEqual(announcement?.tags.filter((t) => t[0] === "k"), [["k", "5050"], ["k", "5001"], ["k", "5002"]])
    assert.equal(content.name, "Ada's box")
    assert.equal(content.about, "Two small models")
    assert.equal(content.picture, "https://example.com/ada.png")
    assert.equal(content.amount, "3")
    assert.deepEqual(content.nip90Params.model.values, ["llama3.2:1b", "phi3:mini"], "qwen is installed but not allowed; gemma3 allowed but not installed")
    assert.deepEqual(content.models, [
      { name: "llama3.2:1b", parameterSize: "1.2B", contextLength: 131072, pricePer1kTokens: 2000 },
      { name: "phi3:mini", parameterSize: "3.8B", contextLength: 4096, pricePer1kTokens: 7500 }
    ])
    assert.deepEqual(content.pricing, { unit: "msats", paymentMode: "pay-after", minPrice: 3000, pricePer1kTokens: 2000 })

    // A job asking for a model not offered runs on an offered one.
    ollama.reset()
    const job = await customer.publish(customer.buildJob({ prompt: "hello", tags: [["param", "model", "qwen2.5:0.5b"]] }))
    const replies = customer.repliesFor(job.id)
    await waitFor(() => replies.feedback.some((f) => statusOf(f) === "success"), 15_000, "the job's success")
    assert.deepEqual(ollama.requests.map((r) => r.model), ["llama3.2:1b"])
  })

  it("prices a job on its model's own price", async () => {
    provider = await startProvider({
      relays: [relay.url],
      "ollama.host": ollama.url,
      "pricing.minPriceSats": 1,
      "pricing.pricePer1kTokens": 1000,
      "pricing.perModel": { "phi3:mini": 2000 },
      "payment.mode": "pay-after"
    })
    await provider.goOnline()
    const job = await customer.publish(customer.buildJob({ prompt: "one two three", tags: [["param", "model", "phi3:mini"]] }))
    const replies = customer.repliesFor(job.id)
    await waitFor(() => replies.results.length > 0, 15_000, "the result")
    const record = await provider.jobRecord(job.id)
    const tokens = (record?.promptTokens ?? 0) + (record?.completionTokens ?? 0)
    assert.ok(tokens > 0)
    assert.equal(record?.priceSats, tokens * 2, "2 sats a token on phi3:mini")
    assert.equal(tag(replies.results[0] as Event, "amount")?.[1], String(tokens * 2000))
  })

  it("announces again when the installed models change (read once a poll) and at once when the profile changes", async () => {
    pollModelsEvery(200)
    provider = await startProvider({ relays: [relay.url], "ollama.host": ollama.url, "textGeneration.models": ["llama3.2:1b", "mistral:7b"] })
    await provider.goOnline()
    const first = await latestAnnouncement(provider.pubkey)
    assert.deepEqual(contentOf(first).nip90Params.model.values, ["llama3.2:1b"])
    const showsBefore = ollama.showRequests

    ollama.models.push("mistral:7b")
    try {
      let latest: Event | undefined
      await waitFor(async () => {
        latest = await latestAnnouncement(provider!.pubkey)
        return contentOf(latest).nip90Params.model.values.includes("mistral:7b")
      }, 15_000, "an announcement listing the new model")
      assert.ok((latest?.created_at ?? 0) > (first?.created_at ?? 0))
      assert.deepEqual(contentOf(latest).nip90Params.model.values, ["llama3.2:1b", "mistral:7b"])
      // Context lengths are asked once per model version: the new model only, not every poll.
      assert.equal(ollama.showRequests - showsBefore, 1)
    } finally {
      ollama.models.pop()
    }

    await provider.updateConfig({ "profile.name": "Renamed" })
    await waitFor(async () => contentOf(await latestAnnouncement(provider!.pubkey)).name === "Renamed", 10_000, "an announcement with the new name")
  })

  it("still announces, without context lengths, when Ollama's /api/show never answers", async () => {
    ollama.showMode = "hang"
    ollama.modelFacts = {}
    // A model not asked about before, so no cached answer stands in.
    ollama.models.push("tinyllama:1.1b")
    try {
      provider = await startProvider({ relays: [relay.url], "ollama.host": ollama.url, "textGeneration.models": ["tinyllama:1.1b"] })
      await provider.goOnline()
      const content = contentOf(await latestAnnouncement(provider.pubkey))
      assert.deepEqual(content.models, [{ name: "tinyllama:1.1b", parameterSize: "1.2B", pricePer1kTokens: 2000 }])
    } finally {
      ollama.models.pop()
    }
  })

  it("will not go online when no allowed model is installed, saying which", async () => {
    provider = await startProvider({ relays: [relay.url], "ollama.host": ollama.url, "textGeneration.models": ["gemma3"] })
    await assert.rejects(provider.goOnline(), /none of the models in sellCompute\.textGeneration\.models \(gemma3\) is installed in Ollama/)
  })
})
