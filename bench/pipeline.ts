/**
 * Pipeline speed on this machine, against a real relay process with WASM signatures as in production:
 * - sequential jobs on an instant model: publish→result latency against the same relay's plain
 *   publish→receive round trip (the floor; a job's two hops make 2×), with where the time goes
 *   (p50 of each stage, from a stage recorder installed for the bench);
 * - a 200-job burst: makespan, and the provider's CPU per job beside its crypto floor (the cost of
 *   its own signatures and the request's verification, measured here with the same WASM module);
 * - the same with the job history written to a data dir;
 * - time to first partial with partial results on and a model that takes a while per token.
 * The Ollama stand-ins and the burst's customer run in a process of their own (bench/pipelineLoad.ts),
 * so this process's CPU during the burst is the provider's.
 */
import { fork } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, SubscriptionRef } from "effect"
import { type Event, finalizeEvent, generateSecretKey } from "nostr-tools/pure"
import type { Config } from "../src/dvm/config"
import { feedbackEvent, refOf, resultEvent } from "../src/dvm/protocol/events"
import type { JobRequest } from "../src/dvm/protocol/jobRequest"
import { signEvent, useWasmSignatures, verifySignature } from "../src/dvm/protocol/signing"
import { type JobStage, recordJobStages } from "../src/dvm/services/JobPipeline"
import { Kind5050DVM } from "../src/dvm/services/Kind5050DVM"
import { Customer, statusOf } from "../test/support/customer"
import { waitFor } from "../test/support/ollama-server"
import { startProvider, type TestProvider } from "../test/support/provider"
import { startRelay } from "../test/support/relay"
import { type LoadReply, type LoadRequest, STREAMING_TOKEN_MS, STREAMING_TOKENS } from "./pipelineLoad"

const SEQUENTIAL_JOBS = 100
const CONCURRENT_JOBS = 200
const CONCURRENCY = 4
const STREAMING_JOBS = 20
const STREAMING_INTERVAL_MS = 250
const CRYPTO_SAMPLES = 2000

const percentile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}
const p50 = (values: ReadonlyArray<number>) => percentile(values, 50)
const ms = (n: number) => `${n.toFixed(2)} ms`
const cpuMs = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000

/** The load process: Ollama stand-ins and the burst's customer. */
const startLoad = async () => {
  const child = fork(path.join(__dirname, "pipelineLoad.ts"), [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] })
  const replies: Array<LoadReply> = []
  const waiters: Array<() => void> = []
  child.on("message", (reply: LoadReply) => {
    replies.push(reply)
    for (const wake of waiters.splice(0)) wake()
  })
  const next = async <K extends "ready" | "built" | "done">(key: K): Promise<Extract<LoadReply, Record<K, true>>> => {
    while (true) {
      const i = replies.findIndex((r) => key in r)
      if (i >= 0) return replies.splice(i, 1)[0] as Extract<LoadReply, Record<K, true>>
      await new Promise<void>((resolve) => waiters.push(resolve))
    }
  }
  const ask = (request: LoadRequest) => child.send(request)
  const ready = await next("ready")
  return { ...ready, next, ask, stop: () => child.kill() }
}
type Load = Awaited<ReturnType<typeof startLoad>>

/** CPU (ms) of one verification of a job request and one signature of a result or feedback, with the module in use. */
const measureCrypto = () => {
  const customerKey = generateSecretKey()
  const providerKey = generateSecretKey()
  const request = signEvent({ kind: 5050, created_at: Math.floor(Date.now() / 1000), tags: [["i", "crypto floor job", "text"]], content: "" }, customerKey)
  const job: JobRequest = {
    ...refOf(request),
    kind: request.kind,
    createdAt: request.created_at,
    prompt: "crypto floor job",
    inputs: [{ type: "text", text: "crypto floor job" }],
    inputTags: [["i", "crypto floor job", "text"]],
    params: {},
    replyRelays: [],
    event: request
  }
  const verifyStart = process.cpuUsage()
  for (let i = 0; i < CRYPTO_SAMPLES; i++) if (!verifySignature(request)) throw new Error("the floor's request does not verify")
  const verifyMs = cpuMs(process.cpuUsage(verifyStart)) / CRYPTO_SAMPLES
  const signStart = process.cpuUsage()
  for (let i = 0; i < CRYPTO_SAMPLES; i++) {
    signEvent(i % 2 === 0
      ? resultEvent(job, "a short instant answer", { amountMsats: 1000, bolt11: "lnbc10n1standin1" })
      : feedbackEvent(job, "processing"), providerKey)
  }
  const signMs = cpuMs(process.cpuUsage(signStart)) / CRYPTO_SAMPLES
  return { verifyMs, signMs }
}

