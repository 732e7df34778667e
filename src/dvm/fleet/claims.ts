/**
 * Claims: each request is taken by one host of the fleet, in one transaction. A request is first
 * offered (put in the fleet's queue, its customer's limits checked across the fleet), then taken by
 * the first host with room to run it: hosts race on relays, not on work. The claim is held
 * under the host's lease (leases.ts): while the host renews it, the job is its; once the lease has
 * run out (the host died), `adoptOrphans` hands its unfinished jobs and open invoices to a host that
 * is alive, which runs the jobs from the start. A host that stalled past its lease and comes back
 * finds, at `stillOurs`, that the job is no longer its own, and sends nothing.
 */
import { Effect } from "effect"
import type { NostrEvent } from "../protocol/nostrEvent"
import type { JobRecord } from "../services/JobStore"
import { type Database, type DatabaseError, toJson } from "./database"
import type { Claim, ClaimOptions } from "./Fleet"

type Db = (typeof Database)["Service"]

const nonEmpty = (record: JobRecord | null | undefined) => (record && Object.keys(record).length > 0 ? record : undefined)

/** What offering a request to the fleet found. */
export type Offer =
  /** A job taken over from a host that died, now handed to this host's pipeline (see Claim). */
  | { readonly _tag: "Resumed"; readonly claim: Claim }
  /** In the fleet's queue, unowned: the first host with room takes it (`take`). */
  | { readonly _tag: "Waiting" }
  /** Ours to answer: a request not counted (malformed) or refused (a customer limit, the queue full). */
  | { readonly _tag: "Answer"; readonly refusal?: string }
  /** Another host has it, or it ended. */
  | { readonly _tag: "Taken" }

/**
 * Puts a request in the fleet's queue (one row per request, whichever host saw it first), checking
 * its customer's limits and the queue's bound across the fleet on the way in. A request refused, or
 * not counted (malformed: answered with an error), is owned at once by the host that put it there.
 */
/** A job this host took over from one that died, handed to its pipeline now (once); undefined when it is not one. */
export const resume = (query: Db["query"], hostId: string, jobId: string): Effect.Effect<Claim | undefined, DatabaseError> =>
  Effect.map(
    query<{ record: JobRecord; result: NostrEvent | null }>(
      "UPDATE jobs SET handed = true WHERE id = $1 AND owner = $2 AND NOT handed RETURNING record, result",
      [jobId, hostId]
    ),
    (rows) => {
      if (rows.length === 0) return undefined
      const prior = nonEmpty(rows[0]!.record)
      const result = rows[0]!.result
      return { _tag: "Claimed", ...(prior ? { prior } : {}), ...(result ? { result } : {}) }
    }
  )

export const offer = (db: Db, request: NostrEvent, options: ClaimOptions): Effect.Effect<Offer, DatabaseError> =>
  db.transaction((q) =>
    Effect.gen(function*() {
      const resumed = yield* resume(q, db.hostId, request.id)
      if (resumed) return { _tag: "Resumed", claim: resumed }
      const limits = options.limits
      // Offers for one customer are taken one at a time across the fleet, so the counts below hold.
      if (limits) yield* q("SELECT pg_advisory_xact_lock(hashtext($1))", [request.pubkey])
      const [known] = yield* q<{ owner: string | null; status: string | null }>("SELECT owner, status FROM jobs WHERE id = $1", [request.id])
      if (known) return known.owner === null && known.status === null ? { _tag: "Waiting" } : { _tag: "Taken" }
      let refusal: string | undefined
      if (limits) {
        // A request still waiting past the age limit is dead (every host that saw it went away): not counted.
        const [row] = yield* q<{ in_flight: string; last_minute: string; waiting: string }>(
          `SELECT
             (SELECT count(*) FROM jobs WHERE customer = $1 AND counted
                AND (status IN ('received', 'processing') OR (status IS NULL AND claimed_at > now() - $2 * interval '1 second'))) AS in_flight,
             (SELECT count(*) FROM jobs WHERE customer = $1 AND counted AND claimed_at > now() - interval '60 seconds') AS last_minute,
             (SELECT count(*) FROM jobs WHERE owner IS NULL AND status IS NULL AND claimed_at > now() - $2 * interval '1 second') AS waiting`,
          [request.pubkey, limits.maxAgeSeconds]
        )
        const waiting = Number(row?.waiting ?? 0)
        if (Number(row?.in_flight ?? 0) >= limits.inFlight) {
          refusal = `rate limited: at most ${limits.inFlight} of your jobs at a time; try again when one has finished`
        } else if (Number(row?.last_minute ?? 0) >= limits.perMinute) {
          refusal = `rate limited: at most ${limits.perMinute} jobs per minute per customer; try again in a minute`
        } else if (waiting >= limits.queued) {
          refusal = `busy: ${waiting} jobs are already waiting; try again in a minute`
        }
      }
      const queued = limits !== undefined && refusal === undefined
      const inserted = yield* q(
        `INSERT INTO jobs (id, customer, request, owner, handed, counted) VALUES ($1, $2, $3::jsonb, $4, $5, $5)
         ON CONFLICT (id) DO NOTHING RETURNING id`,
        [request.id, request.pubkey, toJson(request), queued ? null : db.hostId, queued]
      )
      if (inserted.length === 0) return { _tag: "Taken" }
      if (queued) return { _tag: "Waiting" }
      return refusal === undefined ? { _tag: "Answer" } : { _tag: "Answer", refusal }
    })
  )

