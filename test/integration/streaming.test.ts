// Customers see the answer as it is written: while a slow model writes, `partial` feedback carries
// the text so far (each a prefix of the final text, at least two, none after the result), encrypted
// like the request; an interval of 0 sends none; a cancelled job's partials stop.
import assert from "node:assert/strict"
import { AbstractRelay } from "nostr-tools/abstract-relay"
import type { Event } from "nostr-tools/pure"
import WebSocket from "ws"
import { Customer, statusOf } from "../support/customer"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startProvider, type TestProvider } from "../support/provider"
import { type RelayProcess, startRelay } from "../support/relay"

const WORDS = Array.from({ length: 40 }, (_, i) => `word${i}`).join(" ")

describe("partial results while the model writes", function() {
  this.timeout(30_000)
  let relay: RelayProcess
  let ollama: OllamaStandIn
  let provider: TestProvider
  let customer: Customer
  /** Everything the provider published, in the order the relay sent it to one subscriber. */
  const seen: Array<Event> = []
  let watcher: AbstractRelay

  const partialsOf = (id: string) => seen.filter((e) => e.kind === 7000 && statusOf(e) === "partial" && e.tags.some((t) => t[0] === "e" && t[1] === id))
  const resultIndex = (id: string) => seen.findIndex((e) => e.kind === 6050 && e.tags.some((t) => t[0] === "e" && t[1] === id))
  const done = (id: string) => customer.repliesFor(id).feedback.some((f) => ["success", "error"].includes(statusOf(f) ?? ""))

  before(async () => {
    ;[relay, ollama] = await Promise.all([startRelay(), startOllamaStandIn({ models: ["llama3.2:1b"] })])
    ollama.responder = () => WORDS
    provider = await startProvider({ relays: [relay.url], "ollama.host": ollama.url, "payment.mode": "free", "streaming.intervalMs": 200 })
    await provider.goOnline()
    customer = new Customer([relay.url])
    await customer.listen()
    watcher = new AbstractRelay(relay.url, { verifyEvent: () => true, websocketImplementation: WebSocket as unknown as typeof globalThis.WebSocket })
    await watcher.connect()
    watcher.subscribe([{ kinds: [7000, 6050], authors: [provider.pubkey] }], { onevent: (e) => void seen.push(e as Event) })
  })
  after(async () => {
    watcher?.close()
    customer?.close()
    await provider?.dispose()
    await Promise.all([relay?.stop(), ollama?.close()])
  })
  beforeEach(() => {
    ollama.delayMsPerToken = 30 // 40 tokens: 1.2 s of writing, several intervals
  })

  it("sends the text so far at least twice, each a prefix of the result, none after it", async () => {
    const job = await customer.publish(customer.buildJob({ prompt: "write slowly" }))
    await waitFor(() => done(job.id), 15_000, "the job done")
    await new Promise((resolve) => setTimeout(resolve, 300)) // anything late would have arrived
    const result = customer.repliesFor(job.id).results[0] as Event
    const partials = partialsOf(job.id)
    assert.ok(partials.length >= 2, `${partials.length} partials`)
    // 1.2 s of writing at one partial per 200 ms at most (a slow machine sends fewer, never more).
    assert.ok(partials.length <= 8, `at most one per interval: ${partials.length} partials`)
    for (const p of partials) assert.ok(result.content.startsWith(p.content) && p.content.length > 0, `"${p.content}" is a prefix of the result`)
    assert.ok(partials.every((p, i) => i === 0 || p.content.length >= (partials[i - 1] as Event).content.length), "each supersedes the last")
    const last = seen.indexOf(partials.at(-1) as Event)
    assert.ok(last < resultIndex(job.id), "no partial after the result")
    assert.ok(result.content.endsWith("word39"), "the whole text")
  })

  it("encrypts each partial in the request's scheme", async () => {
    for (const scheme of ["nip04", "nip44"] as const) {
      const job = await customer.publish(customer.buildJob({ prompt: "a secret, slowly", encrypt: { scheme, provider: provider.pubkey } }))
      await waitFor(() => done(job.id), 15_000, `the ${scheme} job done`)
      const result = customer.repliesFor(job.id).results[0] as Event
      const full = customer.decrypt(scheme, provider.pubkey, result.content)
      const partials = partialsOf(job.id)
      assert.ok(partials.length >= 2, `${scheme}: ${partials.length} partials`)
      for (const p of partials) {
        assert.ok(p.tags.some((t) => t[0] === "encrypted"), "marked encrypted")
        assert.ok(!p.content.includes("word"), "no text in the clear")
        assert.ok(full.startsWith(customer.decrypt(scheme, provider.pubkey, p.content)), "decrypts to a prefix of the result")
      }
    }
  })

  it("sends none when the interval is 0", async () => {
    await provider.updateConfig({ "streaming.intervalMs": 0 })
    try {
      const job = await customer.publish(customer.buildJob({ prompt: "no streaming" }))
      await waitFor(() => done(job.id), 15_000, "the job done")
      assert.equal(partialsOf(job.id).length, 0)
      assert.equal(customer.repliesFor(job.id).results.length, 1)
    } finally {
      await provider.updateConfig({ "streaming.intervalMs": 200 })
    }
  })

  it("stops the partials of a job its customer cancels", async () => {
    ollama.delayMsPerToken = 100 // 4 s of writing
    const job = await customer.publish(customer.buildJob({ prompt: "cancel me while I write" }))
    await waitFor(() => partialsOf(job.id).length >= 1, 10_000, "a first partial")
    await customer.cancel(job)
    await waitFor(async () => (await provider.jobRecord(job.id))?.status === "error", 10_000, "the job cancelled")
    const atCancel = partialsOf(job.id).length
    await new Promise((resolve) => setTimeout(resolve, 1000))
    assert.ok(partialsOf(job.id).length <= atCancel, "no partial after the cancellation")
    assert.equal(resultIndex(job.id), -1, "no result")
    assert.ok(ollama.aborted >= 1, "the model was stopped")
  })

  it("says so in its announcement", async () => {
    const [handler] = await customer.pool.querySync([relay.url], { kinds: [31990], authors: [provider.pubkey] })
    assert.equal(JSON.parse((handler as Event).content).streaming, true)
  })
})
