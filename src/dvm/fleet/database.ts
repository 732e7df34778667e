/**
 * The fleet's PostgreSQL (env SELL_COMPUTE_DATABASE_URL): a bounded pool, a deadline on every call,
 * errors that name the database without its password, and the schema created or brought up to
 * date on first use (one host at a time, under an advisory lock). Nothing here is fatal to the
 * host: a call that fails says why, and its caller retries or falls back.
 */
import { randomBytes } from "node:crypto"
import * as os from "node:os"
import { Context, Data, Effect, Layer } from "effect"
import pg from "pg"

export const DATABASE_URL_ENV = "SELL_COMPUTE_DATABASE_URL"

export class DatabaseError extends Data.TaggedError("DatabaseError")<{
  readonly message: string
  /** The database refused this statement for what it holds (bad data, a constraint): trying it again will not help. */
  readonly refused?: boolean
}> {}

/**
 * A value as JSON for a jsonb column. PostgreSQL's jsonb takes no NUL character (`\u0000`), which
 * a customer's text may hold: it becomes U+FFFD, so such a request or record is still stored.
 */
export const toJson = (value: unknown): string => JSON.stringify(value).replace(/(?<!\\)((?:\\\\)*)\\u0000/g, "$1\\ufffd")

/** Connections held at most for jobs (claims, records), plus one for leases: all short queries. */
export const POOL_SIZE = 4
/** The longest one query (or taking a connection) may take. */
export const QUERY_TIMEOUT_MS = 5000

/** The URL as it may be shown: the password (and any query string, which may carry one) left out. */
export const redactUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = "***"
    parsed.search = ""
    return parsed.toString()
  } catch {
    return "(an unparsable database URL)"
  }
}

/** The password in a URL, to be cut from any message that might quote it. */
const passwordOf = (url: string): string | undefined => {
  try {
    const password = decodeURIComponent(new URL(url).password)
    return password === "" ? undefined : password
  } catch {
    return undefined
  }
}

export interface Query {
  <R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: ReadonlyArray<unknown>): Effect.Effect<Array<R>, DatabaseError>
}

export class Database extends Context.Service<Database, {
  /** This process in the fleet: unique per run, readable in the table of hosts. */
  readonly hostId: string
  /** The URL without its password, for messages. */
  readonly shown: string
  /** One statement, on any pooled connection, within the deadline. */
  readonly query: Query
  /** One statement on the connection kept for leases, so a busy pool never delays a lease past its end. */
  readonly leaseQuery: Query
  /** Statements on one connection inside BEGIN/COMMIT (rolled back when `body` fails). */
  readonly transaction: <A>(body: (query: Query) => Effect.Effect<A, DatabaseError>) => Effect.Effect<A, DatabaseError>
}>()("sellCompute/Database") {
  static readonly layer = (url: string) => Layer.effect(Database, makeDatabase(url))
}

/** Version 1: jobs (claims and records in one row), the hosts' leases, the leader's lease. */
const SCHEMA_VERSION = 1
/** Any constant: hosts starting together create the schema one at a time. */
const MIGRATION_LOCK = 5_050_001

const SCHEMA = `
CREATE TABLE IF NOT EXISTS fleet_schema (version integer NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
  id text PRIMARY KEY,
  customer text,
  -- The request as received (a JSON Nostr event): what a host taking the job over runs again.
  request jsonb,
  -- The host that claimed the job (fleet_hosts.id); its lease is that host's.
  owner text,
  -- The owner's pipeline has the job in hand (false between a takeover and its run).
  handed boolean NOT NULL DEFAULT false,
  -- Counts toward its customer's limits (false for a request refused at the claim).
  counted boolean NOT NULL DEFAULT false,
  claimed_at timestamptz NOT NULL DEFAULT now(),
  -- The result as its host signed it, just before sending: a host taking the job over sends this one.
  result jsonb,
  -- The JobStore record (JobRecord as JSON), merged change by change.
  record jsonb NOT NULL DEFAULT '{}'::jsonb,
  status text GENERATED ALWAYS AS (record->>'status') STORED,
  payment text GENERATED ALWAYS AS (record->>'payment') STORED,
  received_at bigint GENERATED ALWAYS AS ((record->>'receivedAt')::bigint) STORED
);
CREATE INDEX IF NOT EXISTS jobs_open ON jobs (claimed_at) WHERE status IS NULL OR status IN ('received', 'processing') OR payment = 'unpaid';
CREATE INDEX IF NOT EXISTS jobs_customer ON jobs (customer, claimed_at);
CREATE INDEX IF NOT EXISTS jobs_received ON jobs (received_at DESC);
CREATE INDEX IF NOT EXISTS jobs_paid ON jobs (payment) WHERE payment = 'paid';
CREATE TABLE IF NOT EXISTS fleet_hosts (
  id text PRIMARY KEY,
  alive_until timestamptz NOT NULL,
  -- Going offline: still owns its jobs until it has ended them, but no longer counts as staying.
  leaving boolean NOT NULL DEFAULT false,
  started_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS fleet_leader (
  id integer PRIMARY KEY CHECK (id = 1),
  host text,
  until timestamptz NOT NULL DEFAULT 'epoch'
);
INSERT INTO fleet_leader (id) VALUES (1) ON CONFLICT (id) DO NOTHING;
`

