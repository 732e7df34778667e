// `limits.maxRequestAgeSeconds`: a request older than the setting is dropped unanswered, even when
// it is inside the 120 s window the provider reads on going online (and even when the setting is
// below the parser's own default of 600 s, so only the setting itself can refuse it).
import assert from "node:assert/strict"
import { Customer, statusOf } from "../support/customer"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startProvider, type TestProvider } from "../support/provider"
import { type RelayProcess, startRelay } from "../support/relay"
import { RECENT_REQUEST_WINDOW_S } from "../../src/dvm/services/Kind5050DVM"

describe("requests older than limits.maxRequestAgeSeconds", function() {
  this.timeout(60_000)
  let relay: RelayProcess
  let ollama: OllamaStandIn
  let provider: TestProvider | undefined
  let customer: Customer

  const now = () => Math.floor(Date.now() / 1000)
  const MAX_AGE_S = 30
  /** Older than the setting, well inside the catch-up window. */
  const AGE_S = 60

  before(async () => {
    ;[relay, ollama] = await Promise.all([startRelay(), startOllamaStandIn({ models: ["llama3.2:1b"] })])
    assert.ok(AGE_S > MAX_AGE_S && AGE_S < RECENT_REQUEST_WINDOW_S - 30, "the old request is inside the catch-up window")
  })
  after(async () => {
    await Promise.all([relay?.stop(), ollama?.close()])
  })
  beforeEach(async () => {
    await relay.restart()
    ollama.reset()
    customer = new Customer([relay.url])
    await customer.listen()
  })
  afterEach(async () => {
    await provider?.dispose()
    provider = undefined
    customer.close()
  })

  const online = async () => {
    provider = await startProvider({
      relays: [relay.url],
      "ollama.host": ollama.url,
      "payment.mode": "free",
      "limits.maxRequestAgeSeconds": MAX_AGE_S
    })
    await provider.goOnline()
    return provider
  }

  it("a request arriving while online, dated past the setting, gets nothing; a fresh one after it is served", async () => {
    const p = await online()
    const old = await customer.publish(customer.buildJob({ prompt: "from a minute ago", createdAt: now() - AGE_S }))
    const fresh = await customer.publish(customer.buildJob({ prompt: "fresh" }))
    // The fresh request came after the old one on the same subscription: once it is served, the old one was seen.
    await waitFor(() => customer.repliesFor(fresh.id).feedback.some((f) => statusOf(f) === "success"), 15_000, "the fresh job served")
    assert.equal(await p.jobRecord(old.id), undefined, "the old request is not in the history")
    assert.deepEqual(customer.repliesFor(old.id), { feedback: [], results: [] }, "no answer to the old request")
    assert.deepEqual(ollama.requests.map((r) => r.prompt), ["fresh"])
  })

  it("a request published while offline, dated past the setting but inside the catch-up window, is not served on going online", async () => {
    const old = await customer.publish(customer.buildJob({ prompt: "stale while you were away", createdAt: now() - AGE_S }))
    const recent = await customer.publish(customer.buildJob({ prompt: "recent while you were away" }))
    const p = await online()
    await waitFor(() => customer.repliesFor(recent.id).feedback.some((f) => statusOf(f) === "success"), 15_000, "the recent job served")
    // Both were replayed together before EOSE; a marker published now comes after both.
    const marker = await customer.publish(customer.buildJob({ prompt: "marker" }))
    await waitFor(() => customer.repliesFor(marker.id).feedback.some((f) => statusOf(f) === "success"), 15_000, "the marker served")
    assert.equal(await p.jobRecord(old.id), undefined, "the stale request is not in the history")
    assert.deepEqual(customer.repliesFor(old.id), { feedback: [], results: [] }, "no answer to the stale request")
    assert.deepEqual([...ollama.requests.map((r) => r.prompt)].sort(), ["marker", "recent while you were away"])
  })
})
