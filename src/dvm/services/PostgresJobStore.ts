/**
 * The JobStore of a fleet: the history, settlement and earnings of every host sharing one Nostr
 * key, in one PostgreSQL table (fleet/database.ts). Each change is merged into its job's row
 * (`record || change`), so hosts never overwrite each other's fields, and earnings are sums over
 * rows: a sat is counted once however many hosts there are.
 *
 * As with the file history, a write that fails (the database is down) is never fatal: the change is
 * applied in memory, kept, and retried in order; `writeProblem` says what is wrong until it is
 * written. Reads fall back to what this host knows when the database cannot answer.
 *
 * `unfinished` and `unsettled` are empty: in a fleet a job cut off by a host's death, and an invoice
 * it was watching, are taken over by another host (fleet/PostgresFleet.ts), not failed or resumed at
 * start.
 */
import { Effect, Layer, PubSub, Schedule, Semaphore, Stream, SubscriptionRef } from "effect"
import { Database, toJson } from "../fleet/database"
import { type Earnings, type JobRecord, JobStore, type JobUpdate } from "./JobStore"

/** Unwritten changes are retried this often (and on every new change). */
const RETRY_MS = 2000
/** Records of finished jobs kept in memory (a fallback for reads while the database is down). */
const MEMORY_LIMIT = 2000
/** Changes kept unwritten at most (a long outage): the oldest are dropped past it, and said. */
const UNWRITTEN_LIMIT = 100_000
/** A write problem is logged at most this often (it stays readable in `writeProblem`). */
const WARN_EVERY_MS = 60_000

const dayStart = (ms: number) => {
  const d = new Date(ms)
  d.setHours(0, 0, 0, 0)
  return d.getTime()
}

const pinned = (job: JobRecord) => job.status === "received" || job.status === "processing" || job.payment === "unpaid"

