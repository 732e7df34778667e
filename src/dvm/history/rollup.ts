/**
 * The per-day (and, for recent days, per-hour) totals the dashboard's earnings come from. Each job
 * adds its contribution to the buckets of the day it was received (jobs, outcomes, sats awaiting,
 * free jobs) and of the day it was paid (sats paid); a change to a job takes its old contribution
 * out and puts the new one in, so the totals stay exact as records change.
 *
 * Buckets are keyed by local midnight (and local hour start) as computed when they were filled; the
 * time zone is saved with them, and a rollup from another time zone is rebuilt, not reused.
 */
import type { ChartPoint, EarningsOverview, PeriodTotals } from "../services/History"

/** What a job's record says, as far as totals are concerned. */
export interface JobFacts {
  /** When received (ms); a job without it (a torn first line) counts only its paid sats. */
  readonly receivedAt: number | undefined
  readonly status: string | undefined
  readonly payment: string | undefined
  readonly priceSats: number | undefined
  /** When paid (ms): `paidAt`, else the record's last update (as JobStore counts it). */
  readonly paidAt: number | undefined
}

interface Bucket {
  jobs: number
  succeeded: number
  failed: number
  satsPaid: number
  satsAwaiting: number
  freeJobs: number
}

interface HourBucket {
  jobs: number
  satsPaid: number
}

/** Hours are kept this far back (today's chart needs only today; the margin covers a day change while open). */
const HOURS_KEPT_MS = 3 * 24 * 3600_000

export const dayOf = (ms: number) => {
  const d = new Date(ms)
  d.setHours(0, 0, 0, 0)
  return d.getTime()
}

export const hourOf = (ms: number) => {
  const d = new Date(ms)
  d.setMinutes(0, 0, 0)
  return d.getTime()
}

export const timeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone ?? "unknown"

/** Jobs served without charge: free mode, or a job that succeeded at a price of 0. */
export const isFree = (job: Pick<JobFacts, "payment" | "status" | "priceSats">) =>
  job.payment === "free" || (job.status === "success" && job.priceSats === 0)

const emptyBucket = (): Bucket => ({ jobs: 0, succeeded: 0, failed: 0, satsPaid: 0, satsAwaiting: 0, freeJobs: 0 })

export class Rollup {
  readonly days = new Map<number, Bucket>()
  readonly hours = new Map<number, HourBucket>()
  /** Hour buckets before this are not kept (nor taken from). */
  hoursFrom: number
  since: number | undefined

  constructor(now: number) {
    this.hoursFrom = hourOf(now - HOURS_KEPT_MS)
  }

  #day(key: number) {
    let bucket = this.days.get(key)
    if (!bucket) this.days.set(key, bucket = emptyBucket())
    return bucket
  }

  #hour(ms: number) {
    const key = hourOf(ms)
    if (key < this.hoursFrom) return undefined
    let bucket = this.hours.get(key)
    if (!bucket) this.hours.set(key, bucket = { jobs: 0, satsPaid: 0 })
    return bucket
  }

  /** Adds (sign 1) or takes out (sign -1) one job's contribution. */
  count(job: JobFacts, sign: 1 | -1) {
    const price = job.priceSats ?? 0
    if (job.receivedAt !== undefined) {
      const day = this.#day(dayOf(job.receivedAt))
      day.jobs += sign
      if (job.status === "success") day.succeeded += sign
      if (job.status === "error") day.failed += sign
      if (job.payment === "unpaid") day.satsAwaiting += sign * price
      if (isFree(job)) day.freeJobs += sign
      const hour = this.#hour(job.receivedAt)
      if (hour) hour.jobs += sign
      if (sign === 1 && (this.since === undefined || job.receivedAt < this.since)) this.since = job.receivedAt
    }
    if (job.payment === "paid" && job.paidAt !== undefined) {
      this.#day(dayOf(job.paidAt)).satsPaid += sign * price
      const hour = this.#hour(job.paidAt)
      if (hour) hour.satsPaid += sign * price
    }
  }

  /** Drops hours too old to be drawn again. */
  prune(now: number) {
    this.hoursFrom = Math.max(this.hoursFrom, hourOf(now - HOURS_KEPT_MS))
    for (const key of this.hours.keys()) if (key < this.hoursFrom) this.hours.delete(key)
  }

  overview(now: number): EarningsOverview {
    const today = new Date(now)
    const dayStart = (back: number) => new Date(today.getFullYear(), today.getMonth(), today.getDate() - back).getTime()
    const sum = (keys: Iterable<number>): PeriodTotals => {
      const total = emptyBucket()
      for (const key of keys) {
        const bucket = this.days.get(key)
        if (!bucket) continue
        for (const field of Object.keys(total) as Array<keyof Bucket>) total[field] += bucket[field]
      }
      return total
    }
    const last = (n: number) => Array.from({ length: n }, (_, i) => dayStart(n - 1 - i))
    const perDay: Array<ChartPoint> = last(30).map((start) => {
      const bucket = this.days.get(start)
      return { start, jobs: bucket?.jobs ?? 0, satsPaid: bucket?.satsPaid ?? 0 }
    })
    const perHour: Array<ChartPoint> = Array.from({ length: 24 }, (_, h) => {
      const start = new Date(today.getFullYear(), today.getMonth(), today.getDate(), h).getTime()
      const bucket = this.hours.get(start)
      return { start, jobs: bucket?.jobs ?? 0, satsPaid: bucket?.satsPaid ?? 0 }
    })
    return {
      today: sum([dayStart(0)]),
      last7Days: sum(last(7)),
      last30Days: sum(last(30)),
      allTime: sum(this.days.keys()),
      perDay,
      perHour,
      ...(this.since !== undefined ? { since: this.since } : {})
    }
  }

  encode() {
    return {
      hoursFrom: this.hoursFrom,
      since: this.since ?? null,
      days: [...this.days].map(([key, b]) => [key, b.jobs, b.succeeded, b.failed, b.satsPaid, b.satsAwaiting, b.freeJobs]),
      hours: [...this.hours].map(([key, b]) => [key, b.jobs, b.satsPaid])
    }
  }

  /** Throws when `saved` is not what `encode` wrote. */
  static decode(saved: unknown, now: number): Rollup {
    const s = saved as ReturnType<Rollup["encode"]>
    const numbers = (row: unknown, length: number) => {
      if (!Array.isArray(row) || row.length !== length || !row.every(Number.isFinite)) throw new Error("bad rollup row")
      return row as Array<number>
    }
    if (typeof s !== "object" || s === null || !Array.isArray(s.days) || !Array.isArray(s.hours) || !Number.isFinite(s.hoursFrom)) {
      throw new Error("bad rollup")
    }
    const rollup = new Rollup(now)
    rollup.hoursFrom = s.hoursFrom
    if (s.since !== null) rollup.since = numbers([s.since], 1)[0]
    for (const row of s.days) {
      const [key, jobs, succeeded, failed, satsPaid, satsAwaiting, freeJobs] = numbers(row, 7) as [number, number, number, number, number, number, number]
      rollup.days.set(key, { jobs, succeeded, failed, satsPaid, satsAwaiting, freeJobs })
    }
    for (const row of s.hours) {
      const [key, jobs, satsPaid] = numbers(row, 3) as [number, number, number]
      rollup.hours.set(key, { jobs, satsPaid })
    }
    rollup.prune(now)
    return rollup
  }
}
