// Honest quotes: once the model has run a job, a prompt is quoted near what Ollama counts, not at the
// byte bound. A bid that covers the real price is served (max_tokens lowered to fit), the charge
// stays within the bid, and pay-first asks for the expected prompt plus max_tokens. Learned from the
// history, so it holds across a restart.
import assert from "node:assert/strict"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Event } from "nostr-tools/pure"
import { promptTokenBound } from "../../src/dvm/pricing"
import { Customer, statusOf, tag } from "../support/customer"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startProvider, type TestProvider } from "../support/provider"
import { type RelayProcess, startRelay } from "../support/relay"

/** A 120-character English prompt: 21 words, so the stand-in counts 21 prompt tokens. */
const PROMPT = "Please explain in two short sentences why the sky looks blue on a clear day and red at sunset near the sea."
  .padEnd(120, ".")

describe("honest quotes", function() {
  this.timeout(30_000)
  let relay: RelayProcess
  let ollama: OllamaStandIn
  let provider: TestProvider | undefined
  let customer: Customer
  let dataDir: string

  const online = async (mode: "pay-after" | "pay-first") => {
    provider = await startProvider({
      relays: [relay.url],
      "ollama.host": ollama.url,
      "payment.mode": mode,
      "pricing.minPriceSats": 1,
      // 1 sat per token: the price is the tokens.
      "pricing.pricePer1kTokens": 1000,
      "textGeneration.maxTokens": 200,
      "limits.jobsPerMinutePerCustomer": 1000
    }, { dataDir })
    await provider.goOnline()
    return provider
  }
  const done = (id: string) => customer.repliesFor(id).feedback.some((f) => ["success", "error", "payment-required"].includes(statusOf(f) ?? ""))
  let sent = 0
  const send = async (tags: Array<Array<string>> = []) => {
    // A tag of its own, so two requests in one second are never the same event.
    const job = await customer.publish(customer.buildJob({ prompt: PROMPT, tags: [["p", (provider as TestProvider).pubkey], ["t", `q${++sent}`], ...tags] }))
    await waitFor(() => done(job.id), 15_000, "an answer")
    return job
  }

  before(async () => {
    ;[relay, ollama] = await Promise.all([startRelay(), startOllamaStandIn({ models: ["llama3.2:1b"] })])
    ollama.responder = () => Array.from({ length: 300 }, (_, i) => `w${i}`).join(" ")
    customer = new Customer([relay.url])
    await customer.listen()
  })
  after(async () => {
    customer?.close()
    await provider?.dispose()
    await Promise.all([relay?.stop(), ollama?.close()])
  })
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-quotes-"))
  })
  afterEach(async () => {
    await provider?.dispose()
    provider = undefined
    fs.rmSync(dataDir, { recursive: true, force: true })
  })

  it("serves a 100-sat bid for a 120-character prompt once the model has been seen, charging at most the bid", async () => {
    assert.equal(PROMPT.length, 120)
    await online("pay-after")
    const bid = ["bid", "100000"]
    // A model never seen: the safe bound (152 tokens) is more than the bid buys.
    const unseen = await send([bid])
    assert.match(tag(customer.repliesFor(unseen.id).feedback[0] as Event, "status")?.[2] ?? "", /does not cover this prompt/)
    assert.equal(promptTokenBound(PROMPT), 152)

    await send() // one job with no bid: the model is seen (21 prompt tokens counted)
    const served = await send([bid])
    const replies = customer.repliesFor(served.id)
    await waitFor(() => replies.feedback.some((f) => statusOf(f) === "success"), 15_000, "the success feedback").catch((e) => {
      throw new Error(`${e.message}: ${JSON.stringify(replies.feedback.map((f) => tag(f, "status")))}`)
    })
    assert.deepEqual(replies.feedback.map(statusOf), ["success"], "served")
    const charged = Number(tag(replies.results[0] as Event, "amount")?.[1])
    assert.ok(charged <= 100_000, `charged ${charged} msats, within the bid`)
    // The model was asked for what the rest of the bid buys: 100 sats minus the expected prompt.
    const asked = ollama.requests.at(-1)?.options.num_predict as number
    assert.ok(asked >= 60 && asked < 100, `max_tokens ${asked}`)
  })

  it("pay-first asks for the expected prompt plus max_tokens, learned from the history across a restart", async () => {
    await online("pay-first")
    const first = await send([["param", "max_tokens", "50"]])
    const firstAmount = Number(tag(customer.repliesFor(first.id).feedback.find((f) => statusOf(f) === "payment-required") as Event, "amount")?.[1])
    assert.equal(firstAmount, (152 + 50) * 1000, "a model never seen: the safe bound")
    ;(provider as TestProvider).wallet.pay(tag(customer.repliesFor(first.id).feedback.find((f) => statusOf(f) === "payment-required") as Event, "amount")?.[2] as string)
    await waitFor(() => customer.repliesFor(first.id).feedback.some((f) => statusOf(f) === "success"), 15_000, "the paid job done")

    await (provider as TestProvider).dispose()
    await online("pay-first") // same data dir: the history says what the model counted
    const second = await send([["param", "max_tokens", "50"]])
    const required = customer.repliesFor(second.id).feedback.find((f) => statusOf(f) === "payment-required") as Event
    const amount = Number(tag(required, "amount")?.[1])
    assert.ok(amount >= (21 + 50) * 1000, `${amount} msats covers the 21 counted prompt tokens and max_tokens`)
    assert.ok(amount <= Math.ceil(21 * 1.5 + 50) * 1000, `${amount} msats is within 1.5× of the counted prompt`)
  })
})