/** Takes a waiting request for this host; false when another host took it first (or it ended). */
export const take = (db: Db, jobId: string) =>
  Effect.map(
    db.query("UPDATE jobs SET owner = $2, handed = true WHERE id = $1 AND owner IS NULL AND status IS NULL RETURNING id", [jobId, db.hostId]),
    (rows) => rows.length > 0
  )

/** Whether a waiting request has been taken by a host (or ended). */
export const takenYet = (db: Db, jobId: string) =>
  Effect.map(
    db.query<{ taken: boolean }>("SELECT owner IS NOT NULL OR status IS NOT NULL AS taken FROM jobs WHERE id = $1", [jobId]),
    (rows) => rows[0]?.taken ?? true
  )

/** Offers and, when this host has room, takes at once: what the pipeline's claim amounts to with room to spare. */
export const claim = (db: Db, request: NostrEvent, options: ClaimOptions): Effect.Effect<Claim, DatabaseError> =>
  Effect.gen(function*() {
    const offered = yield* offer(db, request, options)
    switch (offered._tag) {
      case "Resumed":
        return offered.claim
      case "Answer":
        return offered.refusal === undefined ? { _tag: "Claimed" } : { _tag: "Refused", reason: offered.refusal }
      case "Taken":
        return { _tag: "Taken" }
      case "Waiting":
        return (yield* take(db, request.id)) ? { _tag: "Claimed" } : { _tag: "Taken" }
    }
  })

/**
 * Whether the job is still this host's and not ended by another, checked just before its result
 * goes out; if so the signed result is kept with it, for a host that takes it over to send again.
 */
export const stillOurs = (db: Db, jobId: string, result: NostrEvent) =>
  Effect.map(
    db.query(
      `UPDATE jobs SET result = $3::jsonb
       WHERE id = $1 AND owner = $2 AND (status IS NULL OR status IN ('received', 'processing')) RETURNING id`,
      [jobId, db.hostId, toJson(result)]
    ),
    (rows) => rows.length > 0
  )

export interface Orphan {
  readonly id: string
  readonly customer: string | null
  readonly request: NostrEvent | null
  readonly record: JobRecord
  readonly previousOwner: string | null
}

/**
 * Takes up to `limit` jobs whose owner's lease has run out (or who left): unfinished jobs to run
 * again, and open invoices to watch. Hosts adopting at once take different ones (SKIP LOCKED).
 */
export const adoptOrphans = (db: Db, limit: number) =>
  db.query<Orphan & { previous_owner: string | null }>(
    `WITH orphans AS (
       SELECT j.id, j.owner FROM jobs j
       WHERE (j.status IN ('received', 'processing') OR j.payment = 'unpaid')
         AND j.owner IS NOT NULL AND j.owner <> $1
         AND NOT EXISTS (SELECT 1 FROM fleet_hosts h WHERE h.id = j.owner AND h.alive_until > now())
       ORDER BY j.claimed_at
       LIMIT $2
       FOR UPDATE OF j SKIP LOCKED
     )
     UPDATE jobs SET owner = $1, handed = false FROM orphans WHERE jobs.id = orphans.id
     RETURNING jobs.id, jobs.customer, jobs.request, jobs.record, orphans.owner AS previous_owner`,
    [db.hostId, limit]
  ).pipe(Effect.map((rows) => rows.map((r): Orphan => ({ ...r, previousOwner: r.previous_owner }))))
