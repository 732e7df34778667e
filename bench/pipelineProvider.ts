/**
 * The provider of bench/pipeline.ts, in a process of its own and bundled by esbuild as the shipped
 * hosts are (dist/cli.js, dist/extension.js), so its figures are the product's: nothing but the
 * provider runs here, and no run-time TypeScript loader sits between its modules. Spoken to over IPC:
 *   ← { start: { config, dataDir? } }       → { started }
 *   ← { modelRoundTrips: { url, count } }   → { roundTrips, cpuMs }   (the model server, asked directly)
 *   ← { idle: { timeoutMs } }               → { idle }          (no job running any more)
 *   ← { cpu }                               → { cpu }           (process.cpuUsage() so far)
 *   ← { stages }                            → { stages }        (every stage recorded since the last ask)
 *   ← { stop }                              → { stopped }
 * Times are epoch milliseconds (performance.timeOrigin + performance.now()), comparable across the
 * bench's processes.
 */
import { Effect, SubscriptionRef } from "effect"
import { Ollama } from "ollama"
import type { Config } from "../src/dvm/config"
import { type JobStage, recordJobStages } from "../src/dvm/services/JobPipeline"
import { keptAliveFetch } from "../src/dvm/services/keptAliveFetch"
import { Kind5050DVM } from "../src/dvm/services/Kind5050DVM"
import { startProvider, type TestProvider } from "../test/support/provider"
import { epochNow } from "./epochNow"

export type ProviderRequest =
  | { readonly start: { readonly config: Partial<Config>; readonly dataDir?: string } }
  | { readonly modelRoundTrips: { readonly url: string; readonly count: number } }
  | { readonly idle: { readonly timeoutMs: number } }
  | { readonly cpu: true }
  | { readonly stages: true }
  | { readonly stop: true }

export type ProviderReply =
  | { readonly started: true }
  /** Request sent → first token read, in ms, through the client and fetch generation uses; `cpuMs`: this process's CPU for one. */
  | { readonly roundTrips: ReadonlyArray<number>; readonly cpuMs: number }
  | { readonly idle: true }
  | { readonly cpu: NodeJS.CpuUsage }
  | { readonly stages: ReadonlyArray<readonly [string, JobStage, number]> }
  | { readonly stopped: true }

const send = (reply: ProviderReply) => process.send?.(reply)

let provider: TestProvider | undefined
let recorded: Array<readonly [string, JobStage, number]> = []
/** The first time each job reached each stage. */
const seen = new Set<string>()

const activeJobs = () =>
  (provider as TestProvider).run(Effect.gen(function*() {
    return (yield* SubscriptionRef.get((yield* Kind5050DVM).status)).activeJobs
  }))

const untilIdle = async (timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  while ((await activeJobs()) > 0) {
    if (Date.now() > deadline) throw new Error(`the provider still had jobs running after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** The model server asked as generation asks it (same client, same fetch), one request at a time. */
const modelRoundTrips = async (url: string, count: number) => {
  const client = new Ollama({ host: url, fetch: keptAliveFetch(new AbortController().signal) })
  const times: Array<number> = []
  const cpuStart = process.cpuUsage()
  for (let i = 0; i < count; i++) {
    const start = performance.now()
    let first: number | undefined
    for await (const chunk of await client.generate({ model: "llama3.2:1b", prompt: `round trip ${i}`, stream: true })) {
      if (chunk.response && first === undefined) first = performance.now()
    }
    times.push((first ?? performance.now()) - start)
  }
  const cpu = process.cpuUsage(cpuStart)
  return { roundTrips: times, cpuMs: (cpu.user + cpu.system) / 1000 / count }
}

const handle = async (message: ProviderRequest): Promise<ProviderReply> => {
  if ("start" in message) {
    recordJobStages((id, stage) => {
      const key = `${id} ${stage}`
      if (seen.has(key)) return
      seen.add(key)
      recorded.push([id, stage, epochNow()])
    })
    provider = await startProvider(message.start.config, message.start.dataDir ? { dataDir: message.start.dataDir } : {})
    await provider.goOnline()
    return { started: true }
  }
  if ("modelRoundTrips" in message) return await modelRoundTrips(message.modelRoundTrips.url, message.modelRoundTrips.count)
  if ("idle" in message) {
    await untilIdle(message.idle.timeoutMs)
    return { idle: true }
  }
  if ("cpu" in message) return { cpu: process.cpuUsage() }
  if ("stages" in message) {
    const stages = recorded
    recorded = []
    return { stages }
  }
  await provider?.dispose()
  provider = undefined
  return { stopped: true }
}

process.on("message", (message: ProviderRequest) => {
  handle(message).then(send, (e) => {
    process.stderr.write(`bench provider: ${e instanceof Error ? e.stack : String(e)}\n`)
    process.exit(1)
  })
})
process.on("disconnect", () => process.exit(0))
