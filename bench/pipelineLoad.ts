/**
 * The world around the provider of bench/pipeline.ts, in a process of its own (so the provider's
 * process does only the provider's work, as in production): the Ollama API stand-ins, the relay
 * probe that gives the floor, and the customers. Spoken to over IPC:
 *   → { ready, instantUrl, streamingUrl }
 *   ← { probe: { relay, count } }                  → { probed }      (publish→receive of a plain event)
 *   ← { sequential: { relay, jobs, until, label } } → { sequential }  (one job at a time, stamped)
 *   ← { burst: { relay, jobs } }  → { built }   ← { go }   → { done, makespanMs, errors, signedPerJob }
 * Times are epoch milliseconds (performance.timeOrigin + performance.now()), comparable with the
 * provider's stage times.
 */
import { type Event, finalizeEvent, generateSecretKey } from "nostr-tools/pure"
import { useWasmSignatures } from "../src/dvm/protocol/signing"
import { Customer, statusOf } from "../test/support/customer"
import { startOllamaStandIn, waitFor } from "../test/support/ollama-server"
import { epochNow } from "./epochNow"

/** The streaming model: this many words, one token each, this far apart (the first too). */
export const STREAMING_TOKENS = 20
export const STREAMING_TOKEN_MS = 20

/** What the customer saw of one job, stamped as it arrived. */
export interface JobRun {
  readonly id: string
  readonly start: number
  readonly result?: number
  readonly firstPartial?: number
  /** Statuses and "result", in the order they arrived. */
  readonly order: ReadonlyArray<string>
}

export type LoadReply =
  | { readonly ready: true; readonly instantUrl: string; readonly streamingUrl: string }
  | { readonly probed: ReadonlyArray<number> }
  | { readonly sequential: ReadonlyArray<JobRun> }
  | { readonly built: true }
  /** `signedPerJob`: events the provider signed for each job (feedback and result), as received. */
  | { readonly done: true; readonly makespanMs: number; readonly errors: ReadonlyArray<string>; readonly signedPerJob: number }

export type LoadRequest =
  | { readonly probe: { readonly relay: string; readonly count: number } }
  | { readonly sequential: { readonly relay: string; readonly jobs: number; readonly until: "result" | "partial"; readonly label: string } }
  | { readonly burst: { readonly relay: string; readonly jobs: number } }
  | { readonly go: true }

const send = (reply: LoadReply) => process.send?.(reply)

/** publish→receive of a plain event through the relay, from one client to itself. */
const probe = async (relay: string, count: number) => {
  const client = new Customer([relay])
  const times: Array<number> = []
  const key = generateSecretKey()
  try {
    for (let i = 0; i < count; i++) {
      const event = finalizeEvent({ kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [["t", `probe${i}`]], content: "ping" }, key)
      let published: Promise<unknown> = Promise.resolve()
      await new Promise<void>((resolve) => {
        let start = 0
        const sub = client.pool.subscribe([relay], { kinds: [1], "#t": [`probe${i}`] }, {
          onevent: () => {
            times.push(performance.now() - start)
            sub.close()
            resolve()
          },
          oneose: () => {
            start = performance.now()
            published = Promise.all(client.pool.publish([relay], event))
          }
        })
      })
      await published // its OK too, before the next
    }
  } finally {
    client.close()
  }
  return times
}

/** One job as it is being stamped; `wake` is called on each reply. */
interface Stamping {
  start: number
  result?: number
  firstPartial?: number
  readonly order: Array<string>
  wake?: () => void
}