/** publish→receive of a plain event through the relay, from one client to itself. */
const measureFloor = async (customer: Customer, relayUrl: string) => {
  const floor: Array<number> = []
  const probeKey = generateSecretKey()
  for (let i = 0; i < SEQUENTIAL_JOBS; i++) {
    const event = finalizeEvent({ kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [["t", `probe${i}`]], content: "ping" }, probeKey)
    const received = new Promise<void>((resolve) => {
      const sub = customer.pool.subscribe([relayUrl], { kinds: [1], "#t": [`probe${i}`] }, {
        onevent: () => {
          sub.close()
          resolve()
        },
        oneose: () => {
          const start = performance.now()
          void customer.pool.publish([relayUrl], event)
          void received.then(() => floor.push(performance.now() - start))
        }
      })
    })
    await received
    await new Promise((r) => setImmediate(r))
  }
  return floor
}

/** What the customer saw of one job, stamped as it arrived (performance.now()). */
interface Arrivals {
  result?: number
  firstPartial?: number
  /** Statuses and "result", in the order they arrived. */
  readonly order: Array<string>
  wake?: () => void
}

/** A customer whose replies are stamped on arrival (no polling between them and the clock). */
const stampingCustomer = async (relayUrl: string) => {
  const customer = new Customer([relayUrl])
  const arrivals = new Map<string, Arrivals>()
  const of = (id: string) => {
    let entry = arrivals.get(id)
    if (!entry) arrivals.set(id, entry = { order: [] })
    return entry
  }
  await new Promise<void>((resolve) => {
    customer.pool.subscribe([relayUrl], { kinds: [6050, 7000], "#p": [customer.pubkey] }, {
      onevent: (event) => {
        const now = performance.now()
        const id = event.tags.find((t) => t[0] === "e")?.[1]
        if (!id) return
        const entry = of(id)
        const status = event.kind === 6050 ? "result" : statusOf(event as Event) ?? "?"
        entry.order.push(status)
        if (status === "result") entry.result ??= now
        if (status === "partial") entry.firstPartial ??= now
        if (status === "result" || status === "error" || status === "partial") entry.wake?.()
      },
      oneose: () => resolve()
    })
  })
  /** Publishes the job and resolves when `until` holds for what arrived. */
  const run = async (job: Event, until: (a: Arrivals) => boolean, timeoutMs = 15_000) => {
    const entry = of(job.id)
    const start = performance.now()
    const seen = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`job ${job.id.slice(0, 8)}: no answer within ${timeoutMs} ms (seen: ${entry.order.join(", ") || "nothing"})`)), timeoutMs)
      entry.wake = () => {
        if (!until(entry)) return
        clearTimeout(timer)
        resolve()
      }
    })
    await Promise.all(customer.pool.publish([relayUrl], job))
    await seen
    return { start, entry }
  }
  return { customer, run }
}

/** Stage times per job, the first time each is reached. */
const stageClock = () => {
  const stages = new Map<string, Map<JobStage, number>>()
  recordJobStages((id, stage) => {
    let entry = stages.get(id)
    if (!entry) stages.set(id, entry = new Map())
    if (!entry.has(stage)) entry.set(stage, performance.now())
  })
  return stages
}

const activeJobs = (provider: TestProvider) =>
  provider.run(Effect.gen(function*() {
    return (yield* SubscriptionRef.get((yield* Kind5050DVM).status)).activeJobs
  }))

const providerConfig = (relayUrl: string, ollamaUrl: string): Partial<Config> => ({
  relays: [relayUrl],
  "ollama.host": ollamaUrl,
  maxConcurrentJobs: CONCURRENCY,
  // One customer sends everything here: lift the per-customer limits and the queue bound.
  "limits.jobsPerMinutePerCustomer": 10_000,
  "limits.jobsInFlightPerCustomer": CONCURRENT_JOBS + 1,
  "limits.maxQueuedJobs": 1000
})

