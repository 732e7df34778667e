/**
 * The fleet over PostgreSQL: hosts started with the same Nostr key and SELL_COMPUTE_DATABASE_URL
 * serve as one provider. Claims (claims.ts) give each request to one host; each host's lease and
 * the leader's (leases.ts) say who is alive and who speaks for the provider; while online, every
 * third of a lease, a host renews its lease, takes or keeps the leadership, and takes over the jobs
 * and invoices of hosts whose lease ran out. The database failing never stops a host: it logs why
 * (at most once a minute), serves no new request it cannot claim, and keeps trying.
 */
import { Effect, Layer, Schedule } from "effect"
import { GoOnlineError } from "../errors"
import { nowSeconds } from "../protocol/nostrEvent"
import { JobStore } from "../services/JobStore"
import { postgresJobStoreLayer } from "../services/PostgresJobStore"
import { adoptOrphans, offer, type Orphan, resume, stillOurs, take, takenYet } from "./claims"
import { Database, type DatabaseError } from "./database"
import { type Claim, type ClaimOptions, Fleet, type FleetDuties, openInvoiceOf } from "./Fleet"
import { DEFAULT_LEASE_MS, forget, leave, renewHost, tryLead } from "./leases"

/**
 * A request waiting for room here looks whether its turn has come (no database call): the first in
 * line this often, those behind it less often the further back they are (at most once a second).
 */
const ROOM_POLL_MS = 50
/** A request waiting here asks this often whether another host took it meanwhile. */
const TAKEN_CHECK_MS = 5000
/** Jobs and invoices taken over per round, at most. */
const ADOPT_PER_ROUND = 20
/** A database problem is logged at most this often per kind (claims, lease). */
const WARN_EVERY_MS = 60_000
/** Going offline waits at most this for the database (the host's exit deadline is close behind). */
const LEAVE_TIMEOUT_MS = 2000

export interface FleetOptions {
  readonly databaseUrl: string
  /** A host silent this long is taken for dead (default 30 s). */
  readonly leaseMs?: number
}

/** The JobStore and the Fleet of a host in a fleet, on one database. */
export const postgresFleetLayer = (options: FleetOptions) =>
  Layer.provideMerge(
    Layer.mergeAll(postgresJobStoreLayer, makeFleetLayer(options.leaseMs ?? DEFAULT_LEASE_MS)),
    Database.layer(options.databaseUrl)
  ) as Layer.Layer<Fleet | JobStore | Database>

