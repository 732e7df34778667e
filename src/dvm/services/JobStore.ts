/**
 * The history of jobs: every state change appended to `jobs.jsonl` under the data dir, replayed on
 * start. It is what lets a restart skip requests already handled and what the UI's job list and
 * earnings come from. Without a data dir it keeps the history in memory only.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Context, Effect, Layer, PubSub, Stream } from "effect"

export type JobStatus = "received" | "processing" | "success" | "error"
export type PaymentState = "free" | "unpaid" | "paid" | "expired"

export interface JobRecord {
  readonly id: string
  readonly customer: string
  readonly kind: number
  /** The request's created_at (Unix seconds). */
  readonly requestedAt: number
  /** When we first saw it (ms). */
  readonly receivedAt: number
  readonly updatedAt: number
  readonly status: JobStatus
  readonly encrypted?: boolean
  readonly model?: string
  readonly promptTokens?: number
  readonly completionTokens?: number
  readonly priceSats?: number
  readonly invoiceId?: string
  readonly bolt11?: string
  readonly invoiceExpiresAt?: number
  readonly payment?: PaymentState
  /** When the wallet confirmed payment (ms). */
  readonly paidAt?: number
  readonly error?: string
}

export type JobUpdate = Partial<JobRecord> & { readonly id: string }

export interface Earnings {
  readonly jobsToday: number
  readonly satsEarnedToday: number
  readonly satsEarnedTotal: number
}

export class JobStore extends Context.Service<JobStore, {
  readonly record: (update: JobUpdate) => Effect.Effect<JobRecord>
  readonly get: (id: string) => Effect.Effect<JobRecord | undefined>
  /** Newest first. */
  readonly recent: (limit: number) => Effect.Effect<ReadonlyArray<JobRecord>>
  /** Jobs a crash or stop cut off before they ended. */
  readonly unfinished: Effect.Effect<ReadonlyArray<JobRecord>>
  /** Jobs whose invoice is still open: verification resumes on them after a restart. */
  readonly unsettled: Effect.Effect<ReadonlyArray<JobRecord>>
  readonly earnings: Effect.Effect<Earnings>
  readonly changes: Stream.Stream<JobRecord>
}>()("sellCompute/JobStore") {
  static readonly layer = (dataDir: string | undefined) => Layer.effect(JobStore, makeJobStore(dataDir))
}

export const JOBS_FILE = "jobs.jsonl"
/** Only this many records stay in memory; the file keeps them all. */
const MEMORY_LIMIT = 10_000

const startOfToday = () => {
  const d = new Date()
  d.setHours(0, 0, 0, 0)
  return d.getTime()
}

function makeJobStore(dataDir: string | undefined) {
  return Effect.gen(function*() {
    const jobs = new Map<string, JobRecord>()
    const file = dataDir ? path.join(dataDir, JOBS_FILE) : undefined
    const changes = yield* PubSub.unbounded<JobRecord>()

    const apply = (update: JobUpdate): JobRecord => {
      const previous = jobs.get(update.id)
      const next = { ...previous, ...update } as JobRecord
      jobs.delete(update.id) // re-insert so the map stays in update order
      jobs.set(update.id, next)
      if (jobs.size > MEMORY_LIMIT) jobs.delete(jobs.keys().next().value as string)
      return next
    }

    if (file) {
      fs.mkdirSync(path.dirname(file), { recursive: true })
      if (fs.existsSync(file)) {
        for (const line of fs.readFileSync(file, "utf8").split("\n")) {
          if (line.trim() === "") continue
          try {
            apply(JSON.parse(line) as JobUpdate)
          } catch {
            // A line torn by a crash mid-write: the rest of the history is still good.
          }
        }
      }
    }

    const record = (update: JobUpdate) =>
      Effect.gen(function*() {
        const stamped = { ...update, updatedAt: Date.now() }
        if (file) fs.appendFileSync(file, JSON.stringify(stamped) + "\n")
        const next = apply(stamped)
        yield* PubSub.publish(changes, next)
        return next
      })

    const all = () => [...jobs.values()]

    return JobStore.of({
      record,
      get: (id) => Effect.sync(() => jobs.get(id)),
      // Reversed first: jobs received in the same millisecond then list the latest first (the sort is stable).
      recent: (limit) => Effect.sync(() => all().reverse().sort((a, b) => b.receivedAt - a.receivedAt).slice(0, limit)),
      unfinished: Effect.sync(() => all().filter((j) => j.status === "received" || j.status === "processing")),
      unsettled: Effect.sync(() => all().filter((j) => j.payment === "unpaid")),
      earnings: Effect.sync(() => {
        const today = startOfToday()
        let jobsToday = 0
        let satsEarnedToday = 0
        let satsEarnedTotal = 0
        for (const job of jobs.values()) {
          if (job.receivedAt >= today && job.status === "success") jobsToday++
          if (job.payment !== "paid") continue
          satsEarnedTotal += job.priceSats ?? 0
          if ((job.paidAt ?? job.updatedAt) >= today) satsEarnedToday += job.priceSats ?? 0
        }
        return { jobsToday, satsEarnedToday, satsEarnedTotal }
      }),
      changes: Stream.fromPubSub(changes)
    })
  })
}
