// An OpenAI-compatible server (vLLM, llama.cpp's server, LM Studio, TGI) as the model server: the
// real provider, a real relay, and an HTTP server speaking the OpenAI API (test/support/openai-server.ts).
// Jobs are priced from the server's `usage`, or from tokens counted here when it sends none (said
// once per model); a customer's cancel aborts the HTTP request at the server; a server error reaches
// the customer as a readable reason; the API key goes to the server as a Bearer token and nowhere else.
import assert from "node:assert/strict"
import type { Event } from "nostr-tools/pure"
import { promptTokenBound } from "../../src/dvm/pricing"
import { Inference } from "../../src/dvm/services/Inference"
import { Kind5050DVM } from "../../src/dvm/services/Kind5050DVM"
import { Customer, statusOf, tag } from "../support/customer"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startOpenAiStandIn, type OpenAiStandIn } from "../support/openai-server"
import { startProvider, type TestProvider } from "../support/provider"
import { type RelayProcess, startRelay } from "../support/relay"

const API_KEY = "sk-test-4f9b2c7e1d0a8b3c6e5f"
const MODEL = "qwen2.5-0.5b-instruct"
/** The stand-in adds this to usage.prompt_tokens (a chat template's tokens): no count of ours gives it. */
const TEMPLATE_TOKENS = 9

