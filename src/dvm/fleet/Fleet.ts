/**
 * Hosts serving as one provider (one Nostr key), or one host alone. The job pipeline asks it who
 * takes a request (`claim`) and whether a result may still go out (`stillOurs`); the online session
 * asks whether this host speaks for the provider (`leading`: the announcement and the heartbeat),
 * hands it its duties while online (`serve`: jobs and invoices taken over from hosts that died) and
 * asks on going offline whether it is the last host (`leave`: only the last withdraws the
 * announcement). Alone (`Fleet.solo`) every answer is the plain one: a request not in the history is
 * ours, we always lead, we are always the last. The fleet over PostgreSQL is PostgresFleet.ts; see
 * "A fleet of hosts" in DESIGN.md.
 */
import { Context, Effect, Layer } from "effect"
import type { GoOnlineError } from "../errors"
import type { RequestRef } from "../protocol/events"
import type { NostrEvent } from "../protocol/nostrEvent"
import { type JobRecord, JobStore } from "../services/JobStore"
import type { IssuedInvoice } from "../services/Wallet"

export type Claim =
  /**
   * This host runs the job. Taken over from a host that died: `prior`, its record; `result`, the
   * result that host had signed (to be sent again, not made anew).
   */
  | { readonly _tag: "Claimed"; readonly prior?: JobRecord; readonly result?: NostrEvent }
  /** Another host has it, or it was handled before: nothing to do. */
  | { readonly _tag: "Taken" }
  /** This host answers it with this refusal (a customer limit across the fleet). */
  | { readonly _tag: "Refused"; readonly reason: string }

export interface ClaimOptions {
  /**
   * The limits held across the fleet: the customer's (jobs in flight, per minute) and the requests
   * waiting for a host (`queued`). Undefined when the request is not counted (malformed: answered
   * with an error by the host that claims it).
   */
  readonly limits?: {
    readonly perMinute: number
    readonly inFlight: number
    readonly queued: number
    /** A request waiting longer than this (maxRequestAgeSeconds) is no longer counted, nor taken. */
    readonly maxAgeSeconds: number
  }
  /** Places this host has free to run a job now: a host takes a waiting request only when it has one. */
  readonly room: () => number
}

/** What a host does for the fleet while online (given by the online session). */
export interface FleetDuties {
  /** Runs a request (a job taken over) through the pipeline, as if just received. */
  readonly run: (request: NostrEvent) => Effect.Effect<void>
  /** Ends a job taken over that is too old to run again. */
  readonly fail: (request: RequestRef, reason: string) => Effect.Effect<void>
  /** Watches an invoice taken over until it is paid or expires. */
  readonly watch: (jobId: string, invoice: IssuedInvoice) => Effect.Effect<void>
  /** Speaks for the provider now: this host just became the leader (announce, beat). */
  readonly lead: Effect.Effect<void>
  /** Requests older than this (seconds) are not run again but failed. */
  readonly maxRequestAgeSeconds: Effect.Effect<number>
}

export class Fleet extends Context.Service<Fleet, {
  readonly claim: (request: NostrEvent, options: ClaimOptions) => Effect.Effect<Claim>
  /**
   * Just before a result goes out: whether this host still holds the job (a host that stalled past
   * its lease has lost it); if so the signed result is kept for a host that may take the job over.
   */
  readonly stillOurs: (jobId: string, result: NostrEvent) => Effect.Effect<boolean>
  /** On going online: joins the fleet (its database must answer). */
  readonly join: Effect.Effect<void, GoOnlineError>
  /** Whether this host publishes the announcement and the heartbeat now. */
  readonly leading: Effect.Effect<boolean>
  /** Jobs running across the fleet (taken, not ended), for the heartbeat; undefined alone (or unknown): this host's count is used. */
  readonly activeJobs: Effect.Effect<number | undefined>
  /** While online (forked in the session's scope): the lease, the leadership, jobs and invoices taken over. */
  readonly serve: (duties: FleetDuties) => Effect.Effect<void>
  /** On going offline: true when no other host stays online (then the announcement is withdrawn). */
  readonly leave: Effect.Effect<boolean>
  /**
   * Going offline while other hosts stay: the jobs this host is running are left to them (run again
   * from the start once this host has left), not failed.
   */
  readonly handingOver: Effect.Effect<boolean>
  /** Offline: what this host still owned (jobs it handed over, open invoices) goes to the other hosts at once. */
  readonly left: Effect.Effect<void>
  /** Whether hosts share the work (for the log). */
  readonly shared: boolean
}>()("sellCompute/Fleet") {
  /** One host alone: a request is its own unless the history has it. */
  static readonly solo = Layer.effect(
    Fleet,
    Effect.gen(function*() {
      const store = yield* JobStore
      return Fleet.of({
        claim: (request) => Effect.map(store.get(request.id), (known): Claim => (known ? { _tag: "Taken" } : { _tag: "Claimed" })),
        stillOurs: () => Effect.succeed(true),
        join: Effect.void,
        leading: Effect.succeed(true),
        activeJobs: Effect.succeed(undefined),
        serve: () => Effect.void,
        leave: Effect.succeed(true),
        handingOver: Effect.succeed(false),
        left: Effect.void,
        shared: false
      })
    })
  )
}

/** The invoice a record holds open (issued, unpaid), to watch or to wait on again. */
export const openInvoiceOf = (record: JobRecord | undefined): IssuedInvoice | undefined => {
  if (!record || record.payment !== "unpaid" || !record.invoiceId || !record.bolt11 || record.invoiceExpiresAt === undefined) return undefined
  return {
    id: record.invoiceId,
    bolt11: record.bolt11,
    amountSats: record.priceSats ?? 0,
    expiresAt: record.invoiceExpiresAt,
    ...(record.invoiceBackend ? { backend: record.invoiceBackend } : {})
  }
}