function makeDatabase(url: string) {
  return Effect.gen(function*() {
    const shown = redactUrl(url)
    const secret = passwordOf(url)
    const hostId = `${os.hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`
    const readable = (what: string, e: unknown) => {
      let reason = e instanceof Error ? e.message : String(e)
      if (secret) reason = reason.split(secret).join("***")
      if (url) reason = reason.split(url).join(shown)
      const code = (e as { code?: string }).code
      // SQLSTATE classes 22 (data exception) and 23 (integrity constraint): the statement, not the connection.
      const refused = typeof code === "string" && /^2[23][0-9A-Z]{3}$/.test(code)
      return new DatabaseError({ message: `the fleet database ${shown}: ${what} failed (${reason || code || "no reason given"})`, refused })
    }
    const makePool = (max: number) => Effect.acquireRelease(
      Effect.sync(() => {
        const created = new pg.Pool({
          connectionString: url,
          max,
          connectionTimeoutMillis: QUERY_TIMEOUT_MS,
          idleTimeoutMillis: 30_000,
          query_timeout: QUERY_TIMEOUT_MS,
          statement_timeout: QUERY_TIMEOUT_MS,
          application_name: "sell-compute"
        })
        // A pooled connection that breaks while idle (the server restarted) is dropped, not fatal.
        created.on("error", () => undefined)
        return created
      }),
      (p) => Effect.promise(() => p.end().catch(() => undefined))
    )
    const pool = yield* makePool(POOL_SIZE)
    const leasePool = yield* makePool(1)

    const run = <R extends pg.QueryResultRow>(client: pg.Pool | pg.PoolClient, text: string, values: ReadonlyArray<unknown> = []) =>
      Effect.tryPromise({
        try: () => client.query<R>(text, values as Array<unknown>).then((r) => r.rows),
        catch: (e) => readable(`${text.trim().split(/\s+/, 1)[0]!.toUpperCase()} statement`, e)
      }).pipe(
        Effect.timeoutOrElse({
          duration: QUERY_TIMEOUT_MS + 1000,
          orElse: () => Effect.fail(new DatabaseError({ message: `the fleet database ${shown} did not answer within ${QUERY_TIMEOUT_MS / 1000} s` }))
        })
      )

    let migrated = false
    const connect = Effect.tryPromise({ try: () => pool.connect(), catch: (e) => readable("connecting", e) })
    const withClient = <A>(body: (client: pg.PoolClient) => Effect.Effect<A, DatabaseError>) =>
      Effect.acquireUseRelease(
        connect,
        body,
        // A connection whose transaction failed midway is closed rather than pooled in an unknown state.
        (client, exit) => Effect.sync(() => client.release(exit._tag === "Failure" ? true : undefined))
      )

    const inTransaction = <A>(client: pg.PoolClient, body: (query: Query) => Effect.Effect<A, DatabaseError>) =>
      Effect.gen(function*() {
        yield* run(client, "BEGIN")
        const result = yield* body(((text: string, values?: ReadonlyArray<unknown>) => run(client, text, values)) as Query).pipe(
          Effect.tapError(() => run(client, "ROLLBACK").pipe(Effect.ignore))
        )
        yield* run(client, "COMMIT")
        return result
      })

    /** Created on first use, so a host started while the database is down comes up once it is back. */
    const migrate = Effect.suspend(() => {
      if (migrated) return Effect.void
      return withClient((client) =>
        inTransaction(client, (q) =>
          Effect.gen(function*() {
            yield* q("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK])
            yield* q(SCHEMA)
            const rows = yield* q<{ version: number }>("SELECT max(version) AS version FROM fleet_schema")
            const version = rows[0]?.version ?? 0
            if (version > SCHEMA_VERSION) {
              return yield* new DatabaseError({
                message: `the fleet database ${shown} has schema version ${version}, newer than this host's ${SCHEMA_VERSION}: update this host`
              })
            }
            if (version < SCHEMA_VERSION) yield* q("INSERT INTO fleet_schema (version) VALUES ($1)", [SCHEMA_VERSION])
          }))
      ).pipe(Effect.tap(() => Effect.sync(() => void (migrated = true))))
    })

    const query = (<R extends pg.QueryResultRow>(text: string, values?: ReadonlyArray<unknown>) => Effect.andThen(migrate, run<R>(pool, text, values))) as Query
    const transaction = <A>(body: (query: Query) => Effect.Effect<A, DatabaseError>) =>
      Effect.andThen(migrate, withClient((client) => inTransaction(client, body)))

    const leaseQuery = (<R extends pg.QueryResultRow>(text: string, values?: ReadonlyArray<unknown>) =>
      Effect.andThen(migrate, run<R>(leasePool, text, values))) as Query

    return Database.of({ hostId, shown, query, leaseQuery, transaction })
  })
}
