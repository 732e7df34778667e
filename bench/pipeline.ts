/**
 * Pipeline speed on this machine: publish→result latency of sequential jobs against the same
 * relay's plain publish→receive round trip (the floor), and the makespan of 200 concurrent jobs.
 * Real relay process, instant Ollama API stand-in, wallet stand-in, WASM signatures as in production.
 */
import { type Event, finalizeEvent, generateSecretKey } from "nostr-tools/pure"
import { useWasmSignatures } from "../src/dvm/protocol/signing"
import { Customer, statusOf } from "../test/support/customer"
import { startOllamaStandIn, waitFor } from "../test/support/ollama-server"
import { startProvider } from "../test/support/provider"
import { startRelay } from "../test/support/relay"

const SEQUENTIAL_JOBS = 100
const CONCURRENT_JOBS = 200
const CONCURRENCY = 4

const percentile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}
const ms = (n: number) => `${n.toFixed(1)} ms`

export const benchPipeline = async () => {
  await useWasmSignatures()
  const relay = await startRelay()
  const ollama = await startOllamaStandIn({ models: ["llama3.2:1b"] })
  ollama.responder = () => "a short instant answer"
  const provider = await startProvider({
    relays: [relay.url],
    "ollama.host": ollama.url,
    maxConcurrentJobs: CONCURRENCY,
    // One customer sends everything here: lift the per-customer limits and the queue bound.
    "limits.jobsPerMinutePerCustomer": 10_000,
    // One more than the burst: the sequential phase's last job may still be winding down (its success
    // feedback out, its fiber not yet ended) when the burst starts.
    "limits.jobsInFlightPerCustomer": CONCURRENT_JOBS + 1,
    "limits.maxQueuedJobs": 1000
  })
  await provider.goOnline()
  const customer = new Customer([relay.url])
  await customer.listen()

  try {
    // Floor: the same relay carrying one plain event from a publisher to a subscriber.
    const floor: Array<number> = []
    const probeKey = generateSecretKey()
    for (let i = 0; i < SEQUENTIAL_JOBS; i++) {
      const event = finalizeEvent({ kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [["t", `probe${i}`]], content: "ping" }, probeKey)
      const received = new Promise<void>((resolve) => {
        const sub = customer.pool.subscribe([relay.url], { kinds: [1], "#t": [`probe${i}`] }, {
          onevent: () => {
            sub.close()
            resolve()
          },
          oneose: () => {
            const start = performance.now()
            void customer.pool.publish([relay.url], event)
            void received.then(() => floor.push(performance.now() - start))
          }
        })
      })
      await received
      await new Promise((r) => setImmediate(r))
    }

    // Sequential jobs: publish → the 6050 result arrives at the customer.
    const latencies: Array<number> = []
    for (let i = 0; i < SEQUENTIAL_JOBS; i++) {
      const job = customer.buildJob({ prompt: `sequential job ${i}` })
      const start = performance.now()
      await customer.publish(job)
      const replies = customer.repliesFor(job.id)
      await waitFor(() => replies.results.length > 0, 15_000, "result")
      latencies.push(performance.now() - start)
    }

    // 200 jobs at once: first publish → last result.
    const jobs: Array<Event> = []
    for (let i = 0; i < CONCURRENT_JOBS; i++) jobs.push(customer.buildJob({ prompt: `concurrent job ${i}` }))
    const start = performance.now()
    await Promise.all(jobs.map((job) => customer.publish(job)))
    const answered = (job: Event) =>
      customer.repliesFor(job.id).results.length > 0 || customer.repliesFor(job.id).feedback.some((f) => statusOf(f) === "error")
    await waitFor(() => jobs.every(answered), 120_000, "every job answered")
    const makespan = performance.now() - start
    const errorReasons = jobs.flatMap((job) =>
      customer.repliesFor(job.id).feedback.filter((f) => statusOf(f) === "error").map((f) => f.tags.find((t) => t[0] === "status")?.[2] ?? "?"))
    const errors = errorReasons.length

    const p50 = percentile(latencies, 50)
    const floor50 = percentile(floor, 50)
    console.log("Pipeline (real relay process, instant Ollama stand-in, wallet stand-in, WASM signatures)")
    console.log(`  sequential jobs (${SEQUENTIAL_JOBS}) publish→result  p50 ${ms(p50)}  p95 ${ms(percentile(latencies, 95))}`)
    console.log(`  relay floor (${SEQUENTIAL_JOBS}) publish→receive     p50 ${ms(floor50)}  p95 ${ms(percentile(floor, 95))}`)
    console.log(`  ratio job/floor (p50)                  ${(p50 / floor50).toFixed(1)}×`)
    console.log(`  ${CONCURRENT_JOBS} concurrent jobs makespan (maxConcurrentJobs ${CONCURRENCY})  ${ms(makespan)}  (${(CONCURRENT_JOBS / (makespan / 1000)).toFixed(0)} jobs/s, ${errors} errors)`)
    for (const reason of new Set(errorReasons)) console.log(`    error: ${reason}`)
  } finally {
    customer.close()
    await provider.dispose()
    await relay.stop()
    await ollama.close()
  }
}
