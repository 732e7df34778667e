// The job pipeline end to end: a real relay process, an HTTP server speaking Ollama's API, the
// wallet stand-in, and a customer using nostr-tools as any NIP-90 client would.
import assert from "node:assert/strict"
import { Effect } from "effect"
import type { Event } from "nostr-tools/pure"
import { type Config } from "../../src/dvm/config"
import { HANDLER_D_TAG } from "../../src/dvm/protocol/events"
import { JobStore } from "../../src/dvm/services/JobStore"
import { Customer, statusOf, tag } from "../support/customer"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startProvider, type TestProvider } from "../support/provider"
import { type RelayProcess, startRelay } from "../support/relay"

const MODELS = ["llama3.2:1b", "qwen2.5:0.5b"]

describe("job pipeline against a real relay and an Ollama API", function() {
  this.timeout(30_000)
  let relayA: RelayProcess
  let relayB: RelayProcess
  let ollama: OllamaStandIn
  let provider: TestProvider
  let customer: Customer

  const baseConfig = (): Partial<Config> => ({
    relays: [relayA.url, relayB.url],
    "ollama.host": ollama.url,
    "pricing.minPriceSats": 1,
    // 1 sat per token makes the price equal the token count Ollama reported.
    "pricing.pricePer1kTokens": 1000,
    maxConcurrentJobs: 2,
    // One test customer sends many jobs; rate limits have their own tests.
    "limits.jobsPerMinutePerCustomer": 10_000
  })

  /** Publishes a job and waits until the provider has said its last word (success or error). */
  const runJob = async (event: Event, relays?: ReadonlyArray<string>) => {
    await customer.publish(event, relays)
    const replies = customer.repliesFor(event.id)
    await waitFor(() => replies.feedback.some((f) => ["success", "error"].includes(statusOf(f) ?? "")), 15_000, `final feedback for ${event.id.slice(0, 8)}`)
    return replies
  }

  before(async () => {
    ;[relayA, relayB, ollama] = await Promise.all([startRelay(), startRelay(), startOllamaStandIn({ models: MODELS })])
    provider = await startProvider(baseConfig())
    await provider.goOnline()
    customer = new Customer([relayA.url, relayB.url])
    await customer.listen()
  })

  after(async () => {
    customer?.close()
    await provider?.dispose()
    await Promise.all([relayA?.stop(), relayB?.stop(), ollama?.close()])
  })

  beforeEach(() => {
    ollama.reset()
    ollama.setMode("ok")
    ollama.delayMsPerToken = 0
  })

  it("announces itself with a NIP-89 handler for kind 5050 on going online", async () => {
    const handlers = await customer.pool.querySync([relayA.url], { kinds: [31990], authors: [provider.pubkey] })
    assert.equal(handlers.length, 1)
    const handler = handlers[0] as Event
    assert.deepEqual(tag(handler, "d"), ["d", HANDLER_D_TAG])
    assert.deepEqual(handler.tags.filter((t) => t[0] === "k"), [["k", "5050"], ["k", "5001"], ["k", "5002"]])
    const profile = JSON.parse(handler.content)
    assert.equal(profile.name, "Sell Compute")
    assert.equal(profile.encryptionSupported, true)
    assert.equal(profile.pricing.unit, "msats")
    assert.equal(profile.pricing.pricePer1kTokens, 1_000_000)
  })

  it("beats a kind 11998 heartbeat pointing at its announcement, expiring in 15 minutes", async () => {
    const beats = await customer.pool.querySync([relayA.url], { kinds: [11998], authors: [provider.pubkey] })
    assert.ok(beats.length >= 1)
    const beat = beats[0] as Event
    assert.deepEqual(tag(beat, "a"), ["a", `31990:${provider.pubkey}:${HANDLER_D_TAG}`])
    const expiration = Number(tag(beat, "expiration")?.[1])
    assert.equal(expiration - beat.created_at, 900)
  })

  it("answers a job done before PROCESSING_AFTER_MS with its result and success only: no processing to wait through", async () => {
    ollama.responder = () => "instant"
    const job = customer.buildJob({ prompt: "quick one" })
    const replies = await runJob(job)
    assert.deepEqual(replies.feedback.map(statusOf), ["success"])
    assert.equal(replies.results.length, 1)
    assert.equal((replies.results[0] as Event).content, "instant")
  })

  it("serves a plain job that takes a while: processing, a 6050 result with every tag, then success", async () => {
    ollama.responder = () => "the sky is blue because of Rayleigh scattering"
    // 8 tokens 25 ms apart: still running when PROCESSING_AFTER_MS has passed.
    ollama.delayMsPerToken = 25
    const job = customer.buildJob({
      prompt: "why is the sky blue",
      tags: [["param", "model", "qwen2.5:0.5b"], ["param", "max_tokens", "100000"], ["param", "temperature", "0.2"], ["param", "top-k", "7"]]
    })
    const replies = await runJob(job)

    assert.deepEqual(replies.feedback.map(statusOf), ["processing", "success"])
    assert.equal(replies.results.length, 1)
    const result = replies.results[0] as Event
    assert.equal(result.kind, 6050)
    assert.equal(result.pubkey, provider.pubkey)
    assert.equal(result.content, "the sky is blue because of Rayleigh scattering")
    assert.deepEqual(JSON.parse(tag(result, "request")?.[1] ?? "null"), JSON.parse(JSON.stringify(job)))
    assert.equal(tag(result, "e")?.[1], job.id)
    assert.deepEqual(result.tags.filter((t) => t[0] === "i"), [["i", "why is the sky blue", "text"]])
    assert.deepEqual(tag(result, "p"), ["p", customer.pubkey])

    // Price comes from Ollama's own counts: 5 prompt words + 8 generated words at 1 sat per token.
    const tokens = 5 + 8
    const invoice = provider.wallet.issued.at(-1)
    assert.equal(invoice?.amountSats, tokens)
    assert.deepEqual(tag(result, "amount"), ["amount", String(tokens * 1000), invoice?.bolt11])
    assert.deepEqual(tag(replies.feedback[1] as Event, "amount"), ["amount", String(tokens * 1000), invoice?.bolt11])
    // Every feedback says something a person can read.
    assert.deepEqual(tag(replies.feedback[0] as Event, "status"), ["status", "processing", "running on qwen2.5:0.5b"])
    assert.deepEqual(tag(replies.feedback[1] as Event, "status"), ["status", "success", `done: ${tokens} tokens, ${tokens} sats`])

    // The model param was honoured; max_tokens was capped at our setting; the rest passed through.
    const request = ollama.requests.at(-1)
    assert.equal(request?.model, "qwen2.5:0.5b")
    assert.equal(request?.options.num_predict, 512)
    assert.equal(request?.options.temperature, 0.2)
    assert.equal(request?.options.top_k, 7)

    const record = await provider.run(Effect.gen(function*() {
      return yield* (yield* JobStore).get(job.id)
    }))
    assert.equal(record?.status, "success")
    assert.equal(record?.payment, "unpaid")
    assert.equal(record?.priceSats, tokens)
    // What the dashboard shows: the prompt's start, when it ran, and the result it got.
    assert.equal(record?.promptPreview, "why is the sky blue")
    assert.equal(record?.resultId, result.id)
    assert.ok(record?.startedAt !== undefined && record.finishedAt !== undefined && record.receivedAt <= record.startedAt && record.startedAt <= record.finishedAt)
  })

  for (const scheme of ["nip04", "nip44"] as const) {
    it(`serves a ${scheme.toUpperCase()}-encrypted job and answers in the same scheme`, async () => {
      ollama.responder = () => "secret answer"
      const job = customer.buildJob({
        prompt: "a private question",
        tags: [["param", "max_tokens", "50"]],
        encrypt: { scheme, provider: provider.pubkey }
      })
      assert.equal(job.content.includes("?iv="), scheme === "nip04")
      const replies = await runJob(job)
      assert.deepEqual(replies.feedback.map(statusOf), ["success"])
      const result = replies.results[0] as Event
      assert.ok(tag(result, "encrypted"), "result is marked encrypted")
      assert.equal(result.tags.filter((t) => t[0] === "i").length, 0, "no cleartext inputs in the result")
      assert.notEqual(result.content, "secret answer")
      assert.equal(result.content.includes("?iv="), scheme === "nip04")
      assert.equal(customer.decrypt(scheme, provider.pubkey, result.content), "secret answer")
      assert.equal(ollama.requests.at(-1)?.prompt, "a private question")
      assert.equal(ollama.requests.at(-1)?.options.num_predict, 50)
      const record = await provider.jobRecord(job.id)
      assert.equal(record?.promptPreview, undefined, "an encrypted prompt is never kept")
      assert.equal(record?.resultId, result.id)
    })
  }

  it("ignores a job p-tagged to another provider, and serves the next one", async () => {
    const other = new Customer([]).pubkey
    const foreign = customer.buildJob({ prompt: "not for you", tags: [["p", other]] })
    await customer.publish(foreign)
    const mine = customer.buildJob({ prompt: "for you", tags: [["p", provider.pubkey]] })
    const replies = await runJob(mine)
    assert.deepEqual(replies.feedback.map(statusOf), ["success"])
    assert.deepEqual(customer.repliesFor(foreign.id), { feedback: [], results: [] })
    assert.deepEqual(ollama.requests.map((r) => r.prompt), ["for you"])
  })

  it("runs the same job seen on two relays only once", async () => {
    const job = customer.buildJob({ prompt: "count me once" })
    await Promise.all([customer.publish(job, [relayA.url]), customer.publish(job, [relayB.url])])
    const replies = customer.repliesFor(job.id)
    await waitFor(() => replies.feedback.some((f) => statusOf(f) === "success"), 15_000, "success")
    // Give a duplicate time to show up before concluding there is none.
    const second = customer.buildJob({ prompt: "a later job" })
    await runJob(second)
    assert.equal(ollama.requests.filter((r) => r.prompt === "count me once").length, 1)
    assert.equal(new Set(replies.results.map((r) => r.id)).size, 1)
    assert.deepEqual(replies.feedback.map(statusOf), ["success"])
  })

  it("answers malformed requests with a readable error, then serves the next valid job", async () => {
    const cases: Array<[Event, RegExp]> = [
      [customer.buildJob({ prompt: "x", tags: [["param", "temperature", "hot"]] }), /param temperature/],
      [customer.buildJob({ tags: [["i", "https://example.com/a.txt", "url"]] }), /input type "url" is not supported/],
      [customer.buildJob({}), /no prompt/],
      [customer.buildJob({ prompt: "x", tags: [["param", "max_tokens", "-5"]] }), /param max_tokens/],
      [customer.buildJob({ prompt: "x", tags: [["bid", "lots"]] }), /bid/],
      [customer.buildJob({ prompt: "x".repeat(16_001) }), /prompt is too long/],
      [customer.buildJob({ prompt: "x", tags: [["param", "padding", "y".repeat(30_000)]] }), /request is too large/]
    ]
    for (const [event, reason] of cases) {
      const replies = await runJob(event)
      assert.deepEqual(replies.feedback.map(statusOf), ["error"], `only an error for ${reason}`)
      assert.match(tag(replies.feedback[0] as Event, "status")?.[2] ?? "", reason)
      assert.equal(replies.results.length, 0)
    }
    const good = await runJob(customer.buildJob({ prompt: "still there?" }))
    assert.deepEqual(good.feedback.map(statusOf), ["success"])
    assert.deepEqual(ollama.requests.map((r) => r.prompt), ["still there?"])
  })

  it("answers an encrypted request it cannot decrypt with an error", async () => {
    const stranger = new Customer([])
    // Encrypted for a different key but p-tagged to us: we cannot read it.
    const job = customer.buildJob({ prompt: "x", encrypt: { scheme: "nip44", provider: stranger.pubkey } })
    const retagged = customer.buildJob({ content: job.content, tags: [["p", provider.pubkey], ["encrypted"]] })
    const replies = await runJob(retagged)
    assert.deepEqual(replies.feedback.map(statusOf), ["error"])
    assert.match(tag(replies.feedback[0] as Event, "status")?.[2] ?? "", /could not decrypt/)
  })

  it("keeps an encrypted request's values secret in its error: the public status says only invalid request", async () => {
    for (const scheme of ["nip04", "nip44"] as const) {
      const job = customer.buildJob({
        prompt: "a secret prompt",
        tags: [["param", "temperature", "7.77"], ["bid", "12345x"]],
        encrypt: { scheme, provider: provider.pubkey }
      })
      const replies = await runJob(job)
      assert.deepEqual(replies.feedback.map(statusOf), ["error"])
      const error = replies.feedback[0] as Event
      assert.deepEqual(tag(error, "status"), ["status", "error", "invalid request"])
      assert.ok(error.tags.some((t) => t[0] === "encrypted"))
      assert.ok(!error.tags.some((t) => t[0] === "amount"))
      const publicText = JSON.stringify(error.tags)
      assert.ok(!publicText.includes("7.77") && !publicText.includes("temperature"), publicText)
      const reason = customer.decrypt(scheme, provider.pubkey, error.content)
      assert.match(reason, /param temperature="7.77" is not valid/)
      assert.ok(!JSON.stringify(await provider.jobRecord(job.id)).includes("7.77"), "nor in the history")
      assert.ok(!provider.logs.some((line) => line.includes("7.77")), "nor in the log")
    }
  })

  it("reports Ollama failing with HTTP 500 and recovers when it is back", async () => {
    ollama.setMode("fail500")
    const failed = await runJob(customer.buildJob({ prompt: "will fail" }))
    assert.deepEqual(failed.feedback.map(statusOf), ["error"])
    assert.match(tag(failed.feedback[0] as Event, "status")?.[2] ?? "", /Ollama/)
    assert.equal(failed.results.length, 0)
    ollama.setMode("ok")
    const ok = await runJob(customer.buildJob({ prompt: "works again" }))
    assert.deepEqual(ok.feedback.map(statusOf), ["success"])
  })

  it("reports Ollama unreachable and recovers when it is back", async () => {
    await ollama.stop()
    try {
      const failed = await runJob(customer.buildJob({ prompt: "nobody home" }))
      assert.deepEqual(failed.feedback.map(statusOf), ["error"])
      assert.match(tag(failed.feedback[0] as Event, "status")?.[2] ?? "", /not reachable/)
    } finally {
      await ollama.start()
    }
    const ok = await runJob(customer.buildJob({ prompt: "back again" }))
    assert.deepEqual(ok.feedback.map(statusOf), ["success"])
  })

  it("refuses to go online with a readable reason when Ollama is unreachable", async () => {
    const offline = await startProvider({ ...baseConfig(), "ollama.host": "http://127.0.0.1:9" })
    try {
      await assert.rejects(offline.goOnline(), /Cannot go online: Ollama is not reachable at http:\/\/127\.0\.0\.1:9/)
    } finally {
      await offline.dispose()
    }
  })

  it("refuses to go online with a readable reason when Ollama has no model, or not the configured one", async () => {
    const empty = await startOllamaStandIn({ models: [] })
    const bare = await startProvider({ ...baseConfig(), "ollama.host": empty.url })
    const wrongModel = await startProvider({ ...baseConfig(), "textGeneration.model": "mistral:7b" })
    try {
      await assert.rejects(bare.goOnline(), /Cannot go online: Ollama at http:\/\/127\.0\.0\.1:\d+ has no models installed \(try `ollama pull/)
      await assert.rejects(wrongModel.goOnline(), /Cannot go online: the model "mistral:7b" set in sellCompute\.textGeneration\.model is not installed in Ollama/)
    } finally {
      await Promise.all([bare.dispose(), wrongModel.dispose()])
      await empty.close()
    }
  })

  it("never writes its secret key to the log", () => {
    assert.ok(provider.logs.length > 0)
    for (const line of provider.logs) assert.ok(!line.includes(provider.secretKeyHex), line)
  })

  it("withdraws its announcement with a kind 5 deletion on going offline", async () => {
    await provider.goOffline()
    const deletions = await customer.pool.querySync([relayA.url, relayB.url], { kinds: [5], authors: [provider.pubkey] })
    assert.ok(deletions.length >= 1)
    assert.deepEqual(tag(deletions[0] as Event, "a"), ["a", `31990:${provider.pubkey}:${HANDLER_D_TAG}`])
    const handlers = await customer.pool.querySync([relayA.url], { kinds: [31990], authors: [provider.pubkey] })
    assert.equal(handlers.length, 0, "the relay honoured the deletion")
  })
})
