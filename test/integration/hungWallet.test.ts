// A wallet that never answers (a stuck Spark SDK call, behind the Wallet interface): going online
// ends offline with the reason, a job that needs an invoice gets an error, the provider stays up,
// and once the wallet answers again the next job is served and billed.
import assert from "node:assert/strict"
import type { Event } from "nostr-tools/pure"
import { uniformDeadlines } from "../../src/dvm/services/walletDeadlines"
import { Customer, statusOf, tag } from "../support/customer"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startProvider, type TestProvider } from "../support/provider"
import { type RelayProcess, startRelay } from "../support/relay"

describe("a wallet that never answers", function() {
  this.timeout(30_000)
  let relay: RelayProcess
  let ollama: OllamaStandIn
  let provider: TestProvider
  let customer: Customer
  const unhandled: Array<unknown> = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason)

  before(async () => {
    process.on("unhandledRejection", onUnhandled)
    ;[relay, ollama] = await Promise.all([startRelay(), startOllamaStandIn({ models: ["llama3.2:1b"] })])
    provider = await startProvider(
      { relays: [relay.url], "ollama.host": ollama.url, "payment.mode": "pay-after" },
      { walletDeadlines: uniformDeadlines(300) }
    )
    customer = new Customer([relay.url])
    await customer.listen()
  })
  after(async () => {
    process.off("unhandledRejection", onUnhandled)
    customer?.close()
    await provider?.dispose()
    await Promise.all([relay?.stop(), ollama?.close()])
  })

  it("going online ends offline, saying the wallet did not answer", async () => {
    provider.wallet.hang = true
    await assert.rejects(provider.goOnline(), /the wallet is not ready: no answer from the wallet within 0\.3 s/)
  })

  it("a job whose invoice never comes gets an error, and the next one is billed once the wallet answers", async () => {
    provider.wallet.hang = false
    await provider.goOnline()
    provider.wallet.hang = true
    const stuck = await customer.publish(customer.buildJob({ prompt: "billed by a stuck wallet" }))
    await waitFor(() => customer.repliesFor(stuck.id).feedback.some((f) => statusOf(f) === "error"), 20_000, "the stuck job's error")
    const error = customer.repliesFor(stuck.id).feedback.find((f) => statusOf(f) === "error") as Event
    assert.match(tag(error, "status")?.[2] ?? "", /could not create an invoice: no answer from the wallet within 0\.3 s/)
    assert.equal(customer.repliesFor(stuck.id).results.length, 0)

    provider.wallet.hang = false
    const next = await customer.publish(customer.buildJob({ prompt: "billed by a wallet that answers" }))
    await waitFor(() => customer.repliesFor(next.id).feedback.some((f) => statusOf(f) === "success"), 20_000, "the next job's success")
    const result = customer.repliesFor(next.id).results[0] as Event
    assert.match(tag(result, "amount")?.[2] ?? "", /^lnbc/, "billed")
    assert.deepEqual(unhandled, [])
  })
})
