// The order in which a customer sees a job's replies on each relay: `processing` before the result
// (the result does not wait for processing's OK, so the order rests on one connection's frames
// being taken in order), partials before the result, `success` last.
import assert from "node:assert/strict"
import type { Event } from "nostr-tools/pure"
import { Customer, statusOf } from "../support/customer"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startProvider, type TestProvider } from "../support/provider"
import { type RelayProcess, startRelay } from "../support/relay"

describe("the order of a job's replies on each relay", function() {
  this.timeout(60_000)
  let relays: Array<RelayProcess>
  let ollama: OllamaStandIn
  let provider: TestProvider
  let customer: Customer
  /** Per relay, per request id: "result" or the feedback status, in the order they arrived. */
  const seen = new Map<string, Map<string, Array<string>>>()
  const closers: Array<{ close: () => void }> = []

  const orderOn = (url: string, id: string) => seen.get(url)?.get(id) ?? []

  before(async () => {
    ;[relays, ollama] = await Promise.all([Promise.all([startRelay(), startRelay()]), startOllamaStandIn({ models: ["llama3.2:1b"] })])
    ollama.responder = () => "an instant answer in a few words"
    provider = await startProvider({
      relays: relays.map((r) => r.url),
      "ollama.host": ollama.url,
      maxConcurrentJobs: 4,
      "limits.jobsPerMinutePerCustomer": 10_000,
      "limits.jobsInFlightPerCustomer": 100,
      "limits.maxQueuedJobs": 100
    })
    await provider.goOnline()
    customer = new Customer(relays.map((r) => r.url))
    // One subscription per relay: each relay's own order, not the first copy from either.
    await Promise.all(relays.map((relay) => {
      const byJob = new Map<string, Array<string>>()
      seen.set(relay.url, byJob)
      return new Promise<void>((resolve) => {
        closers.push(customer.pool.subscribe([relay.url], { kinds: [6050, 7000], "#p": [customer.pubkey] }, {
          onevent: (event) => {
            const id = event.tags.find((t) => t[0] === "e")?.[1]
            if (!id) return
            byJob.set(id, [...(byJob.get(id) ?? []), event.kind === 6050 ? "result" : statusOf(event as Event) ?? "?"])
          },
          oneose: () => resolve()
        }))
      })
    }))
  })

  after(async () => {
    for (const closer of closers) closer.close()
    customer?.close()
    await provider?.dispose()
    await Promise.all([...(relays ?? []).map((r) => r.stop()), ollama?.close()])
  })

  const finished = (jobs: ReadonlyArray<Event>) =>
    waitFor(() => jobs.every((job) => relays.every((r) => orderOn(r.url, job.id).includes("success"))), 30_000, "success on every relay")

  const oneAfterAnother = async (count: number, label: string) => {
    const jobs: Array<Event> = []
    for (let i = 0; i < count; i++) {
      const job = customer.buildJob({ prompt: `${label} ${i}` })
      jobs.push(job)
      await customer.publish(job)
      await waitFor(() => orderOn(relays[0]!.url, job.id).includes("result"), 15_000, "result")
    }
    await finished(jobs)
    return jobs
  }

  it("instant jobs, one after another: the result, then success, on every relay (no processing to wait through)", async () => {
    const jobs = await oneAfterAnother(20, "instant, one after another")
    for (const job of jobs) for (const relay of relays) assert.deepEqual(orderOn(relay.url, job.id), ["result", "success"])
  })

  it("jobs that take a while, one after another: processing, then the result, then success, on every relay", async () => {
    ollama.delayMsPerToken = 25 // 7 tokens: past PROCESSING_AFTER_MS
    try {
      const jobs = await oneAfterAnother(5, "a while, one after another")
      for (const job of jobs) for (const relay of relays) assert.deepEqual(orderOn(relay.url, job.id), ["processing", "result", "success"])
    } finally {
      ollama.delayMsPerToken = 0
    }
  })

  it("instant jobs all at once: any processing (the queued one first) before the result on every relay", async () => {
    const jobs = Array.from({ length: 30 }, (_, i) => customer.buildJob({ prompt: `all at once ${i}` }))
    await Promise.all(jobs.map((job) => customer.publish(job)))
    await finished(jobs)
    for (const job of jobs) {
      for (const relay of relays) {
        const order = orderOn(relay.url, job.id)
        const processing = order.filter((s) => s === "processing").length
        assert.ok(processing <= 2, `${order.join(", ")}`)
        assert.deepEqual(order.slice(processing), ["result", "success"], `${order.join(", ")}`)
      }
    }
  })

  it("with partial results on: processing, partials, the result, success; no partial after the result", async () => {
    await provider.updateConfig({ "streaming.intervalMs": 20 })
    ollama.delayMsPerToken = 5
    ollama.responder = () => Array.from({ length: 30 }, (_, i) => `w${i}`).join(" ")
    try {
      const jobs = Array.from({ length: 4 }, (_, i) => customer.buildJob({ prompt: `streaming ${i}` }))
      await Promise.all(jobs.map((job) => customer.publish(job)))
      await finished(jobs)
      for (const job of jobs) {
        for (const relay of relays) {
          const order = orderOn(relay.url, job.id)
          assert.equal(order[0], "processing", order.join(", "))
          assert.ok(order.includes("partial"), order.join(", "))
          assert.deepEqual(order.slice(order.indexOf("result")), ["result", "success"], order.join(", "))
          assert.ok(order.slice(1, order.indexOf("result")).every((s) => s === "partial"), order.join(", "))
        }
      }
    } finally {
      ollama.delayMsPerToken = 0
      await provider.updateConfig({ "streaming.intervalMs": 0 })
    }
  })
})