describe("OpenAI-compatible backend", function() {
  this.timeout(30_000)
  let relay: RelayProcess
  let server: OpenAiStandIn
  let ollama: OllamaStandIn
  let provider: TestProvider
  let customer: Customer
  let sent = 0

  const finished = (id: string) => customer.repliesFor(id).feedback.some((f) => ["success", "error"].includes(statusOf(f) ?? ""))
  const runJob = async (prompt: string, tags: Array<Array<string>> = []) => {
    // A tag of its own, so two requests with one prompt in one second are never the same event.
    const job = await customer.publish(customer.buildJob({ prompt, tags: [["t", `o${++sent}`], ...tags] }))
    await waitFor(() => finished(job.id), 15_000, `the answer to "${prompt}"`)
    return { job, replies: customer.repliesFor(job.id) }
  }
  const statusText = (event: Event | undefined) => (event ? tag(event, "status")?.[2] ?? "" : "")
  /** Everything the provider said anywhere: its log, and every event it sent the customer. */
  const everythingSaid = () => [
    ...provider.logs,
    ...provider.consoleLines,
    ...[...customer.replies.values()].flatMap((r) => [...r.feedback, ...r.results].map((e) => JSON.stringify(e)))
  ]

  before(async () => {
    ;[relay, server, ollama] = await Promise.all([
      startRelay(),
      startOpenAiStandIn({ models: [MODEL, "llama-3.1-8b"], apiKey: API_KEY, promptTokenOverhead: TEMPLATE_TOKENS }),
      startOllamaStandIn({ models: ["llama3.2:1b"] })
    ])
    provider = await startProvider({
      relays: [relay.url],
      "inference.backend": "openai",
      "openai.baseUrl": server.baseUrl,
      "textGeneration.model": MODEL,
      "pricing.minPriceSats": 1,
      // 1 sat per token: the price is the tokens.
      "pricing.pricePer1kTokens": 1000,
      "textGeneration.maxTokens": 200,
      maxConcurrentJobs: 2,
      "limits.jobsPerMinutePerCustomer": 10_000
    }, { secrets: { openaiApiKey: API_KEY } })
    await provider.goOnline()
    customer = new Customer([relay.url])
    await customer.listen()
  })
  after(async () => {
    customer?.close()
    await provider?.dispose()
    await Promise.all([relay?.stop(), server?.close(), ollama?.close()])
  })
  beforeEach(async () => {
    server.reset()
    server.mode = "ok"
    server.sendsUsage = true
    server.apiKey = API_KEY
    server.refusedParams = []
    server.hangModels = false
    server.responder = ({ model, prompt }) => `Echo from ${model}: ${prompt}`
    await provider.updateConfig({ "inference.backend": "openai", "payment.mode": "pay-after", "streaming.intervalMs": 0 })
  })
  afterEach(() => server.release())

  it("lists the server's models in the status, with the key sent as a Bearer token", async () => {
    const status = await provider.run(Inference.use((inference) => inference.status))
    assert.deepEqual(status, { backend: "openai", reachable: true, host: server.baseUrl, models: [MODEL, "llama-3.1-8b"] })
    // Listed for this status, and by the catalogue when the settings change re-announced it.
    assert.ok(server.modelListings >= 1)
    assert.ok(server.authorizations.length >= 1)
    assert.ok(server.authorizations.every((auth) => auth === `Bearer ${API_KEY}`), server.authorizations.join(", "))
    assert.equal(await provider.run(Kind5050DVM.use((dvm) => dvm.readiness)), undefined, "ready to serve")
    // The announcement offers the model set, as with Ollama.
    const [handler] = await customer.pool.querySync([relay.url], { kinds: [31990], authors: [provider.pubkey] })
    assert.deepEqual([...JSON.parse((handler as Event).content).nip90Params.model.values].sort(), [MODEL, "llama-3.1-8b"].sort())

    // Ids no person could read, or absurdly long, are left out of what is shown and offered.
    const models = server.models
    server.models = [...models, "evil\u001b[31mred", "x".repeat(300), MODEL]
    try {
      const listed = await provider.run(Inference.use((inference) => inference.status))
      assert.deepEqual(listed.models, [MODEL, "llama-3.1-8b"])
    } finally {
      server.models = models
    }
  })

  it("serves a job by streaming chat completions and prices it from the server's usage", async () => {
    server.responder = () => "the sky is blue because of Rayleigh scattering"
    const { job, replies } = await runJob("why is the sky blue", [
      ["param", "max_tokens", "100000"],
      ["param", "temperature", "0.2"],
      ["param", "top-k", "7"]
    ])
    assert.deepEqual(replies.feedback.map(statusOf), ["success"])
    const result = replies.results[0] as Event
    assert.equal(result.content, "the sky is blue because of Rayleigh scattering")

    // usage: 5 prompt words + the template's 9, and 8 generated words: 22 tokens at 1 sat each.
    const tokens = 5 + TEMPLATE_TOKENS + 8
    const invoice = provider.wallet.issued.at(-1)
    assert.equal(invoice?.amountSats, tokens)
    assert.deepEqual(tag(result, "amount"), ["amount", String(tokens * 1000), invoice?.bolt11])
    assert.equal(statusText(replies.feedback[0]), `done: ${tokens} tokens, ${tokens} sats`)
    const record = await provider.jobRecord(job.id)
    assert.equal(record?.promptTokens, 5 + TEMPLATE_TOKENS)
    assert.equal(record?.completionTokens, 8)

    // What the server was asked: a streamed chat completion asking for usage, parameters mapped.
    const request = server.requests.at(-1)
    assert.equal(request?.path, "/v1/chat/completions")
    assert.equal(request?.authorization, `Bearer ${API_KEY}`)
    assert.deepEqual(request?.body, {
      model: MODEL,
      messages: [{ role: "user", content: "why is the sky blue" }],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 200, // the job's 100000, capped at our setting
      temperature: 0.2,
      top_p: 0.7,
      frequency_penalty: 1,
      top_k: 7
    })
  })

  it("sends the text so far while the server streams, each a prefix of the result", async () => {
    await provider.updateConfig({ "payment.mode": "free", "streaming.intervalMs": 150 })
    server.responder = () => Array.from({ length: 30 }, (_, i) => `word${i}`).join(" ")
    server.delayMsPerToken = 30
    try {
      const { replies } = await runJob("write slowly")
      const partials = replies.feedback.filter((f) => statusOf(f) === "partial")
      const result = (replies.results[0] as Event).content
      assert.ok(partials.length >= 2, `${partials.length} partials`)
      for (const p of partials) assert.ok(p.content.length > 0 && result.startsWith(p.content), `"${p.content}" is a prefix of the result`)
      assert.ok(result.endsWith("word29"))
    } finally {
      server.delayMsPerToken = 0
    }
  })

  it("learns prompt tokens from usage, so a bid refused for a model never seen is served once it has run", async () => {
    const prompt = "Please explain in two short sentences why the sky looks blue on a clear day and red at sunset near the sea."
      .padEnd(120, ".")
    const bound = promptTokenBound(prompt) // 152: more than a 100-sat bid buys
    assert.ok(bound > 100)
    server.responder = () => Array.from({ length: 300 }, (_, i) => `w${i}`).join(" ")
    const bid = ["bid", "100000"]
    const model = ["param", "model", "llama-3.1-8b"] // a model this provider has not run yet
    const unseen = await runJob(prompt, [bid, model])
    assert.match(statusText(unseen.replies.feedback[0]), /does not cover this prompt/)
    await runJob(prompt, [model]) // the model is seen: 21 words + 9 template tokens counted by the server
    const seen = await runJob(prompt, [bid, model])
    assert.deepEqual(seen.replies.feedback.map(statusOf), ["success"])
    const charged = provider.wallet.issued.at(-1)?.amountSats ?? Infinity
    assert.ok(charged <= 100, `charged ${charged} sats, within the bid`)
    assert.ok((server.requests.at(-1)?.body.max_tokens as number) < 200, "max_tokens lowered to fit the bid")
  })

  it("a customer's cancel (kind 5) aborts the HTTP request at the server, and no result is sent", async () => {
    server.hold()
    const job = await customer.publish(customer.buildJob({ prompt: "never finished", tags: [["t", `o${++sent}`]] }))
    await waitFor(() => server.inFlight === 1, 15_000, "the completion running at the server")
    await customer.cancel(job)
    await waitFor(async () => (await provider.jobRecord(job.id))?.error === "cancelled by the customer", 15_000, "the job cancelled")
    await waitFor(() => server.aborted === 1, 15_000, "the server seeing its request aborted")
    assert.equal(server.inFlight, 0)
    server.release()
    await new Promise((resolve) => setTimeout(resolve, 200)) // anything late would have arrived
    assert.equal(customer.repliesFor(job.id).results.length, 0, "no result")
  })

  it("a job past its timeout is stopped and its HTTP request aborted at the server", async () => {
    await provider.updateConfig({ "limits.jobTimeoutSeconds": 5 })
    server.hold()
    try {
      const { job, replies } = await runJob("held past the timeout")
      assert.equal(statusText(replies.feedback.at(-1)), "the job ran longer than 5 s and was stopped")
      await waitFor(() => server.aborted === 1, 5000, "the server seeing its request aborted")
      assert.equal((await provider.jobRecord(job.id))?.status, "error")
    } finally {
      await provider.updateConfig({ "limits.jobTimeoutSeconds": 300 })
    }
  })

  it("a server flooding its reply is cut off at a bound, the customer told, and the provider keeps serving", async () => {
    server.mode = "flood"
    const { replies } = await runJob("flood me")
    assert.match(statusText(replies.feedback.at(-1)), /^OpenAI-compatible server at .* failed: .*the reply was larger than \d+ bytes/)
    await waitFor(() => server.inFlight === 0, 5000, "the flood's connection closed")
    server.mode = "ok"
    const served = await runJob("calm again")
    assert.deepEqual(served.replies.feedback.map(statusOf), ["success"])
  })

  it("a server error reaches the customer as a readable reason naming the server, and the provider keeps serving", async () => {
    server.mode = "error"
    server.errorStatus = 500
    const failed = await runJob("this will fail")
    const error = failed.replies.feedback.at(-1)
    assert.equal(statusOf(error as Event), "error")
    assert.equal(
      statusText(error),
      `OpenAI-compatible server at ${server.baseUrl} answered HTTP 500: The model runner crashed (CUDA out of memory)`
    )
    assert.equal(failed.replies.results.length, 0)

    // vLLM's older shape: {"message"} at the top.
    server.errorStatus = 400
    server.errorBody = { object: "error", message: "This model's maximum context length is 2048 tokens", type: "BadRequestError", code: 400 }
    const context = await runJob("too long")
    assert.equal(
      statusText(context.replies.feedback.at(-1)),
      `OpenAI-compatible server at ${server.baseUrl} answered HTTP 400: This model's maximum context length is 2048 tokens`
    )
    // TGI's shape ({"error": "..."}), and FastAPI's validation detail.
    server.errorStatus = 422
    server.errorBody = { error: "Input validation error: `max_new_tokens` must be <= 100", error_type: "validation" }
    const tgi = await runJob("tgi says no")
    assert.equal(
      statusText(tgi.replies.feedback.at(-1)),
      `OpenAI-compatible server at ${server.baseUrl} answered HTTP 422: Input validation error: \`max_new_tokens\` must be <= 100`
    )
    // Where and what, not the request it echoes (which names top_k: not a refusal of it).
    server.errorBody = { detail: [{ loc: ["body", "messages"], msg: "field required", input: { top_k: 50, stream_options: {} } }] }
    const fastapi = await runJob("fastapi says no")
    assert.equal(statusText(fastapi.replies.feedback.at(-1)), `OpenAI-compatible server at ${server.baseUrl} answered HTTP 422: body.messages: field required`)
    assert.ok("top_k" in (server.requests.at(-1)?.body ?? {}), "top_k still sent: the echo was no refusal")
    server.errorBody = undefined

    // An error event in the middle of the stream, and a stream that just stops.
    server.mode = "errorMidStream"
    const midStream = await runJob("fails halfway")
    assert.equal(statusText(midStream.replies.feedback.at(-1)), `OpenAI-compatible server at ${server.baseUrl} failed: The model runner crashed mid-stream`)
    server.mode = "truncated"
    const truncated = await runJob("cut short")
    assert.equal(statusText(truncated.replies.feedback.at(-1)), `OpenAI-compatible server at ${server.baseUrl} ended the response before it was done`)

    server.mode = "ok"
    const served = await runJob("and now it works")
    assert.deepEqual(served.replies.feedback.map(statusOf), ["success"])
  })

  it("a refused key is said without the key, even when the server echoes it back", async () => {
    server.apiKey = "sk-another-key" // the server now refuses ours, and its 401 repeats what it got
    const { replies } = await runJob("who am I")
    const reason = statusText(replies.feedback.at(-1))
    assert.match(reason, new RegExp(`^OpenAI-compatible server at ${server.baseUrl.replace(/\./g, "\\.")} refused the API key \\(HTTP 401\\)`))
    assert.match(reason, /Incorrect API key provided: \[API key\]/)
    assert.ok(!reason.includes(API_KEY))
    const status = await provider.run(Inference.use((inference) => inference.status))
    assert.equal(status.reachable, false)
    assert.match(status.error ?? "", /refused the API key \(HTTP 401\)/)
    assert.ok(!(status.error ?? "").includes(API_KEY))
  })

  it("without usage from the server, counts the tokens itself and says so once per model", async () => {
    server.sendsUsage = false
    server.responder = () => "one two three four"
    const warning = (line: string) => line.includes("sends no token counts (usage)")
    const before = provider.logs.filter(warning).length
    const first = await runJob("count these five words")
    const second = await runJob("and these four too")
    assert.deepEqual(second.replies.feedback.map(statusOf), ["success"])
    // Ours: one token per streamed piece (4), the prompt at 4 bytes a token (22 bytes: 6; 18 bytes: 5).
    assert.equal((await provider.jobRecord(first.job.id))?.completionTokens, 4)
    assert.equal((await provider.jobRecord(first.job.id))?.promptTokens, 6)
    assert.equal((await provider.jobRecord(second.job.id))?.priceSats, 5 + 4)
    const said = provider.logs.filter(warning)
    assert.equal(said.length - before, 1, "said once for the model, not per job")
    assert.match(said.at(-1) ?? "", new RegExp(`OpenAI-compatible server at .* sends no token counts \\(usage\\) for ${MODEL}: its jobs are priced from tokens counted here`))
    // A server that says so is told nothing more: usage back, priced from it again.
    server.sendsUsage = true
    const third = await runJob("usage is back")
    assert.equal((await provider.jobRecord(third.job.id))?.promptTokens, 3 + TEMPLATE_TOKENS)
  })

  it("drops top_k for a server that refuses it, and sends it there no more", async () => {
    server.refusedParams = ["top_k"]
    const first = await runJob("no top_k here")
    assert.deepEqual(first.replies.feedback.map(statusOf), ["success"])
    await runJob("still none")
    assert.deepEqual(server.requests.map((r) => "top_k" in r.body), [true, false, false], "refused once, then never sent")
    assert.equal(provider.logs.filter((l) => l.includes("does not take `top_k`")).length, 1)
  })

  it("follows the backend setting from one job to the next", async () => {
    await provider.updateConfig({ "inference.backend": "ollama", "ollama.host": ollama.url })
    const onOllama = await runJob("to ollama")
    assert.equal((onOllama.replies.results[0] as Event).content, "Echo from llama3.2:1b: to ollama")
    assert.equal(server.requests.length, 0)
    await provider.updateConfig({ "inference.backend": "openai" })
    const onOpenAi = await runJob("back again")
    assert.equal((onOpenAi.replies.results[0] as Event).content, `Echo from ${MODEL}: back again`)
    assert.equal(server.requests.length, 1)
  })

  it("a server that never answers the model list is given up on after 5 s, saying so", async () => {
    server.hangModels = true
    const status = await provider.run(Inference.use((inference) => inference.status))
    assert.equal(status.reachable, false)
    assert.equal(status.error, `OpenAI-compatible server at ${server.baseUrl} did not answer within 5 s`)
  })

  it("an unreachable server is named with its address when going online", async () => {
    const other = await startProvider({ relays: [relay.url], "inference.backend": "openai", "openai.baseUrl": "http://127.0.0.1:9/v1", "payment.mode": "free" })
    try {
      await assert.rejects(other.goOnline(), /OpenAI-compatible server is not reachable at http:\/\/127\.0\.0\.1:9\/v1 \(is it running\?\)/)
    } finally {
      await other.dispose()
    }
  })

  it("never said the API key: not in its log, not in any event it sent (runs last)", () => {
    const said = everythingSaid()
    assert.ok(said.length > 50, `${said.length} lines and events`)
    for (const line of said) assert.ok(!line.includes(API_KEY), `the API key leaked: ${line.slice(0, 200)}`)
  })
})