/** Jobs one at a time, each stamped as its replies arrive (no polling between them and the clock). */
const sequential = async (relay: string, jobs: number, until: "result" | "partial", label: string) => {
  const customer = new Customer([relay])
  const runs = new Map<string, Stamping>()
  await new Promise<void>((resolve) => {
    customer.pool.subscribe([relay], { kinds: [6050, 7000], "#p": [customer.pubkey] }, {
      onevent: (event) => {
        const now = epochNow()
        const run = runs.get(event.tags.find((t) => t[0] === "e")?.[1] ?? "")
        if (!run) return
        const status = event.kind === 6050 ? "result" : statusOf(event as Event) ?? "?"
        run.order.push(status)
        if (status === "result") run.result ??= now
        if (status === "partial") run.firstPartial ??= now
        run.wake?.()
      },
      oneose: () => resolve()
    })
  })
  const out: Array<JobRun> = []
  try {
    for (let i = 0; i < jobs; i++) {
      const job = customer.buildJob({ prompt: `${label} job ${i}` })
      const run: Stamping = { start: 0, order: [] }
      runs.set(job.id, run)
      const reached = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`job ${job.id.slice(0, 8)}: no ${until} within 15 s (seen: ${run.order.join(", ") || "nothing"})`)), 15_000)
        run.wake = () => {
          if ((until === "result" ? run.result : run.firstPartial) === undefined && !run.order.includes("error")) return
          clearTimeout(timer)
          resolve()
        }
      })
      run.start = epochNow()
      await Promise.all(customer.pool.publish([relay], job))
      await reached
      // The job's last word before the next starts, so that jobs never overlap.
      await waitFor(() => run.order.includes("success") || run.order.includes("error"), 15_000, "the job's last feedback")
      out.push({ id: job.id, start: run.start, ...(run.result !== undefined ? { result: run.result } : {}), ...(run.firstPartial !== undefined ? { firstPartial: run.firstPartial } : {}), order: [...run.order] })
    }
  } finally {
    customer.close()
  }
  return out
}

const main = async () => {
  await useWasmSignatures()
  const instant = await startOllamaStandIn({ models: ["llama3.2:1b"] })
  instant.responder = () => "a short instant answer"
  const streaming = await startOllamaStandIn({ models: ["llama3.2:1b"], delayMsPerToken: STREAMING_TOKEN_MS })
  streaming.responder = () => Array.from({ length: STREAMING_TOKENS }, (_, i) => `word${i}`).join(" ")

  let burst: { customer: Customer; jobs: Array<Event> } | undefined
  const fail = (e: unknown) => {
    process.stderr.write(`bench load: ${e instanceof Error ? e.stack : String(e)}\n`)
    process.exit(1)
  }
  process.on("message", (message: LoadRequest) => {
    if ("probe" in message) {
      probe(message.probe.relay, message.probe.count).then((probed) => send({ probed }), fail)
    } else if ("sequential" in message) {
      const { relay, jobs, until, label } = message.sequential
      sequential(relay, jobs, until, label).then((runs) => send({ sequential: runs }), fail)
    } else if ("burst" in message) {
      void (async () => {
        const customer = new Customer([message.burst.relay])
        await customer.listen()
        const jobs = Array.from({ length: message.burst.jobs }, (_, i) => customer.buildJob({ prompt: `concurrent job ${i}` }))
        burst = { customer, jobs }
        send({ built: true })
      })().catch(fail)
    } else if (burst) {
      const { customer, jobs } = burst
      void (async () => {
        const start = performance.now()
        await Promise.all(jobs.map((job) => customer.publish(job)))
        const answered = (job: Event) =>
          customer.repliesFor(job.id).results.length > 0 || customer.repliesFor(job.id).feedback.some((f) => statusOf(f) === "error")
        await waitFor(() => jobs.every(answered), 120_000, "every job answered")
        const makespanMs = performance.now() - start
        const errors = jobs.flatMap((job) =>
          customer.repliesFor(job.id).feedback.filter((f) => statusOf(f) === "error").map((f) => f.tags.find((t) => t[0] === "status")?.[2] ?? "?"))
        // Every job's last word (success or error), so that every event it cost is counted.
        const ended = (job: Event) => customer.repliesFor(job.id).feedback.some((f) => ["success", "error"].includes(statusOf(f) ?? ""))
        await waitFor(() => jobs.every(ended), 30_000, "every job's last feedback")
        const signed = jobs.reduce((sum, job) => sum + customer.repliesFor(job.id).feedback.length + customer.repliesFor(job.id).results.length, 0)
        customer.close()
        send({ done: true, makespanMs, errors, signedPerJob: signed / jobs.length })
      })().catch(fail)
    }
  })
  process.on("disconnect", () => process.exit(0))
  send({ ready: true, instantUrl: instant.url, streamingUrl: streaming.url })
}

void main()
