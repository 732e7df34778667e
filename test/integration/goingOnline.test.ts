// Going online catches up on the recent past: requests published while the provider was offline
// are served once, and a request its customer deleted meanwhile is never run.
import assert from "node:assert/strict"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { finalizeEvent } from "nostr-tools/pure"
import { Customer, statusOf } from "../support/customer"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startProvider, type TestProvider } from "../support/provider"
import { type RelayProcess, startRelay } from "../support/relay"

describe("going online after time offline", function() {
  this.timeout(30_000)
  let relayA: RelayProcess
  let relayB: RelayProcess
  let ollama: OllamaStandIn
  let provider: TestProvider | undefined
  let customer: Customer

  before(async () => {
    ;[relayA, relayB, ollama] = await Promise.all([startRelay(), startRelay(), startOllamaStandIn({ models: ["llama3.2:1b"] })])
    customer = new Customer([relayA.url, relayB.url])
    await customer.listen()
  })
  after(async () => {
    customer?.close()
    await Promise.all([relayA?.stop(), relayB?.stop(), ollama?.close()])
  })
  afterEach(async () => {
    await provider?.dispose()
    provider = undefined
    ollama.reset()
    ollama.delayMsPerToken = 0
  })

  it("serves a request published while it was offline once, with no error feedback", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-online-"))
    const first = await startProvider({ relays: [relayA.url], "ollama.host": ollama.url }, { dataDir })
    await first.goOnline()
    const before = await customer.publish(customer.buildJob({ prompt: "before the restart" }), [relayA.url])
    await waitFor(() => customer.repliesFor(before.id).results.length === 1, 10_000, "the first job's result")
    const keyHex = first.secretKeyHex
    await first.dispose()

    const job = await customer.publish(customer.buildJob({ prompt: "while you were away" }), [relayA.url])
    provider = await startProvider({ relays: [relayA.url], "ollama.host": ollama.url }, { dataDir, secretKeyHex: keyHex })
    await provider.goOnline()
    const replies = customer.repliesFor(job.id)
    await waitFor(() => replies.feedback.some((f) => statusOf(f) === "success"), 10_000, "success")
    await new Promise((r) => setTimeout(r, 300)) // room for a wrong extra reply to arrive
    assert.deepEqual(replies.feedback.map(statusOf), ["processing", "success"])
    assert.equal(replies.results.length, 1)
    assert.equal(customer.repliesFor(before.id).results.length, 1, "the job handled before the restart is not run again")
    assert.equal(ollama.requests.length, 2)
  })

  it("never runs a request its customer deleted before the provider came online", async () => {
    // The request stays on relay A; the deletion only reaches relay B (relays need not honour NIP-09),
    // so going online replays both, in whatever order the relays send them.
    ollama.delayMsPerToken = 200 // a job started by mistake would still be running when checked
    // A customer of its own: the earlier test's requests are still on relay A and are replayed too,
    // and must not count against this customer's limits.
    const withdrawing = new Customer([relayA.url, relayB.url])
    await withdrawing.listen()
    try {
      const job = await withdrawing.publish(withdrawing.buildJob({ prompt: "never mind" }), [relayA.url])
      const deletion = finalizeEvent(
        { kind: 5, created_at: Math.floor(Date.now() / 1000), tags: [["e", job.id], ["k", "5050"]], content: "" },
        withdrawing.secretKey
      )
      await withdrawing.publish(deletion, [relayB.url])

      provider = await startProvider({ relays: [relayA.url, relayB.url], "ollama.host": ollama.url })
      await provider.goOnline()
      const p = provider
      await waitFor(async () => (await p.jobRecord(job.id))?.status === "error", 10_000, "the deleted request ended")
      assert.equal((await p.jobRecord(job.id))?.error, "cancelled by the customer")
      await new Promise((r) => setTimeout(r, 500))
      assert.equal(withdrawing.repliesFor(job.id).results.length, 0, "no result for the deleted request")
      assert.ok(ollama.requests.every((r) => r.prompt !== "never mind") || ollama.aborted === 1, "never run, or stopped at once")
    } finally {
      withdrawing.close()
    }
  })
})
