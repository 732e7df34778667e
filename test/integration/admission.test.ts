// Admission on the wire: a queued customer hears it is queued, a full queue answers busy, a denied
// key is told it is not served — and every admitted job still gets its result.
import assert from "node:assert/strict"
import type { Event } from "nostr-tools/pure"
import { Customer, statusOf, tag } from "../support/customer"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startProvider, type TestProvider } from "../support/provider"
import { type RelayProcess, startRelay } from "../support/relay"

describe("admission on a real relay", function() {
  this.timeout(30_000)
  let relay: RelayProcess
  let ollama: OllamaStandIn
  let provider: TestProvider
  const customers: Array<Customer> = []
  const newCustomer = async () => {
    const c = new Customer([relay.url])
    await c.listen()
    customers.push(c)
    return c
  }
  const statusText = (e: Event) => tag(e, "status")?.[2] ?? ""
  const settled = (c: Customer, id: string) => c.repliesFor(id).feedback.some((f) => ["success", "error"].includes(statusOf(f) ?? ""))

  before(async () => {
    ;[relay, ollama] = await Promise.all([startRelay(), startOllamaStandIn({ models: ["llama3.2:1b"] })])
  })
  after(async () => {
    for (const c of customers) c.close()
    await provider?.dispose()
    await Promise.all([relay?.stop(), ollama?.close()])
  })

  it("queues, answers busy when the queue is full, and refuses a denied key", async () => {
    const denied = await newCustomer()
    provider = await startProvider({
      relays: [relay.url],
      "ollama.host": ollama.url,
      maxConcurrentJobs: 1,
      "limits.maxQueuedJobs": 1,
      "access.denyList": [denied.pubkey]
    })
    await provider.goOnline()
    const [running, queued, turnedAway] = [await newCustomer(), await newCustomer(), await newCustomer()]
    ollama.responder = () => "a b c d e f g h i j"
    ollama.delayMsPerToken = 100 // one second per job, so the others arrive while it runs

    const first = await running.publish(running.buildJob({ prompt: "first" }))
    await waitFor(() => ollama.inFlight === 1, 10_000, "first job running")
    const second = await queued.publish(queued.buildJob({ prompt: "second" }))
    await waitFor(() => queued.repliesFor(second.id).feedback.length > 0, 10_000, "queued feedback")
    const third = await turnedAway.publish(turnedAway.buildJob({ prompt: "third" }))
    const fourth = await denied.publish(denied.buildJob({ prompt: "fourth" }))

    await waitFor(() => settled(running, first.id) && settled(queued, second.id) && settled(turnedAway, third.id) && settled(denied, fourth.id), 20_000, "all answered")
    const queuedFeedback = queued.repliesFor(second.id).feedback
    assert.equal(statusOf(queuedFeedback[0] as Event), "processing")
    assert.match(statusText(queuedFeedback[0] as Event), /queued: position 1, waiting for the model/)
    assert.equal(queued.repliesFor(second.id).results.length, 1, "the queued job is served in its turn")
    assert.equal(running.repliesFor(first.id).results.length, 1)
    assert.match(statusText(turnedAway.repliesFor(third.id).feedback[0] as Event), /busy: 1 jobs are already waiting/)
    assert.match(statusText(denied.repliesFor(fourth.id).feedback[0] as Event), /does not serve your key/)
    assert.deepEqual(ollama.requests.map((r) => r.prompt), ["first", "second"])
  })

  it("applies the deny list and the per-minute rate to malformed requests too, and says so", async () => {
    await provider?.dispose()
    const denied = await newCustomer()
    const sloppy = await newCustomer()
    provider = await startProvider({
      relays: [relay.url],
      "ollama.host": ollama.url,
      "limits.jobsPerMinutePerCustomer": 2,
      "access.denyList": [denied.pubkey]
    })
    await provider.goOnline()
    const p = provider.pubkey
    const deniedJob = await denied.publish(denied.buildJob({ tags: [["p", p]] })) // no prompt
    const bad = [] as Array<Event>
    for (let i = 0; i < 3; i++) bad.push(await sloppy.publish(sloppy.buildJob({ prompt: "x", tags: [["p", p], ["param", "max_tokens", `x${i}`]] })))
    const good = await sloppy.publish(sloppy.buildJob({ prompt: "fine now?", tags: [["p", p]] }))
    await waitFor(() => [deniedJob, ...bad, good].every((j) => settled(j === deniedJob ? denied : sloppy, j.id)), 15_000, "every answer")
    assert.match(statusText(denied.repliesFor(deniedJob.id).feedback[0] as Event), /does not serve your key/)
    const reasons = bad.map((j) => statusText(sloppy.repliesFor(j.id).feedback[0] as Event))
    assert.match(reasons[0] as string, /param max_tokens/)
    assert.match(reasons[1] as string, /param max_tokens/)
    assert.match(reasons[2] as string, /at most 2 jobs per minute per customer; try again in \d+ s/)
    assert.match(statusText(sloppy.repliesFor(good.id).feedback[0] as Event), /at most 2 jobs per minute/, "malformed requests count toward the rate")
    assert.equal(ollama.requests.filter((r) => r.prompt === "fine now?").length, 0)
  })
})

