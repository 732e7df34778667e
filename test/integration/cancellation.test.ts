// Cancellation (NIP-09 kind 5 of a job request) is the customer's alone: a stranger's deletion of
// someone else's request stops nothing, whether it arrives while the job runs or was published
// while the provider was offline and is read when it catches up on going online.
//
// Nothing here waits for time to pass: the Ollama stand-in holds the jobs (hold/release), and a
// marker job cancelled by its own customer, on the same relay and after the stranger's deletion,
// proves the provider has read that deletion (deletions are handled in the order they arrive).
import assert from "node:assert/strict"
import { Customer, statusOf } from "../support/customer"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startProvider, type TestProvider } from "../support/provider"
import { type RelayProcess, startRelay } from "../support/relay"

describe("cancellation: only a job's own customer can cancel it", function() {
  this.timeout(60_000)
  let relayA: RelayProcess
  let relayB: RelayProcess
  let ollama: OllamaStandIn
  let provider: TestProvider | undefined
  const customers: Array<Customer> = []

  const newCustomer = async (relays: ReadonlyArray<string>) => {
    const c = new Customer(relays)
    await c.listen()
    customers.push(c)
    return c
  }
  const settled = (c: Customer, id: string) => c.repliesFor(id).feedback.some((f) => ["success", "error"].includes(statusOf(f) ?? ""))
  const recorded = (p: TestProvider, id: string) => async () => {
    const status = (await p.jobRecord(id))?.status
    return status === "success" || status === "error"
  }

  before(async () => {
    ;[relayA, relayB, ollama] = await Promise.all([startRelay(), startRelay(), startOllamaStandIn({ models: ["llama3.2:1b"] })])
  })
  after(async () => {
    await Promise.all([relayA?.stop(), relayB?.stop(), ollama?.close()])
  })
  beforeEach(async () => {
    // Empty relays per case: requests left by another case would be replayed to this provider.
    await Promise.all([relayA.restart(), relayB.restart()])
    ollama.reset()
    ollama.responder = () => "one two three"
  })
  afterEach(async () => {
    ollama.release()
    await provider?.dispose()
    provider = undefined
    for (const c of customers.splice(0)) c.close()
  })

  it("a stranger's kind 5 of a running job does not stop it: the job is served with its result", async () => {
    provider = await startProvider({ relays: [relayA.url], "ollama.host": ollama.url, maxConcurrentJobs: 2 })
    const p = provider
    await p.goOnline()
    const [owner, stranger, marker] = [await newCustomer([relayA.url]), await newCustomer([relayA.url]), await newCustomer([relayA.url])]

    ollama.hold() // both jobs stay running until released
    const job = await owner.publish(owner.buildJob({ prompt: "keep running" }))
    const markerJob = await marker.publish(marker.buildJob({ prompt: "marker" }))
    await waitFor(() => ollama.inFlight === 2, 15_000, "both jobs running on Ollama")
    await waitFor(() => owner.repliesFor(job.id).feedback.some((f) => statusOf(f) === "processing"), 15_000, "the owner told the job is running")

    await stranger.cancel(job) // someone else's deletion of the owner's request
    await marker.cancel(markerJob) // published after it, on the same relay: handled after it
    await waitFor(async () => (await p.jobRecord(markerJob.id))?.error === "cancelled by the customer", 15_000, "the marker job cancelled")
    await waitFor(() => ollama.aborted >= 1, 15_000, "the marker job's Ollama request aborted")
    assert.equal(ollama.inFlight, 1, "the owner's job still running")

    ollama.release()
    await waitFor(recorded(p, job.id), 15_000, "the owner's job ended")
    const record = await p.jobRecord(job.id)
    assert.equal(record?.status, "success", `the job ended ${record?.status}: ${record?.error ?? ""}`)
    await waitFor(() => settled(owner, job.id), 15_000, "the owner's job answered")
    const replies = owner.repliesFor(job.id)
    assert.deepEqual(replies.feedback.map(statusOf), ["processing", "success"], "served, not cancelled")
    assert.equal(replies.results.length, 1, "the result was sent")
    assert.equal(ollama.aborted, 1)
  })

  it("a stranger's deletion published while the provider was offline does not stop the job when it comes online", async () => {
    const owner = await newCustomer([relayA.url, relayB.url])
    const stranger = await newCustomer([relayB.url])
    const marker = await newCustomer([relayB.url])
    // While offline: the request on relay A, a stranger's deletion of it on relay B.
    const job = await owner.publish(owner.buildJob({ prompt: "published while you were away" }), [relayA.url])
    await stranger.cancel(job)

    // Online on relay B only: the stranger's deletion is read while catching up, the request not yet.
    provider = await startProvider({ relays: [relayB.url], "ollama.host": ollama.url })
    const p = provider
    await p.goOnline()
    // A live job cancelled by its own customer on relay B: its deletion comes after the stored one.
    ollama.hold()
    const markerJob = await marker.publish(marker.buildJob({ prompt: "marker" }))
    await waitFor(() => ollama.inFlight === 1, 15_000, "the marker job running")
    await marker.cancel(markerJob)
    await waitFor(async () => (await p.jobRecord(markerJob.id))?.error === "cancelled by the customer", 15_000, "the marker job cancelled")
    ollama.release()
    assert.equal(await p.jobRecord(job.id), undefined, "the request has not been seen yet")

    // Now relay A, with the request (the catch-up window still covers it).
    await p.updateConfig({ relays: [relayB.url, relayA.url] })
    await waitFor(recorded(p, job.id), 15_000, "the request handled")
    const record = await p.jobRecord(job.id)
    assert.equal(record?.status, "success", `the job ended ${record?.status}: ${record?.error ?? ""}`)
    await waitFor(() => settled(owner, job.id), 15_000, "the owner's answer")
    assert.equal(owner.repliesFor(job.id).results.length, 1, "the result was sent")
    assert.deepEqual(ollama.requests.map((r) => r.prompt), ["marker", "published while you were away"])
  })
})
