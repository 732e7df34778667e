// Summaries (5001) and translations (5002) through the real provider, relay and Ollama API: the
// kind's prompt reaches the model, the answer comes back as 6001 / 6002, a note (event input) and
// another job's result (job input) are fetched, and bad params or missing inputs get a clear error.
import assert from "node:assert/strict"
import type { Event } from "nostr-tools/pure"
import { finalizeEvent, generateSecretKey } from "nostr-tools/pure"
import { Customer, statusOf, tag } from "../support/customer"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startProvider, type TestProvider } from "../support/provider"
import { type RelayProcess, startRelay } from "../support/relay"

describe("job kinds 5001 and 5002 through the provider", function() {
  this.timeout(40_000)
  let relay: RelayProcess
  let ollama: OllamaStandIn
  let provider: TestProvider
  let customer: Customer

  before(async () => {
    ;[relay, ollama] = await Promise.all([startRelay(), startOllamaStandIn({ models: ["llama3.2:1b"] })])
    provider = await startProvider({
      relays: [relay.url],
      "ollama.host": ollama.url,
      "payment.mode": "free",
      "limits.jobsPerMinutePerCustomer": 10_000,
      "limits.jobsInFlightPerCustomer": 10
    })
    await provider.goOnline()
    customer = new Customer([relay.url])
    await customer.listen()
  })

  after(async () => {
    customer?.close()
    await provider?.dispose()
    await Promise.all([relay?.stop(), ollama?.close()])
  })

  const finished = async (event: Event) => {
    await customer.publish(event)
    const replies = customer.repliesFor(event.id)
    await waitFor(() => replies.feedback.some((f) => ["success", "error"].includes(statusOf(f) ?? "")), 20_000, `final feedback for ${event.id.slice(0, 8)}`)
    return replies
  }

  /** The stand-in model answers word by word: its text has single spaces where the prompt had any whitespace. */
  const words = (text: string) => text.split(/\s+/).join(" ")

  /** Sets the kinds served and waits until the provider's request subscription follows them. */
  const followed = async (kinds: Array<5050 | 5001 | 5002>) => {
    const from = provider.logs.length
    await provider.updateConfig({ supportedJobKinds: kinds })
    await waitFor(() => provider.logs.slice(from).some((l) => l.endsWith(`Now serving kinds ${kinds.join(", ")}`)), 10_000, "the new kinds followed")
  }

  const errorOf = (replies: { feedback: Array<Event> }) => tag(replies.feedback.find((f) => statusOf(f) === "error") as Event, "status")?.[2]

  it("serves a summary (5001) of text as kind 6001, the length in the instruction the model gets", async () => {
    const job = customer.buildJob({ kind: 5001, prompt: "Nostr is a protocol. Relays store notes.", tags: [["param", "length", "1 sentence"]] })
    const replies = await finished(job)
    assert.equal(replies.results.length, 1)
    const result = replies.results[0] as Event
    assert.equal(result.kind, 6001)
    assert.equal(tag(result, "e")?.[1], job.id)
    assert.deepEqual(tag(result, "i"), ["i", "Nostr is a protocol. Relays store notes.", "text"])
    const asked = ollama.requests.at(-1)?.prompt
    assert.equal(asked, "Summarize the following text in 1 sentence. Reply with the summary only, in the language of the text.\n\nNostr is a protocol. Relays store notes.")
    assert.equal(result.content, words(`Echo from llama3.2:1b: ${asked}`))
  })

  it("translates a note (5002, event input) into the language asked, and chains a job's result as the next job's input", async () => {
    const note = finalizeEvent({ kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: "Good morning, relays." }, generateSecretKey())
    await customer.publish(note)
    const translate = customer.buildJob({ kind: 5002, tags: [["i", note.id, "event"], ["param", "language", "es"]] })
    const replies = await finished(translate)
    const result = replies.results[0] as Event
    assert.equal(result.kind, 6002)
    assert.deepEqual(tag(result, "i"), ["i", note.id, "event"])
    assert.equal(result.content, words("Echo from llama3.2:1b: Translate the following text into Spanish. Reply with the translation only.\n\nGood morning, relays."))

    // The translation's result as the input of a summary: the job input is that result's content.
    const summary = customer.buildJob({ kind: 5001, tags: [["i", translate.id, "job"]] })
    const chained = await finished(summary)
    assert.equal((chained.results[0] as Event).kind, 6001)
    assert.equal(ollama.requests.at(-1)?.prompt, `Summarize the following text. Reply with the summary only, in the language of the text.\n\n${result.content}`)
  })

  it("refuses a bad length or language before any work, quoting it", async () => {
    const before = ollama.requests.length
    const length = await finished(customer.buildJob({ kind: 5001, prompt: "x", tags: [["param", "length", "short"]] }))
    assert.match(errorOf(length) ?? "", /^param length="short" is not valid: Expected a count and a unit/)
    const language = await finished(customer.buildJob({ kind: 5002, prompt: "x", tags: [["param", "language", "Spanish"]] }))
    assert.match(errorOf(language) ?? "", /^param language="Spanish" is not valid: Expected an ISO 639-1 language code/)
    assert.equal(ollama.requests.length, before, "nothing reached the model")
    assert.equal(length.results.length + language.results.length, 0)
  })

  it("answers a note it cannot find with an error naming it, and runs nothing", async () => {
    const before = ollama.requests.length
    const missing = "9".repeat(64)
    const replies = await finished(customer.buildJob({ kind: 5001, tags: [["i", missing, "event"]] }))
    assert.equal(errorOf(replies), `the event input ${missing.slice(0, 12)}… was not found on ${relay.url}`)
    assert.equal(ollama.requests.length, before)
  })

  it("serves a kind added while online, without going offline", async () => {
    // Online with 5050 only: the subscription made on going online asks for 5050 alone.
    await provider.goOffline()
    await provider.updateConfig({ supportedJobKinds: [5050] })
    await provider.goOnline()
    await followed([5050, 5002])
    const replies = await finished(customer.buildJob({ kind: 5002, prompt: "Guten Morgen", tags: [["param", "language", "fr"]] }))
    assert.equal(replies.results[0]?.kind, 6002)
    await provider.updateConfig({ supportedJobKinds: [5050, 5001, 5002] })
  })

  it("serves only the kinds set: once supportedJobKinds is [5050, 5001], 5002 is left alone, open or addressed to it", async () => {
    try {
      await followed([5050, 5001])
      const open = await customer.publish(customer.buildJob({ kind: 5002, prompt: "para cualquiera" }))
      const addressed = await customer.publish(customer.buildJob({ kind: 5002, prompt: "hola", tags: [["p", provider.pubkey]] }))
      // A job of a kind still served, sent after them on the same connection, is answered.
      const replies = await finished(customer.buildJob({ kind: 5001, prompt: "still served" }))
      assert.equal(replies.results[0]?.kind, 6001)
      for (const request of [open, addressed]) {
        assert.deepEqual(customer.repliesFor(request.id), { feedback: [], results: [] })
        assert.equal(await provider.jobRecord(request.id), undefined)
      }
    } finally {
      await provider.updateConfig({ supportedJobKinds: [5050, 5001, 5002] })
    }
  })
})
