/**
 * The seller's whole job history, for the dashboard: earnings per period and per day/hour, and
 * the jobs paged, filtered and exported as CSV. It covers every job ever recorded, archives
 * included, through a per-day rollup persisted in the data dir (so opening stays fast with
 * 100,000+ jobs), and reads the records themselves only for the page asked for.
 *
 * CONTRACT (session of 2026-11-27): the types and the service shape below are what the webview
 * side builds against. The implementation (`History.layer`) is written behind them.
 */
import { Context, type Effect, Layer, type Stream } from "effect"
import { type HistoryOptions, makeHistory } from "../history/makeHistory"
import type { JobRecord, JobStatus, PaymentState } from "./JobStore"

/** Totals over one period. Jobs count by the local day they were received, sats by the day paid. */
export interface PeriodTotals {
  readonly jobs: number
  readonly succeeded: number
  readonly failed: number
  /** Sats the wallet confirmed paid. */
  readonly satsPaid: number
  /** Sats invoiced and still open (not paid, not expired), on the day the job was received. */
  readonly satsAwaiting: number
  /** Jobs served without charge (payment "free", or a success at a price of 0). */
  readonly freeJobs: number
}

export interface ChartPoint {
  /** Start of the bucket (local midnight for a day, the hour's start for an hour), ms. */
  readonly start: number
  readonly jobs: number
  readonly satsPaid: number
}

export interface EarningsOverview {
  readonly today: PeriodTotals
  readonly last7Days: PeriodTotals
  readonly last30Days: PeriodTotals
  readonly allTime: PeriodTotals
  /** The last 30 local days, oldest first, today last; empty days included as zeros (30 points). */
  readonly perDay: ReadonlyArray<ChartPoint>
  /** Today's 24 hours, oldest first (24 points). */
  readonly perHour: ReadonlyArray<ChartPoint>
  /** First job ever received (ms), if any. */
  readonly since?: number
}

export interface HistoryFilter {
  readonly status?: JobStatus
  /** A customer's hex pubkey or npub. */
  readonly customer?: string
  readonly model?: string
  /** "none": jobs with no payment state (refused before pricing). */
  readonly payment?: PaymentState | "none"
  /** A job id (hex, full or a prefix of at least 4 characters) or its `nevent`/`note` form. */
  readonly id?: string
}

export interface HistoryPage {
  /** Newest first. */
  readonly rows: ReadonlyArray<JobRecord>
  /** Jobs matching the filter, all pages. */
  readonly total: number
  readonly offset: number
  readonly limit: number
  /** Every model and customer seen in the history, for the filter pickers (bounded, most used first). */
  readonly models: ReadonlyArray<string>
  /** Customers (hex pubkeys) seen in the history, for the filter picker (bounded, most served first). */
  readonly customers?: ReadonlyArray<string>
}

/** How the history was opened, for the log and the bench. */
export interface HistoryInfo {
  /** "reused": from the saved rollup plus what the files gained since; "rebuilt": read from every file; "memory": no data dir. */
  readonly opened: "reused" | "rebuilt" | "memory"
  /** Why it was rebuilt (no rollup saved, corrupt, a file gone or replaced, an earlier archive appeared...). */
  readonly reason?: string
  readonly jobs: number
  readonly files: number
  /** History bytes read since it was opened. */
  readonly bytesRead: number
}

export class History extends Context.Service<History, {
  readonly overview: Effect.Effect<EarningsOverview>
  /** `limit` is capped (at 200); an invalid filter matches nothing rather than failing. */
  readonly page: (filter: HistoryFilter, offset: number, limit: number) => Effect.Effect<HistoryPage>
  readonly job: (id: string) => Effect.Effect<JobRecord | undefined>
  /** The jobs matching the filter as CSV (RFC 4180, header row, newest first). */
  readonly csv: (filter: HistoryFilter) => Effect.Effect<string>
  /** Emits (coalesced, shortly after) when jobs changed and the figures above may differ: the dashboard re-asks then. */
  readonly changes: Stream.Stream<void>
  readonly info: Effect.Effect<HistoryInfo>
}>()("sellCompute/History") {
  /** Over the history in `dataDir` (the JobStore's); without one, over JobStore's memory. Needs JobStore. */
  static readonly layer = (dataDir: string | undefined, options: HistoryOptions = {}) =>
    Layer.effect(History, makeHistory(dataDir, options))
}