const makeFleetLayer = (leaseMs: number) =>
  Layer.effect(
    Fleet,
    Effect.gen(function*() {
      const db = yield* Database
      const short = (id: string) => id.slice(0, 8)
      /** Local time until which our lease surely holds (renewed before it, on the database's longer clock). */
      let leaseHeldUntil = 0
      /** Local time until which our leadership surely holds. */
      let leadingUntil = 0
      let leaving = false
      /** Left while others stay (the database said so): running jobs are theirs to finish. */
      let handingOver = false
      const warnedAt = new Map<string, number>()
      const warn = (kind: string, message: string) =>
        Effect.suspend(() => {
          const now = Date.now()
          if (now - (warnedAt.get(kind) ?? -Infinity) < WARN_EVERY_MS) return Effect.void
          warnedAt.set(kind, now)
          return Effect.logWarning(message)
        })

      const renew = Effect.gen(function*() {
        const started = Date.now()
        yield* renewHost(db, leaseMs)
        leaseHeldUntil = started + leaseMs
      })

      const lead = Effect.gen(function*() {
        const started = Date.now()
        const held = yield* tryLead(db, leaseMs)
        const was = Date.now() < leadingUntil
        leadingUntil = held ? started + leaseMs : 0
        return held && !was
      })

      /** Requests waiting for room on this host, oldest first: the first ones take the places that free up. */
      const waiting: Array<string> = []
      /** Takes under way (not yet counted in the pipeline's room). */
      let taking = 0

      /**
       * Taken by another host; or by this one, which took it over when that host died while this
       * request was still waiting here (its takeover run found this fiber in its place): run now.
       */
      const takenBy = (id: string) => Effect.map(resume(db.query, db.hostId, id), (resumed): Claim => resumed ?? { _tag: "Taken" })

      /** Waits for a place here, then takes the request unless another host took it first. */
      const takeWhenRoom = (id: string, options: ClaimOptions) =>
        Effect.gen(function*() {
          waiting.push(id)
          let checkedAt = Date.now()
          const givenUpAt = Date.now() + (options.limits?.maxAgeSeconds ?? 600) * 1000
          while (true) {
            // Too old to serve now (the queue never moved): left to no one, like a request seen too late.
            if (Date.now() > givenUpAt) return { _tag: "Taken" } as Claim
            const position = waiting.indexOf(id)
            if (position < options.room() - taking) {
              taking++
              // A database that cannot answer now leaves the request waiting (said once a minute), not dropped.
              const got = yield* take(db, id).pipe(
                Effect.ensuring(Effect.sync(() => void taking--)),
                Effect.catch((e: DatabaseError) => Effect.as(warn("take", `Requests wait: ${e.message}; retrying`), undefined))
              )
              if (got !== undefined) return got ? { _tag: "Claimed" } as Claim : yield* takenBy(id)
            }
            yield* Effect.sleep(Math.min(1000, ROOM_POLL_MS * (1 + Math.max(0, position))))
            if (Date.now() - checkedAt >= TAKEN_CHECK_MS) {
              checkedAt = Date.now()
              const taken = yield* takenYet(db, id).pipe(Effect.catch(() => Effect.succeed(false)))
              if (taken) return yield* takenBy(id)
            }
          }
        }).pipe(Effect.ensuring(Effect.sync(() => void waiting.splice(waiting.indexOf(id), 1))))

      const claimRequest = (request: Parameters<typeof offer>[1], options: ClaimOptions) =>
        Effect.gen(function*() {
          const offered = yield* offer(db, request, options)
          switch (offered._tag) {
            case "Resumed":
              return offered.claim
            case "Answer":
              return offered.refusal === undefined ? { _tag: "Claimed" } as Claim : { _tag: "Refused", reason: offered.refusal } as Claim
            case "Taken":
              return { _tag: "Taken" } as Claim
            case "Waiting":
              return yield* takeWhenRoom(request.id, options)
          }
        }).pipe(
          Effect.catch((e: DatabaseError) =>
            Effect.as(
              warn("claim", `Request ${short(request.id)} not served: it cannot be claimed (${e.message}); requests are served again once the database answers`),
              { _tag: "Taken" } as Claim
            )
          )
        )

      const ours = (jobId: string, result: Parameters<typeof stillOurs>[2]) =>
        stillOurs(db, jobId, result).pipe(
          // The database cannot say: the job is still ours while our lease surely holds (no host can have taken it).
          Effect.catch((e: DatabaseError) =>
            Effect.as(Effect.logWarning(`Job ${short(jobId)}: ${e.message}; ${Date.now() < leaseHeldUntil ? "sent, our lease holds" : "not sent, our lease may have run out"}`), Date.now() < leaseHeldUntil)
          )
        )

      const takeOver = (duties: FleetDuties, orphan: Orphan) =>
        Effect.gen(function*() {
          const from = orphan.previousOwner ? `host ${orphan.previousOwner}` : "a host"
          const record = orphan.record
          const invoice = openInvoiceOf(record)
          if (invoice) yield* duties.watch(orphan.id, invoice)
          const unfinished = record.status === "received" || record.status === "processing"
          if (!unfinished) return yield* Effect.logInfo(`Invoice of job ${short(orphan.id)} taken over from ${from} (its lease ran out): watched here`)
          const maxAge = yield* duties.maxRequestAgeSeconds
          if (orphan.request && nowSeconds() - orphan.request.created_at <= maxAge) {
            yield* Effect.logInfo(`Job ${short(orphan.id)} taken over from ${from} (its lease ran out): run again from the start`)
            return yield* duties.run(orphan.request)
          }
          const unpaid = invoice ? " (do not pay its earlier invoice)" : ""
          yield* duties.fail(
            { id: orphan.id, customer: orphan.customer ?? record.customer },
            `the provider stopped before finishing this job; please send it again${unpaid}`
          )
        })

      const round = (duties: FleetDuties) =>
        Effect.gen(function*() {
          if (leaving) return
          yield* renew.pipe(Effect.catch((e: DatabaseError) => warn("lease", `The fleet lease cannot be renewed (${e.message}); retrying`)))
          const becameLeader = yield* lead.pipe(Effect.catch((e: DatabaseError) => Effect.as(warn("leader", `The fleet leadership cannot be checked (${e.message}); retrying`), false)))
          if (becameLeader) {
            yield* Effect.logInfo("This host now speaks for the fleet (announcement and heartbeat)")
            yield* Effect.forkChild(duties.lead)
          }
          const orphans = yield* adoptOrphans(db, ADOPT_PER_ROUND).pipe(
            Effect.catch((e: DatabaseError) => Effect.as(warn("adopt", `Jobs of hosts that died cannot be taken over (${e.message}); retrying`), []))
          )
          for (const orphan of orphans) yield* takeOver(duties, orphan)
        })

      const join = Effect.gen(function*() {
        leaving = false
        handingOver = false
        yield* renew
        yield* lead
        yield* Effect.logInfo(`Joined the fleet on ${db.shown} as host ${db.hostId}${Date.now() < leadingUntil ? ", speaking for it" : ""}`)
      }).pipe(Effect.mapError((e) => new GoOnlineError({ message: `Cannot go online: ${e.message}` })))

      const leaveFleet = Effect.gen(function*() {
        leaving = true
        leadingUntil = 0
        const last = yield* leave(db)
        handingOver = !last
        return last
      }).pipe(
        Effect.timeoutOrElse({
          duration: LEAVE_TIMEOUT_MS,
          orElse: () => Effect.fail({ message: `the fleet database ${db.shown} did not answer within ${LEAVE_TIMEOUT_MS / 1000} s` } as DatabaseError)
        }),
        // Unknown whether others stay: the announcement is left up (as a host that died leaves it).
        Effect.catch((e: { readonly message: string }) =>
          Effect.as(Effect.logWarning(`Leaving the fleet: ${e.message}; the announcement is left up`), false)
        )
      )

      const left = forget(db).pipe(
        Effect.timeout(LEAVE_TIMEOUT_MS),
        Effect.catch(() => Effect.logWarning("The fleet database did not confirm this host left; its open invoices are taken over when its lease runs out")),
        Effect.asVoid
      )

      return Fleet.of({
        claim: claimRequest,
        stillOurs: ours,
        join,
        leading: Effect.sync(() => !leaving && Date.now() < leadingUntil),
        activeJobs: db.query<{ n: string }>(
          "SELECT count(*) AS n FROM jobs WHERE status IN ('received', 'processing')"
        ).pipe(Effect.map((rows) => Number(rows[0]?.n ?? 0)), Effect.orElseSucceed(() => undefined)),
        serve: (duties) => round(duties).pipe(Effect.repeat(Schedule.spaced(Math.max(200, Math.floor(leaseMs / 3)))), Effect.asVoid),
        leave: leaveFleet,
        handingOver: Effect.sync(() => handingOver),
        left,
        shared: true
      })
    })
  )
