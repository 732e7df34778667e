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
    assert.match(statusText(queuedFeedback[0] as Event), /queued: position 1, waiting for Ollama/)
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