// Pay-first: a job waiting for payment holds no place among the running and queued jobs, so when
// it ends unpaid (here: cancelled by its customer) it must give back only what it held.
describe("admission: pay-first jobs that end unpaid", function() {
  this.timeout(60_000)
  let relay: RelayProcess
  let ollama: OllamaStandIn
  let provider: TestProvider | undefined
  const customers: Array<Customer> = []
  const newCustomer = async () => {
    const c = new Customer([relay.url])
    await c.listen()
    customers.push(c)
    return c
  }
  const statusText = (e: Event) => tag(e, "status")?.[2] ?? ""
  const firstAnswer = async (c: Customer, id: string) => {
    await waitFor(() => c.repliesFor(id).feedback.length > 0, 15_000, "an answer")
    return c.repliesFor(id).feedback[0] as Event
  }
  const requiresPayment = async (c: Customer, id: string) => {
    const first = await firstAnswer(c, id)
    assert.equal(statusOf(first), "payment-required", `answered ${statusOf(first)}: ${statusText(first)}`)
    return tag(first, "amount")?.[2] as string
  }
  const cancelled = (p: TestProvider, id: string) => async () => (await p.jobRecord(id))?.error === "cancelled by the customer"
  const served = (c: Customer, id: string) => c.repliesFor(id).feedback.some((f) => statusOf(f) === "success")

  before(async () => {
    ;[relay, ollama] = await Promise.all([startRelay(), startOllamaStandIn({ models: ["llama3.2:1b"] })])
  })
  after(async () => {
    await Promise.all([relay?.stop(), ollama?.close()])
  })
  beforeEach(async () => {
    await relay.restart()
    ollama.reset()
  })
  afterEach(async () => {
    ollama.release()
    await provider?.dispose()
    provider = undefined
    for (const c of customers.splice(0)) c.close()
  })

  const online = async (maxQueuedJobs: number) => {
    provider = await startProvider({
      relays: [relay.url],
      "ollama.host": ollama.url,
      "payment.mode": "pay-first",
      maxConcurrentJobs: 1,
      "limits.maxQueuedJobs": maxQueuedJobs
    })
    await provider.goOnline()
    return provider
  }

  it("maxConcurrentJobs 1, maxQueuedJobs 0: an unpaid job cancelled frees its wait for payment, and the next customer is served", async () => {
    const p = await online(0)
    const [unpaid, next, after] = [await newCustomer(), await newCustomer(), await newCustomer()]
    const abandoned = await unpaid.publish(unpaid.buildJob({ prompt: "I will not pay" }))
    await requiresPayment(unpaid, abandoned.id)
    await unpaid.cancel(abandoned)
    await waitFor(cancelled(p, abandoned.id), 15_000, "the unpaid job cancelled")

    const job = await next.publish(next.buildJob({ prompt: "I will pay" }))
    const bolt11 = await requiresPayment(next, job.id)
    p.wallet.pay(bolt11)
    await waitFor(() => served(next, job.id), 15_000, "the paid job served")
    assert.equal(next.repliesFor(job.id).results.length, 1)

    // Its place given back when it ended: one more customer can be served.
    const last = await after.publish(after.buildJob({ prompt: "me too" }))
    p.wallet.pay(await requiresPayment(after, last.id))
    await waitFor(() => served(after, last.id), 15_000, "the last job served")
    assert.deepEqual(ollama.requests.map((r) => r.prompt), ["I will pay", "me too"])
  })

  it("maxConcurrentJobs 1, maxQueuedJobs 1: an unpaid job cancelled while another runs gives back no place it never took", async () => {
    const p = await online(1)
    const [running, unpaid, queued, late] = [await newCustomer(), await newCustomer(), await newCustomer(), await newCustomer()]
    ollama.hold() // the paid job keeps Ollama busy until released

    const first = await running.publish(running.buildJob({ prompt: "running" }))
    p.wallet.pay(await requiresPayment(running, first.id))
    await waitFor(() => ollama.inFlight === 1, 15_000, "the first job running")

    const abandoned = await unpaid.publish(unpaid.buildJob({ prompt: "I will not pay" }))
    await requiresPayment(unpaid, abandoned.id) // waits for payment: not in the queue, so not busy
    await unpaid.cancel(abandoned)
    await waitFor(cancelled(p, abandoned.id), 15_000, "the unpaid job cancelled")

    // One job running, none queued: a paid job takes the one queue place, at position 1.
    const second = await queued.publish(queued.buildJob({ prompt: "queued" }))
    p.wallet.pay(await requiresPayment(queued, second.id))
    await waitFor(() => queued.repliesFor(second.id).feedback.some((f) => statusOf(f) === "processing"), 15_000, "processing")
    const processing = queued.repliesFor(second.id).feedback.find((f) => statusOf(f) === "processing") as Event
    assert.match(statusText(processing), /queued: position 1, waiting for the model/)

    // Now the queue is full: the next customer is told so, before any invoice.
    const refused = await late.publish(late.buildJob({ prompt: "no room" }))
    const answer = await firstAnswer(late, refused.id)
    assert.equal(statusOf(answer), "error", `answered ${statusOf(answer)}: ${statusText(answer)}`)
    assert.match(statusText(answer), /busy: 1 jobs are already waiting/)

    ollama.release()
    await waitFor(() => served(running, first.id) && served(queued, second.id), 15_000, "both paid jobs served")
    assert.deepEqual(ollama.requests.map((r) => r.prompt), ["running", "queued"])
  })
})
