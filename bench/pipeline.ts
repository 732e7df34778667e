/**
 * Pipeline speed on this machine, against a real relay process with WASM signatures as in production:
 * - sequential jobs on an instant model: publish→result latency against the same relay's plain
 *   publish→receive round trip (one hop; a job's two hops make 2×) and against the job's own floor
 *   (its two hops plus the model server's round trip, asked directly from the provider's process),
 *   with where the time goes (p50 of each stage, from a stage recorder installed for the bench);
 * - a 200-job burst: makespan, and the provider's CPU per job beside its crypto floor (the cost of
 *   its own signatures and the request's verification, measured here with the same WASM module);
 * - the same with the job history written to a data dir;
 * - time to first partial with partial results on and a model that takes a while per token.
 * Three processes besides the relay: this one only conducts and prints; the provider runs alone in
 * its own, bundled by esbuild as the shipped hosts are (bench/pipelineProvider.ts), so its CPU and
 * its stages are the product's; the Ollama stand-ins and the customers run in a third
 * (bench/pipelineLoad.ts).
 */
import { type ChildProcess, execFileSync, fork } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { generateSecretKey } from "nostr-tools/pure"
import type { Config } from "../src/dvm/config"
import { feedbackEvent, refOf, resultEvent } from "../src/dvm/protocol/events"
import type { JobRequest } from "../src/dvm/protocol/jobRequest"
import { signEvent, useWasmSignatures, verifySignature } from "../src/dvm/protocol/signing"
import type { JobStage } from "../src/dvm/services/JobPipeline"
import { startRelay } from "../test/support/relay"
import { type JobRun, type LoadReply, type LoadRequest, STREAMING_TOKEN_MS, STREAMING_TOKENS } from "./pipelineLoad"
import type { ProviderReply, ProviderRequest } from "./pipelineProvider"

const SEQUENTIAL_JOBS = 300
const CONCURRENT_JOBS = 200
const CONCURRENCY = 4
const STREAMING_JOBS = 20
const STREAMING_INTERVAL_MS = 250
const CRYPTO_SAMPLES = 2000
const MODEL_ROUND_TRIPS = 100

const BENCH_DIR = path.resolve("bench")
const PROVIDER_BUNDLE = path.resolve("out/bench/pipelineProvider.js")

const percentile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}
const p50 = (values: ReadonlyArray<number>) => percentile(values, 50)
const ms = (n: number) => `${n.toFixed(2)} ms`
const cpuMs = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000

/** A child process spoken to over IPC: `ask` sends a request, `next(key)` waits for the reply that has `key`. */
const conversation = <Request, Reply extends object>(child: ChildProcess) => {
  const replies: Array<Reply> = []
  const waiters: Array<() => void> = []
  let exited: Error | undefined
  const wake = () => {
    for (const w of waiters.splice(0)) w()
  }
  child.on("message", (reply: Reply) => {
    replies.push(reply)
    wake()
  })
  child.once("exit", (code) => {
    exited = new Error(`a bench process exited (code ${code})`)
    wake()
  })
  const next = async <K extends string>(key: K): Promise<Extract<Reply, Record<K, unknown>>> => {
    while (true) {
      const i = replies.findIndex((r) => key in r)
      if (i >= 0) return replies.splice(i, 1)[0] as Extract<Reply, Record<K, unknown>>
      if (exited) throw exited
      await new Promise<void>((resolve) => waiters.push(resolve))
    }
  }
  return { next, ask: (request: Request) => void child.send(request as object), stop: () => child.kill() }
}

/** The load process: Ollama stand-ins, the relay probe and the customers. */
const startLoad = async () => {
  const child = fork(path.join(BENCH_DIR, "pipelineLoad.ts"), [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] })
  const talk = conversation<LoadRequest, LoadReply>(child)
  const ready = await talk.next("ready")
  return { ...ready, ...talk }
}
type Load = Awaited<ReturnType<typeof startLoad>>

