/** What became of each job a fault test offered: answered, rejected with a reason, or lost. */
import assert from "node:assert/strict"
import type { Customer } from "./customer"
import { statusOf } from "./customer"

export interface Tally {
  readonly offered: number
  readonly answered: number
  readonly rejected: number
  /** Withdrawn by their customer (kind 5) and, as asked, never answered with a result. */
  readonly cancelled: number
  readonly lost: number
  readonly reasons: Record<string, number>
}

export const tally = (
  jobs: ReadonlyArray<{ readonly customer: Customer; readonly id: string; readonly cancelled?: boolean }>
): Tally => {
  let answered = 0
  let rejected = 0
  let cancelled = 0
  let lost = 0
  const reasons: Record<string, number> = {}
  for (const { customer, id, cancelled: withdrawn } of jobs) {
    const replies = customer.repliesFor(id)
    const error = replies.feedback.find((f) => statusOf(f) === "error")
    if (withdrawn && replies.results.length === 0) cancelled++
    else if (replies.results.length > 0 && replies.feedback.some((f) => statusOf(f) === "success")) answered++
    else if (error) {
      rejected++
      const reason = (error.tags.find((t) => t[0] === "status")?.[2] ?? "(no reason)").replace(/\d+/g, "N")
      reasons[reason] = (reasons[reason] ?? 0) + 1
    } else lost++
  }
  return { offered: jobs.length, answered, rejected, cancelled, lost, reasons }
}

/** Prints the tally as the fault suite's report and checks nothing was lost. */
export const report = (name: string, t: Tally) => {
  const cancelled = t.cancelled > 0 ? ` / cancelled ${t.cancelled}` : ""
  process.stdout.write(`      [${name}] offered ${t.offered} / answered ${t.answered} / rejected-with-reason ${t.rejected}${cancelled} / lost ${t.lost}\n`)
  for (const [reason, n] of Object.entries(t.reasons)) process.stdout.write(`        ${n} × ${reason}\n`)
  assert.equal(t.lost, 0, `${name}: ${t.lost} jobs lost`)
  assert.equal(t.answered + t.rejected + t.cancelled, t.offered)
}
