// A fleet against one host: the same burst of jobs served by 1 and by 3 headless hosts
// (`node dist/cli.js`) sharing one key and one PostgreSQL, on one relay, each host with its own
// Ollama stand-in. Jobs/s and duplicates (a job answered or run more than once: must be 0). Then a
// host SIGKILLed mid-run: every job answered once, those it held run again by the others after its
// lease. An instant model measures the fleet's own cost; a model taking ~100 ms a job shows what
// sharing the work gains when the model is the bottleneck. On a small machine the hosts also share
// its cores, so the instant figures are not a scaling measure.
import * as fs from "node:fs"
import type { Event } from "nostr-tools/pure"
import { bytesToHex } from "nostr-tools/utils"
import { generateSecretKey } from "nostr-tools/pure"
import { useWasmSignatures } from "../src/dvm/protocol/signing"
import { Customer, statusOf } from "../test/support/customer"
import { type FleetHost, killFleetHosts, startFleetHost } from "../test/support/fleet"
import { type OllamaStandIn, startOllamaStandIn, waitFor } from "../test/support/ollama-server"
import { freshDatabase, query } from "../test/support/postgres"
import { type RelayProcess, startRelay } from "../test/support/relay"

const JOBS = 120
const CUSTOMERS = 12
const LEASE_S = 3
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Run {
  readonly jobsPerSecond: number
  /** Extra results (beyond one per job). */
  readonly duplicateResults: number
  /** Extra model runs (beyond one per job), not counting jobs run again after their host died. */
  readonly extraRuns: number
  readonly errors: number
  readonly unanswered: number
  readonly takenOver: number
  /** Model runs per host. */
  readonly perHost: ReadonlyArray<number>
}

const burst = async (
  relay: RelayProcess,
  ollamas: ReadonlyArray<OllamaStandIn>,
  hostCount: number,
  tokenMs: number,
  killOne: boolean
): Promise<Run> => {
  await relay.restart()
  for (const o of ollamas) {
    o.reset()
    o.delayMsPerToken = tokenMs
  }
  const databaseUrl = await freshDatabase("bench_fleet")
  const secretKeyHex = bytesToHex(generateSecretKey())
  const hosts: Array<FleetHost> = []
  for (let i = 0; i < hostCount; i++) {
    hosts.push(await startFleetHost({
      name: `bench${i}`,
      databaseUrl,
      secretKeyHex,
      // The default lease (30 s) unless a host is killed: one slowed down by the load is not taken for dead.
      ...(killOne ? { leaseSeconds: LEASE_S } : {}),
      config: {
        "sellCompute.relays": [relay.url],
        "sellCompute.ollama.host": ollamas[i]!.url,
        "sellCompute.payment.mode": "free",
        "sellCompute.streaming.intervalMs": 0,
        "sellCompute.maxConcurrentJobs": 1,
        "sellCompute.limits.maxQueuedJobs": 1000,
        "sellCompute.limits.jobsInFlightPerCustomer": 100,
        "sellCompute.limits.jobsPerMinutePerCustomer": 10_000
      }
    }))
  }
  const customers = Array.from({ length: CUSTOMERS }, () => new Customer([relay.url]))
  await Promise.all(customers.map((c) => c.listen()))
  const jobs: Array<{ customer: Customer; job: Event }> = Array.from({ length: JOBS }, (_, i) => {
    const customer = customers[i % CUSTOMERS]!
    return { customer, job: customer.buildJob({ prompt: `fleet job ${i}` }) }
  })
  const answered = ({ customer, job }: { customer: Customer; job: Event }) =>
    customer.repliesFor(job.id).results.length > 0 || customer.repliesFor(job.id).feedback.some((f) => statusOf(f) === "error")
  const start = performance.now()
  await Promise.all(jobs.map(({ customer, job }) => customer.publish(job)))
  if (killOne) {
    // Mid-run: a third of the jobs answered, the rest running or queued on the three hosts.
    await waitFor(() => jobs.filter(answered).length >= JOBS / 3, 120_000, "a third answered")
    await waitFor(() => ollamas[0]!.inFlight > 0, 10_000, "the host to kill running a job")
    await hosts[0]!.kill()
  }
  await waitFor(() => jobs.every(answered), 180_000, "every job answered")
  const makespanMs = performance.now() - start
  await sleep(1500) // a duplicate, were there one, has time to arrive
  const results = jobs.map(({ customer, job }) => customer.repliesFor(job.id).results.length)
  const errors = jobs.filter(({ customer, job }) => customer.repliesFor(job.id).feedback.some((f) => statusOf(f) === "error")).length
  const runs = ollamas.reduce((sum, o) => sum + o.requests.length, 0)
  const takenOver = hosts.slice(killOne ? 1 : 0).reduce((sum, h) => sum + (h.output().match(/run again from the start/g)?.length ?? 0), 0)
  const rows = await query<{ n: string }>(databaseUrl, "SELECT count(*) AS n FROM jobs WHERE status = 'success'")
  if (Number(rows[0]?.n) !== results.filter((r) => r > 0).length) process.stdout.write(`  (the database counts ${rows[0]?.n} successes)\n`)
  for (const c of customers) c.close()
  await killFleetHosts()
  return {
    jobsPerSecond: JOBS / (makespanMs / 1000),
    duplicateResults: results.reduce((sum, r) => sum + Math.max(0, r - 1), 0),
    extraRuns: Math.max(0, runs - JOBS - takenOver),
    errors,
    unanswered: results.filter((r) => r === 0).length - errors,
    takenOver,
    perHost: ollamas.slice(0, hostCount).map((o) => o.requests.length)
  }
}

const line = (label: string, run: Run) =>
  process.stdout.write(
    `  ${label}: ${run.jobsPerSecond.toFixed(1)} jobs/s; duplicates ${run.duplicateResults} results, ${run.extraRuns} extra runs; ` +
      `${run.errors} errors, ${run.unanswered} unanswered${run.takenOver ? `; ${run.takenOver} jobs taken over and run again` : ""}; ` +
      `runs per host ${run.perHost.join("/")}\n`
  )

export const benchFleet = async () => {
  if (!fs.existsSync("dist/cli.js")) throw new Error("npm run build first")
  await useWasmSignatures()
  const relay = await startRelay()
  const ollamas = await Promise.all([0, 1, 2].map(() => startOllamaStandIn({ models: ["llama3.2:1b"] })))
  for (const o of ollamas) o.responder = () => "one two three four five"
  try {
    process.stdout.write(`Fleet (${JOBS} jobs from ${CUSTOMERS} customers at once; hosts with one key and one PostgreSQL; 1 job at a time per host)\n`)
    line("instant model, 1 host ", await burst(relay, ollamas, 1, 0, false))
    line("instant model, 3 hosts", await burst(relay, ollamas, 3, 0, false))
    line("~100 ms model, 1 host ", await burst(relay, ollamas, 1, 20, false))
    line("~100 ms model, 3 hosts", await burst(relay, ollamas, 3, 20, false))
    line(`~100 ms model, 3 hosts, one SIGKILLed mid-run (lease ${LEASE_S} s)`, await burst(relay, ollamas, 3, 20, true))
  } finally {
    await killFleetHosts()
    await Promise.all([relay.stop(), ...ollamas.map((o) => o.close())])
  }
}