/** The provider's process, from its bundle (built here with the shipped hosts' esbuild options). */
const startProviderProcess = async (config: Partial<Config>, dataDir?: string) => {
  const child = fork(PROVIDER_BUNDLE, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
  const talk = conversation<ProviderRequest, ProviderReply>(child)
  talk.ask({ start: { config, ...(dataDir ? { dataDir } : {}) } })
  await talk.next("started")
  const ask = async <K extends string>(request: ProviderRequest, key: K) => {
    talk.ask(request)
    return talk.next(key)
  }
  return {
    idle: (timeoutMs: number) => ask({ idle: { timeoutMs } }, "idle"),
    cpu: async () => (await ask({ cpu: true }, "cpu")).cpu,
    stages: async () => (await ask({ stages: true }, "stages")).stages,
    modelRoundTrips: (url: string, count: number) => ask({ modelRoundTrips: { url, count } }, "roundTrips"),
    stop: async () => {
      await ask({ stop: true }, "stopped")
      talk.stop()
    }
  }
}

/** The provider's bundle, built by the hosts' own build script (esbuild.mjs) with their options. */
const bundleProvider = () => execFileSync(process.execPath, ["esbuild.mjs", "--bench"], { stdio: "inherit" })

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

const providerConfig = (relayUrl: string, ollamaUrl: string): Partial<Config> => ({
  relays: [relayUrl],
  "ollama.host": ollamaUrl,
  maxConcurrentJobs: CONCURRENCY,
  // One customer sends everything here: lift the per-customer limits and the queue bound.
  "limits.jobsPerMinutePerCustomer": 10_000,
  "limits.jobsInFlightPerCustomer": CONCURRENT_JOBS + 1,
  "limits.maxQueuedJobs": 1000
})

/** Each job's stages, by id: the first time (epoch ms) it reached each. */
const stagesById = (stages: ReadonlyArray<readonly [string, JobStage, number]>) => {
  const byId = new Map<string, Map<JobStage, number>>()
  for (const [id, stage, at] of stages) {
    let entry = byId.get(id)
    if (!entry) byId.set(id, entry = new Map())
    entry.set(stage, at)
  }
  return byId
}

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
  /** The model server's round trip (request → first token), asked directly from the provider's process. */
  readonly modelRoundTrip: number
  /** The CPU of one such round trip in the provider's process (its HTTP client and the reply's parsing). */
  readonly modelCpuMs: number
}

/** Sequential instant jobs with their stages, then the burst with the provider's CPU. */
const measureProvider = async (relayUrl: string, load: Load, dataDir?: string): Promise<Figures> => {
  const provider = await startProviderProcess(providerConfig(relayUrl, load.instantUrl), dataDir)
  try {
    const asked = await provider.modelRoundTrips(load.instantUrl, MODEL_ROUND_TRIPS)
    const modelRoundTrip = p50(asked.roundTrips)
    load.ask({ sequential: { relay: relayUrl, jobs: 5, until: "result", label: "warm-up" } }) // JIT, connections
    await load.next("sequential")
    load.ask({ sequential: { relay: relayUrl, jobs: SEQUENTIAL_JOBS, until: "result", label: "sequential" } })
    const runs = (await load.next("sequential")).sequential
    const stages = stagesById(await provider.stages())

    const gaps = new Map<string, Array<number>>()
    const gap = (name: string, from: number | undefined, to: number | undefined) => {
      if (from === undefined || to === undefined) return
      gaps.set(name, [...(gaps.get(name) ?? []), to - from])
    }
    for (const run of runs) {
      const s = stages.get(run.id) ?? new Map<JobStage, number>()
      gap("publish → received (request hop + door)", run.start, s.get("received"))
      gap("received → admitted", s.get("received"), s.get("admitted"))
      gap("admitted → model request", s.get("admitted"), s.get("model-request"))
      gap("model request → first byte", s.get("model-request"), s.get("first-byte"))
      gap("first byte → last byte", s.get("first-byte"), s.get("last-byte"))
      gap("last byte → result signed", s.get("last-byte"), s.get("result-signed"))
      gap("result signed → at the customer (result hop)", s.get("result-signed"), run.result)
      gap("(result signed → relay OK, off the path)", s.get("result-signed"), s.get("result-ok"))
    }
    const order = (run: JobRun) => ({ processing: run.order.indexOf("processing"), result: run.order.indexOf("result") })

    load.ask({ burst: { relay: relayUrl, jobs: CONCURRENT_JOBS } })
    await load.next("built")
    await provider.idle(10_000)
    const cpuStart = await provider.cpu()
    load.ask({ go: true })
    const done = await load.next("done")
    await provider.idle(30_000)
    const cpuEnd = await provider.cpu()
    const cpuPerJobMs = (cpuMs(cpuEnd) - cpuMs(cpuStart)) / CONCURRENT_JOBS
    return {
      latencies: runs.flatMap((run) => run.result === undefined ? [] : [run.result - run.start]),
      stageRows: [...gaps].map(([name, values]) => [name, p50(values)] as const),
      processingAfterResult: runs.filter((run) => order(run).processing > order(run).result).length,
      processingMissing: runs.filter((run) => order(run).processing < 0).length,
      makespanMs: done.makespanMs,
      errors: done.errors,
      cpuPerJobMs,
      signedPerJob: done.signedPerJob,
      modelRoundTrip,
      modelCpuMs: asked.cpuMs
    }
  } finally {
    await provider.stop()
  }
}

