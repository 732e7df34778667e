/**
 * Leases, all on the database's clock: each host's (renewed every third of a lease while it is
 * online; its claims and invoices are its own while it holds it) and the leader's (one host at a
 * time publishes the announcement and the heartbeat; the lease moves when its holder dies or leaves).
 */
import { Effect } from "effect"
import type { Database } from "./database"

type Db = (typeof Database)["Service"]

/** Default lease: a host silent this long is taken for dead. */
export const DEFAULT_LEASE_MS = 30_000
export const FLEET_LEASE_ENV = "SELL_COMPUTE_FLEET_LEASE_S"

export const renewHost = (db: Db, leaseMs: number) =>
  db.leaseQuery(
    `INSERT INTO fleet_hosts (id, alive_until) VALUES ($1, now() + $2 * interval '1 millisecond')
     ON CONFLICT (id) DO UPDATE SET alive_until = EXCLUDED.alive_until`,
    [db.hostId, leaseMs]
  )

/** Takes or keeps the leader's lease; true when this host holds it now. */
export const tryLead = (db: Db, leaseMs: number) =>
  db.leaseQuery(
    `UPDATE fleet_leader SET host = $1, until = now() + $2 * interval '1 millisecond'
     WHERE id = 1 AND (
       host = $1 OR host IS NULL OR until < now()
       OR NOT EXISTS (SELECT 1 FROM fleet_hosts h WHERE h.id = fleet_leader.host AND h.alive_until > now() AND NOT h.leaving)
     )
     RETURNING host`,
    [db.hostId, leaseMs]
  ).pipe(Effect.map((rows) => rows.length > 0))

/**
 * Going offline: this host stops counting as staying and gives up the leadership; true when no
 * other host stays online. One host leaves at a time (the leader row is locked), so of two last
 * hosts stopping together exactly the later sees itself last.
 */
export const leave = (db: Db) =>
  db.transaction((q) =>
    Effect.gen(function*() {
      yield* q("SELECT host FROM fleet_leader WHERE id = 1 FOR UPDATE")
      yield* q("UPDATE fleet_hosts SET leaving = true WHERE id = $1", [db.hostId])
      yield* q("UPDATE fleet_leader SET host = NULL, until = 'epoch' WHERE id = 1 AND host = $1", [db.hostId])
      const [row] = yield* q<{ staying: string }>(
        "SELECT count(*) AS staying FROM fleet_hosts WHERE id <> $1 AND NOT leaving AND alive_until > now()",
        [db.hostId]
      )
      return Number(row?.staying ?? 0) === 0
    })
  )

/** Offline: the host's row goes, so what it still owned is taken over at once. */
export const forget = (db: Db) => db.query("DELETE FROM fleet_hosts WHERE id = $1", [db.hostId])