export const postgresJobStoreLayer = Layer.effect(
  JobStore,
  Effect.gen(function*() {
    const db = yield* Database
    const jobs = new Map<string, JobRecord>()
    const changes = yield* PubSub.unbounded<JobRecord>()
    const writeProblem = yield* SubscriptionRef.make<string | undefined>(undefined)
    let unwritten: Array<JobUpdate> = []
    let dropped = 0
    let warnedAt = -Infinity
    let lastEarnings: Earnings = { jobsToday: 0, satsEarnedToday: 0, satsEarnedTotal: 0 }

    const remember = (update: JobUpdate): JobRecord => {
      const next = { ...jobs.get(update.id), ...update } as JobRecord
      jobs.delete(update.id)
      jobs.set(update.id, next)
      if (jobs.size > MEMORY_LIMIT) {
        for (const [id, job] of jobs) {
          if (pinned(job)) continue
          jobs.delete(id)
          break
        }
      }
      return next
    }

    const write = (update: JobUpdate) =>
      db.query(
        `INSERT INTO jobs (id, customer, record) VALUES ($1, $2, $3::jsonb)
         ON CONFLICT (id) DO UPDATE SET record = jobs.record || EXCLUDED.record, customer = coalesce(jobs.customer, EXCLUDED.customer)`,
        [update.id, update.customer ?? null, toJson(update)]
      )

    /** Writes what is unwritten, oldest first; stops at the first failure (kept for the next try). */
    const flush = Effect.gen(function*() {
      while (unwritten.length > 0) {
        const next = unwritten[0]!
        const failed = yield* write(next).pipe(Effect.flip, Effect.option)
        if (failed._tag === "Some" && failed.value.refused) {
          // Refused for what it holds, it would block every later change: dropped, and said.
          unwritten.shift()
          yield* Effect.logWarning(`A change to job ${next.id.slice(0, 8)} was not saved: ${failed.value.message}`)
          continue
        }
        if (failed._tag === "Some") {
          const problem = `${failed.value.message}: ${unwritten.length} change(s) to the job history are kept in memory and retried` +
            (dropped > 0 ? ` (${dropped} older ones dropped)` : "")
          yield* SubscriptionRef.set(writeProblem, problem)
          const now = Date.now()
          if (now - warnedAt >= WARN_EVERY_MS) {
            warnedAt = now
            yield* Effect.logWarning(problem)
          }
          return
        }
        unwritten.shift()
      }
      if ((yield* SubscriptionRef.get(writeProblem)) === undefined) return
      yield* SubscriptionRef.set(writeProblem, undefined)
      warnedAt = -Infinity
      yield* Effect.logInfo("The job history is written to the fleet database again")
    })
    // One flush at a time: changes go out in the order they were made.
    const flushing = yield* Semaphore.make(1)
    const flushOnce = flushing.withPermit(flush)

    yield* flushOnce.pipe(Effect.repeat(Schedule.spaced(RETRY_MS)), Effect.forkScoped)
    yield* Effect.addFinalizer(() => flushOnce)

    const record = (update: JobUpdate) =>
      Effect.gen(function*() {
        const stamped = { ...update, updatedAt: Date.now() }
        const next = remember(stamped)
        unwritten.push(stamped)
        if (unwritten.length > UNWRITTEN_LIMIT) {
          unwritten = unwritten.slice(-UNWRITTEN_LIMIT)
          dropped++
        }
        yield* flushOnce
        yield* PubSub.publish(changes, next)
        return next
      })

    /** The database's answer, or what this host knows when it cannot answer (said in the log). */
    const orLocal = <A>(from: Effect.Effect<A, { readonly message: string }>, local: () => A) =>
      from.pipe(Effect.catch((e) => Effect.as(Effect.logWarning(`${e.message}; answered from this host's memory`), local())))

    const get = (id: string) =>
      orLocal(
        Effect.andThen(flushOnce, db.query<{ record: JobRecord }>("SELECT record FROM jobs WHERE id = $1 AND record <> '{}'::jsonb", [id])),
        () => []
      ).pipe(Effect.map((rows) => rows[0]?.record ?? jobs.get(id)))

    const recent = (limit: number) =>
      orLocal(
        db.query<{ record: JobRecord }>(
          "SELECT record FROM jobs WHERE received_at IS NOT NULL ORDER BY received_at DESC LIMIT $1",
          [Math.max(0, Math.floor(limit))]
        ).pipe(Effect.map((rows) => rows.map((r) => r.record))),
        () => [...jobs.values()].reverse().sort((a, b) => b.receivedAt - a.receivedAt).slice(0, limit)
      )

    const earnings = Effect.suspend(() => {
      const today = dayStart(Date.now())
      return db.query<{ jobs_today: string; sats_today: string; sats_total: string }>(
        `SELECT
           (SELECT count(*) FROM jobs WHERE status = 'success' AND received_at >= $1) AS jobs_today,
           coalesce(sum((record->>'priceSats')::bigint) FILTER (WHERE coalesce((record->>'paidAt')::bigint, (record->>'updatedAt')::bigint) >= $1), 0) AS sats_today,
           coalesce(sum((record->>'priceSats')::bigint), 0) AS sats_total
         FROM jobs WHERE payment = 'paid'`,
        [today]
      ).pipe(
        Effect.map((rows) => {
          const row = rows[0]
          lastEarnings = {
            jobsToday: Number(row?.jobs_today ?? 0),
            satsEarnedToday: Number(row?.sats_today ?? 0),
            satsEarnedTotal: Number(row?.sats_total ?? 0)
          }
          return lastEarnings
        }),
        Effect.catch((e) => Effect.as(Effect.logWarning(`${e.message}; the earnings shown are the last known`), lastEarnings))
      )
    })

    return JobStore.of({
      record,
      get,
      recent,
      unfinished: Effect.succeed([]),
      unsettled: Effect.succeed([]),
      earnings,
      changes: Stream.fromPubSub(changes),
      refresh: flushOnce,
      writeProblem
    })
  })
)