interface Figures {
  readonly latencies: ReadonlyArray<number>
  readonly stageRows: ReadonlyArray<readonly [string, number]>
  readonly processingAfterResult: number
  readonly processingMissing: number
  readonly makespanMs: number
  readonly errors: ReadonlyArray<string>
  readonly cpuPerJobMs: number
  /** Events the provider signed per job of the burst (processing, queued position, result, success). */
  readonly signedPerJob: number
}

/** Sequential instant jobs with their stages, then the burst with the provider's CPU. */
const measureProvider = async (relayUrl: string, load: Load, dataDir?: string): Promise<Figures> => {
  const provider = await startProvider(providerConfig(relayUrl, load.instantUrl), dataDir ? { dataDir } : {})
  await provider.goOnline()
  const { customer, run } = await stampingCustomer(relayUrl)
  const stages = stageClock()
  try {
    for (let i = 0; i < 5; i++) await run(customer.buildJob({ prompt: `warm-up ${i}` }), (a) => a.result !== undefined) // JIT, connections

    const latencies: Array<number> = []
    const gaps = new Map<string, Array<number>>()
    const gap = (name: string, from: number | undefined, to: number | undefined) => {
      if (from === undefined || to === undefined) return
      gaps.set(name, [...(gaps.get(name) ?? []), to - from])
    }
    let processingAfterResult = 0
    let processingMissing = 0
    for (let i = 0; i < SEQUENTIAL_JOBS; i++) {
      const job = customer.buildJob({ prompt: `sequential job ${i}` })
      const { start, entry } = await run(job, (a) => a.result !== undefined)
      latencies.push((entry.result as number) - start)
      const s = stages.get(job.id) ?? new Map<JobStage, number>()
      gap("publish → received (request hop + door)", start, s.get("received"))
      gap("received → admitted", s.get("received"), s.get("admitted"))
      gap("admitted → model request", s.get("admitted"), s.get("model-request"))
      gap("model request → first byte", s.get("model-request"), s.get("first-byte"))
      gap("first byte → last byte", s.get("first-byte"), s.get("last-byte"))
      gap("last byte → result signed", s.get("last-byte"), s.get("result-signed"))
      gap("result signed → at the customer (result hop)", s.get("result-signed"), entry.result)
      gap("(result signed → relay OK, off the path)", s.get("result-signed"), s.get("result-ok"))
      await waitFor(() => entry.order.includes("success"), 5000, "success feedback")
      const processingAt = entry.order.indexOf("processing")
      if (processingAt < 0) processingMissing++
      else if (processingAt > entry.order.indexOf("result")) processingAfterResult++
    }
    const stageRows = [...gaps].map(([name, values]) => [name, p50(values)] as const)

    load.ask({ burst: { relay: relayUrl, jobs: CONCURRENT_JOBS } })
    await load.next("built")
    await waitFor(async () => (await activeJobs(provider)) === 0, 10_000, "the provider idle")
    const cpuStart = process.cpuUsage()
    load.ask({ go: true })
    const done = await load.next("done")
    await waitFor(async () => (await activeJobs(provider)) === 0, 30_000, "the burst's jobs ended")
    const cpuPerJobMs = cpuMs(process.cpuUsage(cpuStart)) / CONCURRENT_JOBS
    return {
      latencies,
      stageRows,
      processingAfterResult,
      processingMissing,
      makespanMs: done.makespanMs,
      errors: done.errors,
      cpuPerJobMs,
      signedPerJob: done.signedPerJob
    }
  } finally {
    recordJobStages(undefined)
    customer.close()
    await provider.dispose()
  }
}

/** Partial results on, a model that takes STREAMING_TOKEN_MS per token: publish → first partial. */
const measureFirstPartial = async (relayUrl: string, load: Load) => {
  const provider = await startProvider({ ...providerConfig(relayUrl, load.streamingUrl), "streaming.intervalMs": STREAMING_INTERVAL_MS })
  await provider.goOnline()
  const { customer, run } = await stampingCustomer(relayUrl)
  const stages = stageClock()
  try {
    await run(customer.buildJob({ prompt: "warm-up" }), (a) => a.result !== undefined)
    const firsts: Array<number> = []
    const hop: Array<number> = []
    const toModel: Array<number> = []
    const firstToken: Array<number> = []
    const out: Array<number> = []
    for (let i = 0; i < STREAMING_JOBS; i++) {
      const job = customer.buildJob({ prompt: `streaming job ${i}` })
      const { start, entry } = await run(job, (a) => a.firstPartial !== undefined)
      const s = stages.get(job.id) ?? new Map<JobStage, number>()
      firsts.push((entry.firstPartial as number) - start)
      hop.push((s.get("received") as number) - start)
      toModel.push((s.get("model-request") as number) - (s.get("received") as number))
      firstToken.push((s.get("first-byte") as number) - (s.get("model-request") as number))
      out.push((entry.firstPartial as number) - (s.get("first-byte") as number))
      await waitFor(() => entry.order.includes("success"), 15_000, "success feedback")
    }
    return { firsts, hop, toModel, firstToken, out }
  } finally {
    recordJobStages(undefined)
    customer.close()
    await provider.dispose()
  }
}