/** Partial results on, a model that takes STREAMING_TOKEN_MS per token: publish → first partial. */
const measureFirstPartial = async (relayUrl: string, load: Load) => {
  const provider = await startProviderProcess({ ...providerConfig(relayUrl, load.streamingUrl), "streaming.intervalMs": STREAMING_INTERVAL_MS })
  try {
    load.ask({ sequential: { relay: relayUrl, jobs: 1, until: "partial", label: "warm-up" } })
    await load.next("sequential")
    load.ask({ sequential: { relay: relayUrl, jobs: STREAMING_JOBS, until: "partial", label: "streaming" } })
    const runs = (await load.next("sequential")).sequential
    const stages = stagesById(await provider.stages())
    const firsts: Array<number> = []
    const hop: Array<number> = []
    const toModel: Array<number> = []
    const firstToken: Array<number> = []
    const out: Array<number> = []
    for (const run of runs) {
      const s = stages.get(run.id)
      const [received, request, firstByte] = [s?.get("received"), s?.get("model-request"), s?.get("first-byte")]
      if (run.firstPartial === undefined || received === undefined || request === undefined || firstByte === undefined) continue
      firsts.push(run.firstPartial - run.start)
      hop.push(received - run.start)
      toModel.push(request - received)
      firstToken.push(firstByte - request)
      out.push(run.firstPartial - firstByte)
    }
    return { firsts, hop, toModel, firstToken, out }
  } finally {
    await provider.stop()
  }
}

export const benchPipeline = async () => {
  await useWasmSignatures()
  bundleProvider()
  const relay = await startRelay()
  const load = await startLoad()
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-bench-pipeline-"))
  try {
    load.ask({ probe: { relay: relay.url, count: SEQUENTIAL_JOBS } })
    const floor = (await load.next("probed")).probed
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
    console.log("Pipeline (real relay process, instant Ollama stand-in, wallet stand-in, pay-after, partial results off but in their own run, WASM signatures; the provider bundled, alone in its process)")
    console.log(`  relay floor (${SEQUENTIAL_JOBS}) publish→receive     p50 ${ms(floor50)}  p95 ${ms(percentile(floor, 95))}  (a job's two hops: ${ms(2 * floor50)})`)
    for (const [name, f] of [["no data dir", plain], ["job history in a data dir", written]] as const) {
      const job50 = p50(f.latencies)
      const jobFloor = 2 * floor50 + f.modelRoundTrip
      console.log(`  ${name}:`)
      console.log(`    sequential jobs (${SEQUENTIAL_JOBS}) publish→result  p50 ${ms(job50)}  p95 ${ms(percentile(f.latencies, 95))}`)
      console.log(`    ratio job/floor (p50)                  ${(job50 / floor50).toFixed(2)}×  (aim: within 2.5×)`)
      console.log(
        `    the job's own floor: two hops + the model server's round trip ${ms(f.modelRoundTrip)} (asked directly) = ${ms(jobFloor)}; ` +
          `the job ${(job50 / jobFloor).toFixed(2)}× it, ${ms(job50 - jobFloor)} of the provider's own`
      )
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
      console.log(
        `    with the model server's round trip added to the floor (its client's CPU, asked directly: ${ms(f.modelCpuMs)}): ` +
          `${ms(floorMs + f.modelCpuMs)}, the job ${(f.cpuPerJobMs / (floorMs + f.modelCpuMs)).toFixed(2)}× it`
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
    load.stop()
    await relay.stop()
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}
