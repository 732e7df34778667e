/**
 * Sustained load: 2,000 jobs from 50 customers against an instant Ollama stand-in. All must be
 * answered; the provider's heap is sampled (after GC) as the run goes to show it stays flat.
 */
import type { Event } from "nostr-tools/pure"
import { useWasmSignatures } from "../src/dvm/protocol/signing"
import { Customer, statusOf } from "../test/support/customer"
import { startOllamaStandIn, waitFor } from "../test/support/ollama-server"
import { startProvider } from "../test/support/provider"
import { startRelay } from "../test/support/relay"

const CUSTOMERS = 50
const JOBS = 2000
const SAMPLES = 5

const heapMb = () => {
  globalThis.gc?.()
  return process.memoryUsage().heapUsed / 1024 / 1024
}

export const benchSustained = async () => {
  await useWasmSignatures()
  const relay = await startRelay()
  const ollama = await startOllamaStandIn({ models: ["llama3.2:1b"] })
  ollama.responder = () => "ok"
  const provider = await startProvider({
    relays: [relay.url],
    "ollama.host": ollama.url,
    maxConcurrentJobs: 4,
    // Throughput is measured here, not fairness: each customer may send its whole share at once.
    "limits.jobsPerMinutePerCustomer": JOBS,
    "limits.jobsInFlightPerCustomer": JOBS,
    "limits.maxQueuedJobs": 1000
  })
  await provider.goOnline()
  const customers = Array.from({ length: CUSTOMERS }, () => new Customer([relay.url]))
  await Promise.all(customers.map((c) => c.listen()))
  try {
    const jobs: Array<{ customer: Customer; event: Event }> = []
    for (let i = 0; i < JOBS; i++) {
      const customer = customers[i % CUSTOMERS] as Customer
      jobs.push({ customer, event: customer.buildJob({ prompt: `load ${i}` }) })
    }
    const heap: Array<number> = [heapMb()]
    let answered = 0
    let errors = 0
    const batch = JOBS / SAMPLES
    const start = performance.now()
    for (let s = 0; s < SAMPLES; s++) {
      const slice = jobs.slice(s * batch, (s + 1) * batch)
      await Promise.all(slice.map(({ customer, event }) => customer.publish(event)))
      await waitFor(() => slice.every(({ customer, event }) => customer.repliesFor(event.id).results.length > 0 || customer.repliesFor(event.id).feedback.some((f) => statusOf(f) === "error")), 120_000, "batch answered")
      for (const { customer, event } of slice) {
        const replies = customer.repliesFor(event.id)
        if (replies.results.length > 0) answered++
        else errors++
        customer.replies.delete(event.id) // so the heap samples show the provider, not the test customers
      }
      heap.push(heapMb())
    }
    const seconds = (performance.now() - start) / 1000
    console.log(`Sustained load (${JOBS} jobs from ${CUSTOMERS} customers, instant Ollama, maxConcurrentJobs 4)`)
    console.log(`  answered ${answered}/${JOBS} with results, ${errors} errors, lost ${JOBS - answered - errors}`)
    console.log(`  ${seconds.toFixed(1)} s, ${(JOBS / seconds).toFixed(0)} jobs/s`)
    console.log(`  heap after GC (MB) at 0/20/40/60/80/100%: ${heap.map((h) => h.toFixed(1)).join(" / ")}  (provider, relay client and test customers in one process; the provider keeps ≤10,000 job records in memory)`)
  } finally {
    for (const c of customers) c.close()
    await provider.dispose()
    await relay.stop()
    await ollama.close()
  }
}
