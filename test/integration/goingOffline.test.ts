// Going offline while a job runs: the Ollama request is aborted and the customer hears why.
import assert from "node:assert/strict"
import type { Event } from "nostr-tools/pure"
import { Customer, statusOf, tag } from "../support/customer"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startProvider, type TestProvider } from "../support/provider"
import { type RelayProcess, startRelay } from "../support/relay"

describe("going offline with a job in progress", function() {
  this.timeout(30_000)
  let relay: RelayProcess
  let ollama: OllamaStandIn
  let provider: TestProvider
  let customer: Customer

  before(async () => {
    ;[relay, ollama] = await Promise.all([startRelay(), startOllamaStandIn({ models: ["llama3.2:1b"], mode: "hang" })])
    provider = await startProvider({ relays: [relay.url], "ollama.host": ollama.url })
    await provider.goOnline()
    customer = new Customer([relay.url])
    await customer.listen()
  })
  after(async () => {
    customer?.close()
    await provider?.dispose()
    await Promise.all([relay?.stop(), ollama?.close()])
  })

  it("aborts the inference, sends error feedback and no result", async () => {
    const job = await customer.publish(customer.buildJob({ prompt: "a long story" }))
    await waitFor(() => ollama.inFlight === 1, 10_000, "inference started")
    const replies = customer.repliesFor(job.id)
    await waitFor(() => replies.feedback.some((f) => statusOf(f) === "processing"), 10_000, "the customer told the job is running")
    await provider.goOffline()
    await waitFor(() => replies.feedback.some((f) => statusOf(f) === "error"), 10_000, "error feedback")
    assert.deepEqual(replies.feedback.map(statusOf), ["processing", "error"])
    assert.match(tag(replies.feedback[1] as Event, "status")?.[2] ?? "", /went offline/)
    assert.equal(replies.results.length, 0)
    await waitFor(() => ollama.aborted === 1, 5000, "the Ollama request aborted")
  })
})

describe("going offline while a result is being delivered", function() {
  this.timeout(30_000)
  let fast: RelayProcess
  let stuck: RelayProcess
  let ollama: OllamaStandIn
  let provider: TestProvider
  let customer: Customer

  before(async () => {
    ;[fast, stuck, ollama] = await Promise.all([startRelay(), startRelay(), startOllamaStandIn({ models: ["llama3.2:1b"] })])
    provider = await startProvider({ relays: [fast.url, stuck.url], "ollama.host": ollama.url })
    await provider.goOnline()
    customer = new Customer([fast.url])
    await customer.listen()
  })
  after(async () => {
    customer?.close()
    stuck?.kill("SIGCONT")
    await provider?.dispose()
    await Promise.all([fast?.stop(), stuck?.stop(), ollama?.close()])
  })

  it("keeps a job whose result already reached a relay a success: no error feedback after the result", async () => {
    // A relay that stops answering: after the other relay accepts, the provider still gives it a grace
    // for its OK, so going offline right after the result arrives catches the job mid-delivery.
    stuck.kill("SIGSTOP")
    const job = await customer.publish(customer.buildJob({ prompt: "deliver me" }))
    const replies = customer.repliesFor(job.id)
    await waitFor(() => replies.results.length === 1, 10_000, "the result on the relay that answers")
    await provider.goOffline()

    const record = await provider.jobRecord(job.id)
    assert.equal(record?.status, "success", `recorded ${record?.status}: ${record?.error ?? ""}`)
    await new Promise((r) => setTimeout(r, 300)) // room for a wrongly sent error feedback to arrive
    assert.deepEqual(replies.feedback.map(statusOf).filter((s) => s === "error"), [])
    const withdrawals = await customer.pool.querySync([fast.url], { kinds: [5], authors: [provider.pubkey] })
    assert.equal(withdrawals.length, 1, "the announcement was withdrawn while the delivery was still under way")
  })
})
