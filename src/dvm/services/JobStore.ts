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
  /** The wallet backend that issued the invoice (absent in older history: the current one). */
  readonly invoiceBackend?: "spark" | "nwc"
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
  static readonly layer = (dataDir: string | undefined, options: { readonly rotateBytes?: number } = {}) =>
    Layer.effect(JobStore, makeJobStore(dataDir, options.rotateBytes ?? ROTATE_BYTES))
}

export const JOBS_FILE = "jobs.jsonl"
/**
 * A history past this size is archived when the store opens (`jobs-<time>.jsonl`, kept, never read
 * again) and a new one begun from what is still needed: the records in memory and the earnings so
 * far. So opening stays quick (reading is synchronous, at activation) however long the history.
 */
const ROTATE_BYTES = 16 * 1024 * 1024

/** The first line of a rotated history: earnings counted in the archived part. */
interface Carried {
  readonly carried: { readonly satsEarnedTotal: number; readonly days: ReadonlyArray<readonly [number, { jobs: number; sats: number }]> }
}
/**
 * Only this many records stay in memory; the file keeps them all. Jobs still running or with an
 * invoice open are never dropped, and earnings are counted as records change, so neither the
 * outcome of a job nor a sat depends on its record still being in memory.
 */
const MEMORY_LIMIT = 10_000

const dayOf = (ms: number) => {
  const d = new Date(ms)
  d.setHours(0, 0, 0, 0)
  return d.getTime()
}

/** A record that must stay in memory: its job may still end, or its invoice be paid. */
const pinned = (job: JobRecord) => job.status === "received" || job.status === "processing" || job.payment === "unpaid"

function makeJobStore(dataDir: string | undefined, rotateBytes: number) {
  return Effect.gen(function*() {
    const jobs = new Map<string, JobRecord>()
    const file = dataDir ? path.join(dataDir, JOBS_FILE) : undefined
    const changes = yield* PubSub.unbounded<JobRecord>()
    let satsEarnedTotal = 0
    /** Per local day (its midnight, ms): jobs that succeeded (by receipt) and sats paid (by payment). */
    const days = new Map<number, { jobs: number; sats: number }>()
    const day = (ms: number) => {
      const key = dayOf(ms)
      let entry = days.get(key)
      if (!entry) {
        entry = { jobs: 0, sats: 0 }
        days.set(key, entry)
        if (days.size > 7) days.delete(Math.min(...days.keys()))
      }
      return entry
    }

    /** What one record adds to the earnings: a job that succeeded, sats that were paid. */
    const contribution = (job: JobRecord | undefined) => ({
      jobDay: job?.status === "success" && job.receivedAt !== undefined ? dayOf(job.receivedAt) : undefined,
      paidDay: job?.payment === "paid" ? dayOf(job.paidAt ?? job.updatedAt) : undefined,
      sats: job?.payment === "paid" ? job.priceSats ?? 0 : 0
    })

    const count = (previous: JobRecord | undefined, next: JobRecord) => {
      const before = contribution(previous)
      const after = contribution(next)
      if (after.jobDay !== undefined && before.jobDay === undefined) day(after.jobDay).jobs++
      if (after.paidDay !== undefined && before.paidDay === undefined) {
        satsEarnedTotal += after.sats
        day(after.paidDay).sats += after.sats
      }
    }

    const evictOne = () => {
      for (const [id, job] of jobs) {
        if (pinned(job)) continue
        jobs.delete(id)
        return
      }
    }

    const apply = (update: JobUpdate): JobRecord => {
      const previous = jobs.get(update.id)
      const next = { ...previous, ...update } as JobRecord
      jobs.delete(update.id) // re-insert so the map stays in update order
      jobs.set(update.id, next)
      count(previous, next)
      if (jobs.size > MEMORY_LIMIT) evictOne()
      return next
    }

    const carry = (carried: Carried["carried"]) => {
      satsEarnedTotal += carried.satsEarnedTotal
      for (const [key, counts] of carried.days) {
        const entry = day(key)
        entry.jobs += counts.jobs
        entry.sats += counts.sats
      }
    }

    /** Archives the history and starts a new one from memory; a crash at any point loses nothing. */
    const rotate = (file: string) => {
      const fresh = `${file}.new`
      // The records rewritten below count themselves again when read: carry only the rest.
      let carriedSats = satsEarnedTotal
      const carriedDays = new Map([...days].map(([key, counts]) => [key, { ...counts }]))
      for (const job of jobs.values()) {
        const { jobDay, paidDay, sats } = contribution(job)
        const jobEntry = jobDay === undefined ? undefined : carriedDays.get(jobDay)
        if (jobEntry) jobEntry.jobs--
        if (paidDay === undefined) continue
        carriedSats -= sats
        const paidEntry = carriedDays.get(paidDay)
        if (paidEntry) paidEntry.sats -= sats
      }
      const carried: Carried = { carried: { satsEarnedTotal: carriedSats, days: [...carriedDays.entries()] } }
      fs.writeFileSync(fresh, [carried, ...jobs.values()].map((line) => JSON.stringify(line) + "\n").join(""))
      fs.renameSync(file, path.join(path.dirname(file), `jobs-${new Date().toISOString().replace(/[:.]/g, "-")}.jsonl`))
      fs.renameSync(fresh, file)
    }

    if (file) {
      fs.mkdirSync(path.dirname(file), { recursive: true })
      // A rotation cut off between its two renames: the new history is complete, take it.
      if (!fs.existsSync(file) && fs.existsSync(`${file}.new`)) fs.renameSync(`${file}.new`, file)
      if (fs.existsSync(file)) {
        const text = fs.readFileSync(file, "utf8")
        // A crash mid-append can leave a last line without its newline: end it, so the next record
        // starts a line of its own instead of being glued to the torn one and lost with it.
        if (text.length > 0 && !text.endsWith("\n")) fs.appendFileSync(file, "\n")
        for (const line of text.split("\n")) {
          if (line.trim() === "") continue
          try {
            const parsed = JSON.parse(line) as JobUpdate | Carried
            if ("carried" in parsed) carry(parsed.carried)
            else apply(parsed)
          } catch {
            // A line torn by a crash mid-write: the rest of the history is still good.
          }
        }
        if (text.length > rotateBytes) rotate(file)
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
        const today = days.get(dayOf(Date.now()))
        return { jobsToday: today?.jobs ?? 0, satsEarnedToday: today?.sats ?? 0, satsEarnedTotal }
      }),
      changes: Stream.fromPubSub(changes)
    })
  })
}
