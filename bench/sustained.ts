/**
 * Sustained load: 3,000 jobs from 50 customers against an instant Ollama stand-in, the provider
 * writing its job log to a data dir as in real use. The log starts with a 10,000-job history, so
 * the JobStore replays it and runs at its 10,000-record memory cap from the first job: every new
 * job pushes an old record out, which is the steady state a long-running provider lives in.
 *
 * Every job is followed to its first final answer: a result, an error feedback (reasons grouped),
 * or nothing at all (lost: still unanswered after a generous drain wait; reported, not thrown).
 * The heap is sampled after a full GC after each batch; flatness is printed as the first and last
 * quartile means and the least-squares slope in MB per 1,000 jobs.
 *
 * What is in the measured heap besides the provider is kept from growing with the job count: the
 * customers only publish (no subscriptions, no reply maps), and the answers are observed through
 * one plain relay subscription that remembers no event ids; only unanswered job ids are held.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import WebSocket from "ws"
import { AbstractRelay } from "nostr-tools/abstract-relay"
import type { Event } from "nostr-tools/pure"
import { JOBS_FILE } from "../src/dvm/services/JobStore"
import type { NostrEvent } from "../src/dvm/protocol/nostrEvent"
import { useWasmSignatures, verifySignature } from "../src/dvm/protocol/signing"
import { Customer, statusOf } from "../test/support/customer"
import { startOllamaStandIn } from "../test/support/ollama-server"
import { startProvider } from "../test/support/provider"
import { startRelay } from "../test/support/relay"

const CUSTOMERS = 50
const JOBS = 3000
const BATCH = 250
/** The JobStore keeps this many records in memory (MEMORY_LIMIT in src/dvm/services/JobStore.ts). */
const HISTORY = 10_000
/** How long one batch may take before the next is sent anyway (what is unanswered stays pending). */
const BATCH_WAIT_MS = 15_000
/** After the last request, how long unanswered jobs are waited for before they count as lost. */
const DRAIN_WAIT_MS = 30_000
const MODEL = "llama3.2:1b"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const heapMb = () => {
  globalThis.gc?.()
  return process.memoryUsage().heapUsed / 1024 / 1024
}

const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length

/** Least-squares slope of y over x. */
const slope = (points: ReadonlyArray<{ x: number; y: number }>) => {
  const mx = mean(points.map((p) => p.x))
  const my = mean(points.map((p) => p.y))
  const num = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0)
  const den = points.reduce((s, p) => s + (p.x - mx) ** 2, 0)
  return den === 0 ? 0 : num / den
}

/** A finished job as the JobStore's history holds it (one line: the merged record). */
const historyLine = (now: number, i: number) => {
  const at = now - (HISTORY - i) * 1000
  return JSON.stringify({
    id: randomBytes(32).toString("hex"),
    customer: randomBytes(32).toString("hex"),
    kind: 5050,
    requestedAt: Math.floor(at / 1000),
    receivedAt: at,
    updatedAt: at,
    status: "success",
    encrypted: false,
    model: MODEL,
    promptTokens: 2,
    completionTokens: 1,
    priceSats: 0,
    payment: "free"
  })
}

/** Numbers in a reason (queue positions, seconds) vary job to job; grouping ignores them. */
const reasonGroup = (reason: string) => reason.replace(/\d+/g, "N").slice(0, 120)

