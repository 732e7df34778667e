// Settings changed while online apply to the next job, without going offline and back: price,
// model, max tokens and payment mode. A real relay process, the Ollama API stand-in (which records
// every generation request) and a customer using nostr-tools as any NIP-90 client would.
import assert from "node:assert/strict"
import { Effect, SubscriptionRef } from "effect"
import type { Event } from "nostr-tools/pure"
import type { Config } from "../../src/dvm/config"
import { Kind5050DVM } from "../../src/dvm/services/Kind5050DVM"
import { Customer, statusOf, tag } from "../support/customer"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startProvider, type TestProvider } from "../support/provider"
import { type RelayProcess, startRelay } from "../support/relay"

const MODELS = ["llama3.2:1b", "qwen2.5:0.5b"]
/** Six words: the stand-in emits one token per word. */
const ANSWER = "one two three four five six"
/** Three words (prompt_eval_count 3), different for each job so no two requests share an id. */
let jobNumber = 0
const prompt = () => `job number ${++jobNumber}`

describe("settings changed while online apply to the next job", function() {
  this.timeout(30_000)
  let relay: RelayProcess
  let ollama: OllamaStandIn
  let provider: TestProvider
  let customer: Customer
  let onlineSince: number | undefined

  const baseConfig = (): Partial<Config> => ({
    relays: [relay.url],
    "ollama.host": ollama.url,
    "textGeneration.model": "llama3.2:1b",
    "textGeneration.maxTokens": 100,
    "pricing.minPriceSats": 1,
    // 1 sat per token: the price equals the tokens Ollama counted.
    "pricing.pricePer1kTokens": 1000,
    "payment.mode": "pay-after",
    "limits.jobsPerMinutePerCustomer": 10_000
  })

  const dvmStatus = () => provider.run(Effect.gen(function*() {
    return yield* SubscriptionRef.get((yield* Kind5050DVM).status)
  }))

  /** The pricing stated in the provider's current NIP-89 announcement on the relay. */
  const announcedPricing = async () => {
    const events = await customer.pool.querySync([relay.url], { kinds: [31990], authors: [provider.pubkey] })
    const latest = events.sort((a, b) => b.created_at - a.created_at)[0]
    return latest ? (JSON.parse(latest.content).pricing as { minPrice: number; pricePer1kTokens: number }) : undefined
  }

  /** Publishes a job addressed to the provider and waits for its last word (success or error). */
  const runJob = async (tags: Array<Array<string>> = []) => {
    const job = await customer.publish(customer.buildJob({ prompt: prompt(), tags: [["p", provider.pubkey], ...tags] }))
    const replies = customer.repliesFor(job.id)
    await waitFor(() => replies.feedback.some((f) => ["success", "error"].includes(statusOf(f) ?? "")), 15_000, `final feedback for ${job.id.slice(0, 8)}`)
    assert.deepEqual(replies.feedback.map(statusOf), ["success"])
    assert.equal(replies.results.length, 1)
    return { job, result: replies.results[0] as Event, success: replies.feedback[0] as Event }
  }

  before(async () => {
    ;[relay, ollama] = await Promise.all([startRelay(), startOllamaStandIn({ models: MODELS })])
    provider = await startProvider(baseConfig())
    await provider.goOnline()
    onlineSince = (await dvmStatus()).onlineSince
    customer = new Customer([relay.url])
    await customer.listen()
  })

  after(async () => {
    customer?.close()
    await provider?.dispose()
    await Promise.all([relay?.stop(), ollama?.close()])
  })

  beforeEach(async () => {
    ollama.reset()
    ollama.responder = () => ANSWER
    await provider.updateConfig(baseConfig())
  })

  afterEach(async () => {
    // None of the changes took the provider offline (or through a restart of its online session).
    const status = await dvmStatus()
    assert.equal(status.state, "online")
    assert.equal(status.onlineSince, onlineSince)
  })

  it("prices the next job at the new price per 1k tokens and minimum", async () => {
    const tokens = 3 + 6
    const before = await runJob()
    assert.equal(tag(before.result, "amount")?.[1], String(tokens * 1000))

    await provider.updateConfig({ "pricing.pricePer1kTokens": 5000 })
    const dearer = await runJob()
    const dearerInvoice = provider.wallet.issued.at(-1)
    assert.equal(dearerInvoice?.amountSats, tokens * 5)
    assert.deepEqual(tag(dearer.result, "amount"), ["amount", String(tokens * 5 * 1000), dearerInvoice?.bolt11])
    assert.deepEqual(tag(dearer.success, "amount"), ["amount", String(tokens * 5 * 1000), dearerInvoice?.bolt11])
    assert.equal((await provider.jobRecord(dearer.job.id))?.priceSats, tokens * 5)

    // Changed within the same second as the last change: the new announcement must still replace the
    // old one (a relay keeps, of two versions with the same created_at, the one with the lower id).
    await provider.updateConfig({ "pricing.minPriceSats": 500 })
    const floor = await runJob()
    assert.equal(provider.wallet.issued.at(-1)?.amountSats, 500)
    assert.equal(tag(floor.result, "amount")?.[1], String(500 * 1000))

    // The announcement on the relay is replaced with one stating the new price (in msats).
    const deadline = Date.now() + 10_000
    let pricing = await announcedPricing()
    while (pricing?.minPrice !== 500_000 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100))
      pricing = await announcedPricing()
    }
    assert.deepEqual({ min: pricing?.minPrice, per1k: pricing?.pricePer1kTokens }, { min: 500_000, per1k: 5_000_000 })
  })

  it("runs the next job on the newly set default model", async () => {
    const first = await runJob()
    assert.equal(ollama.requests.at(-1)?.model, "llama3.2:1b")
    assert.equal(first.result.content, ANSWER)

    ollama.responder = ({ model }) => `answered by ${model}`
    await provider.updateConfig({ "textGeneration.model": "qwen2.5:0.5b" })
    const second = await runJob()
    assert.deepEqual(ollama.requests.map((r) => r.model), ["llama3.2:1b", "qwen2.5:0.5b"])
    assert.equal(second.result.content, "answered by qwen2.5:0.5b")
    assert.equal((await provider.jobRecord(second.job.id))?.model, "qwen2.5:0.5b")
  })

  it("caps the next job's num_predict at the new maxTokens", async () => {
    await runJob([["param", "max_tokens", "100000"]])
    assert.equal(ollama.requests.at(-1)?.options.num_predict, 100)

    await provider.updateConfig({ "textGeneration.maxTokens": 4 })
    const capped = await runJob([["param", "max_tokens", "100000"]])
    assert.equal(ollama.requests.at(-1)?.options.num_predict, 4)
    // The stand-in stops at num_predict, so the customer gets four tokens and pays for 3 + 4.
    assert.equal(capped.result.content, "one two three four")
    assert.equal(tag(capped.result, "amount")?.[1], String((3 + 4) * 1000))

    // A job asking for fewer than the cap still gets what it asked for.
    await runJob([["param", "max_tokens", "2"]])
    assert.equal(ollama.requests.at(-1)?.options.num_predict, 2)
  })

  it("serves the next job free, with no invoice, after payment.mode becomes free", async () => {
    const paid = await runJob()
    assert.ok(tag(paid.result, "amount")?.[2], "a pay-after result carries a bolt11")
    const invoicesBefore = provider.wallet.issued.length

    await provider.updateConfig({ "payment.mode": "free" })
    const free = await runJob()
    assert.equal(tag(free.result, "amount"), undefined, "a free result asks for nothing")
    assert.match(tag(free.success, "status")?.[2] ?? "", /^done: \d+ tokens, free$/)
    assert.equal(tag(free.success, "amount"), undefined, "no invoice in the success feedback")
    assert.equal(provider.wallet.issued.length, invoicesBefore, "no invoice was created")
    const record = await provider.jobRecord(free.job.id)
    assert.equal(record?.payment, "free")
    assert.equal(record?.priceSats, 0)

    // And back: the job after that is billed again.
    await provider.updateConfig({ "payment.mode": "pay-after" })
    const billed = await runJob()
    assert.equal(provider.wallet.issued.length, invoicesBefore + 1)
    assert.deepEqual(tag(billed.result, "amount"), ["amount", String((3 + 6) * 1000), provider.wallet.issued.at(-1)?.bolt11])
  })
})