export const benchPipeline = async () => {
  await useWasmSignatures()
  const relay = await startRelay()
  const load = await startLoad()
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-bench-pipeline-"))
  const prober = new Customer([relay.url])
  try {
    const floor = await measureFloor(prober, relay.url)
    const crypto = measureCrypto()
    // A relay emptied between runs: a provider going online must not find the last run's jobs to catch up on.
    const plain = await measureProvider(relay.url, load)
    await relay.restart()
    const written = await measureProvider(relay.url, load, dataDir)
    await relay.restart()
    const partial = await measureFirstPartial(relay.url, load)
    const later = measureCrypto()
    const verifyMs = (crypto.verifyMs + later.verifyMs) / 2
    const signMs = (crypto.signMs + later.signMs) / 2

    const floor50 = p50(floor)
    console.log("Pipeline (real relay process, instant Ollama stand-in, wallet stand-in, pay-after, WASM signatures)")
    console.log(`  relay floor (${SEQUENTIAL_JOBS}) publish→receive     p50 ${ms(floor50)}  p95 ${ms(percentile(floor, 95))}  (a job's two hops: ${ms(2 * floor50)})`)
    for (const [name, f] of [["no data dir", plain], ["job history in a data dir", written]] as const) {
      const job50 = p50(f.latencies)
      console.log(`  ${name}:`)
      console.log(`    sequential jobs (${SEQUENTIAL_JOBS}) publish→result  p50 ${ms(job50)}  p95 ${ms(percentile(f.latencies, 95))}`)
      console.log(`    ratio job/floor (p50)                  ${(job50 / floor50).toFixed(2)}×  (aim: within 2.5×)`)
      console.log(`    where a job's time goes (p50 of each stage):`)
      for (const [stage, value] of f.stageRows) console.log(`      ${stage.padEnd(46)} ${ms(value)}`)
      console.log(`    order at the customer: processing after the result ${f.processingAfterResult}, processing missing ${f.processingMissing}`)
      console.log(
        `    ${CONCURRENT_JOBS} concurrent jobs makespan (maxConcurrentJobs ${CONCURRENCY})  ${ms(f.makespanMs)}  ` +
          `(${(CONCURRENT_JOBS / (f.makespanMs / 1000)).toFixed(0)} jobs/s, ${f.errors.length} errors)`
      )
      for (const reason of new Set(f.errors)) console.log(`      error: ${reason}`)
      const floorMs = verifyMs + f.signedPerJob * signMs
      console.log(
        `    provider CPU per job ${ms(f.cpuPerJobMs)}  vs its crypto floor ${ms(floorMs)} ` +
          `(1 verify ${ms(verifyMs)} + ${f.signedPerJob.toFixed(2)} signatures × ${ms(signMs)}): ${(f.cpuPerJobMs / floorMs).toFixed(2)}×  (aim: within 1.3×)`
      )
    }
    const first50 = p50(partial.firsts)
    console.log(
      `  time to first partial (${STREAMING_JOBS} jobs, streaming.intervalMs ${STREAMING_INTERVAL_MS}, model ${STREAMING_TOKEN_MS} ms a token × ${STREAMING_TOKENS})` +
        `  p50 ${ms(first50)}  p95 ${ms(percentile(partial.firsts, 95))}`
    )
    console.log(
      `    = request hop ${ms(p50(partial.hop))} + to the model ${ms(p50(partial.toModel))} + model's first token ${ms(p50(partial.firstToken))}` +
        ` + partial out to the customer ${ms(p50(partial.out))}  (hop + first token + hop: ${ms(2 * floor50 + p50(partial.firstToken))})`
    )
  } finally {
    prober.close()
    load.stop()
    await relay.stop()
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}