export const benchSustained = async () => {
  await useWasmSignatures()
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-bench-"))
  const now = Date.now()
  fs.writeFileSync(
    path.join(dataDir, JOBS_FILE),
    Array.from({ length: HISTORY }, (_, i) => historyLine(now, i)).join("\n") + "\n"
  )
  const relay = await startRelay()
  const ollama = await startOllamaStandIn({ models: [MODEL] })
  ollama.responder = () => "ok"
  const provider = await startProvider({
    relays: [relay.url],
    "ollama.host": ollama.url,
    maxConcurrentJobs: 4,
    "payment.mode": "free",
    // Throughput is measured here, not fairness: each customer may send its whole share at once.
    "limits.jobsPerMinutePerCustomer": JOBS,
    "limits.jobsInFlightPerCustomer": JOBS,
    "limits.maxQueuedJobs": 1000
  }, { dataDir })
  const customers = Array.from({ length: CUSTOMERS }, () => new Customer([relay.url]))
  const observer = new AbstractRelay(relay.url, {
    verifyEvent: (event) => verifySignature(event as NostrEvent),
    websocketImplementation: WebSocket as unknown as typeof globalThis.WebSocket
  })

  /** Unanswered job ids. An id leaves on its first result or error; later replies find nothing. */
  const pending = new Set<string>()
  let answered = 0
  let errors = 0
  let publishFailed = 0
  let lastAnswerAt = 0
  const reasons = new Map<string, number>()
  const settle = (id: string | undefined) => {
    if (!id || !pending.delete(id)) return false
    lastAnswerAt = performance.now()
    return true
  }

  try {
    await provider.goOnline()
    await observer.connect()
    await new Promise<void>((resolve) => {
      observer.subscribe([{ kinds: [6050, 7000], authors: [provider.pubkey], since: Math.floor(Date.now() / 1000) - 5 }], {
        onevent: (event) => {
          const id = event.tags.find((t) => t[0] === "e")?.[1]
          if (event.kind === 6050) {
            if (settle(id)) answered++
          } else if (statusOf(event as Event) === "error" && settle(id)) {
            errors++
            const group = reasonGroup(event.tags.find((t) => t[0] === "status")?.[2] ?? "(no reason)")
            reasons.set(group, (reasons.get(group) ?? 0) + 1)
          }
        },
        oneose: () => resolve()
      })
    })

    const heap: Array<{ jobs: number; mb: number }> = []
    const start = performance.now()
    for (let sent = 0; sent < JOBS; sent += BATCH) {
      const batch: Array<{ customer: Customer; event: Event }> = []
      for (let i = sent; i < Math.min(JOBS, sent + BATCH); i++) {
        const customer = customers[i % CUSTOMERS] as Customer
        const event = customer.buildJob({ prompt: `load ${i}`, tags: [["p", provider.pubkey]] })
        pending.add(event.id)
        batch.push({ customer, event })
      }
      await Promise.all(batch.map(async ({ customer, event }) => {
        const outcomes = await Promise.allSettled(customer.pool.publish([relay.url], event))
        if (outcomes.every((o) => o.status === "rejected") && pending.delete(event.id)) publishFailed++
      }))
      const deadline = Date.now() + BATCH_WAIT_MS
      while (batch.some(({ event }) => pending.has(event.id)) && Date.now() < deadline) await sleep(20)
      heap.push({ jobs: Math.min(JOBS, sent + BATCH), mb: heapMb() })
    }
    const lastSent = performance.now()
    const drainDeadline = Date.now() + DRAIN_WAIT_MS
    while (pending.size > 0 && Date.now() < drainDeadline) await sleep(50)
    const lost = pending.size
    const seconds = ((lastAnswerAt || performance.now()) - start) / 1000

    const quarter = Math.max(1, Math.floor(heap.length / 4))
    const first = mean(heap.slice(0, quarter).map((h) => h.mb))
    const last = mean(heap.slice(-quarter).map((h) => h.mb))
    const perThousand = slope(heap.map((h) => ({ x: h.jobs / 1000, y: h.mb })))
    const log = path.join(dataDir, JOBS_FILE)
    const logLines = fs.readFileSync(log, "utf8").split("\n").filter((l) => l !== "").length

    console.log(
      `Sustained load (${JOBS} jobs from ${CUSTOMERS} customers, instant Ollama, maxConcurrentJobs 4, payment free, ` +
        `job log in a data dir that starts with a ${HISTORY.toLocaleString("en")}-job history)`
    )
    console.log(`  answered ${answered}/${JOBS} with results, errors ${errors}, lost ${lost} (no answer at all, drain wait up to ${(DRAIN_WAIT_MS / 1000).toFixed(0)} s), not published ${publishFailed}`)
    for (const [reason, count] of [...reasons].sort((a, b) => b[1] - a[1])) console.log(`    error ×${count}: ${reason}`)
    if (lost > 0) {
      console.log(`    drain: waited ${((performance.now() - lastSent) / 1000).toFixed(1)} s after the last request`)
    }
    console.log(`  ${seconds.toFixed(1)} s to the last answer, ${((answered + errors) / seconds).toFixed(0)} jobs/s`)
    const mbs = heap.map((h) => h.mb)
    console.log(`  heap after GC (MB) every ${BATCH} jobs: ${mbs.map((mb) => mb.toFixed(1)).join(" ")} (min ${Math.min(...mbs).toFixed(1)}, max ${Math.max(...mbs).toFixed(1)})`)
    console.log(
      `  heap flatness: first quartile mean ${first.toFixed(1)} MB, last quartile mean ${last.toFixed(1)} MB ` +
        `(${last - first >= 0 ? "+" : ""}${(last - first).toFixed(1)}), slope ${perThousand >= 0 ? "+" : ""}${perThousand.toFixed(2)} MB per 1,000 jobs`
    )
    console.log(`  job log: ${(fs.statSync(log).size / 1024 / 1024).toFixed(1)} MB, ${logLines} lines (provider, relay client and test customers share this process's heap)`)
  } finally {
    observer.close()
    for (const c of customers) c.close()
    await provider.dispose()
    await relay.stop()
    await ollama.close()
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}
