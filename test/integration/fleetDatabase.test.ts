// The fleet's database parts in-process, on a real PostgreSQL (test/support/postgres.ts): the
// JobStore shared by hosts, claims raced by hosts, the leases, and a database outage (a TCP proxy
// cut off) that costs no record and shows no password.
import assert from "node:assert/strict"
import { Effect, Layer, ManagedRuntime, SubscriptionRef } from "effect"
import { finalizeEvent, generateSecretKey } from "nostr-tools/pure"
import { claim, offer, stillOurs, take } from "../../src/dvm/fleet/claims"
import { Database } from "../../src/dvm/fleet/database"
import type { Claim } from "../../src/dvm/fleet/Fleet"
import { leave, renewHost, tryLead } from "../../src/dvm/fleet/leases"
import { JobStore } from "../../src/dvm/services/JobStore"
import { postgresJobStoreLayer } from "../../src/dvm/services/PostgresJobStore"
import { DB_PASSWORD, freshDatabase, postgres, query } from "../support/postgres"
import { startTcpProxy, type TcpProxy } from "../support/tcpProxy"
import { waitFor } from "../support/ollama-server"

type Host = ManagedRuntime.ManagedRuntime<Database | JobStore, never>

describe("the fleet's database (real PostgreSQL)", function() {
  this.timeout(30_000)
  let url: string
  const runtimes: Array<Host> = []

  const host = (databaseUrl = url): Host => {
    const runtime = ManagedRuntime.make(Layer.provideMerge(postgresJobStoreLayer, Database.layer(databaseUrl)))
    runtimes.push(runtime)
    return runtime
  }
  const request = (secretKey = generateSecretKey(), prompt = "hello") =>
    finalizeEvent({ kind: 5050, created_at: Math.floor(Date.now() / 1000), tags: [["i", prompt, "text"]], content: "" }, secretKey)

  beforeEach(async () => {
    url = await freshDatabase("fleetdb")
  })
  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((r) => r.dispose()))
  })

  it("merges the records two hosts write for one job, and counts its sats and its success once", async () => {
    const [a, b] = [host(), host()]
    const now = Date.now()
    await a.runPromise(Effect.flatMap(Effect.service(JobStore), (s) => s.record({ id: "j1", customer: "c1", kind: 5050, requestedAt: 1, receivedAt: now, status: "received" })))
    await b.runPromise(Effect.flatMap(Effect.service(JobStore), (s) => s.record({ id: "j1", status: "success", priceSats: 21, payment: "unpaid", invoiceId: "inv" })))
    // Both hosts say it was paid (one watching, one taking over): one job, 21 sats.
    await a.runPromise(Effect.flatMap(Effect.service(JobStore), (s) => s.record({ id: "j1", payment: "paid", paidAt: Date.now() })))
    await b.runPromise(Effect.flatMap(Effect.service(JobStore), (s) => s.record({ id: "j1", payment: "paid", paidAt: Date.now() })))
    await b.runPromise(Effect.flatMap(Effect.service(JobStore), (s) => s.record({ id: "j2", customer: "c2", kind: 5050, requestedAt: 1, receivedAt: now + 1, status: "error" })))
    const seen = await a.runPromise(Effect.flatMap(Effect.service(JobStore), (s) => s.get("j1")))
    assert.equal(seen?.customer, "c1")
    assert.equal(seen?.status, "success")
    assert.equal(seen?.invoiceId, "inv")
    const earnings = await b.runPromise(Effect.flatMap(Effect.service(JobStore), (s) => s.earnings))
    assert.deepEqual(earnings, { jobsToday: 1, satsEarnedToday: 21, satsEarnedTotal: 21 })
    const recent = await a.runPromise(Effect.flatMap(Effect.service(JobStore), (s) => s.recent(10)))
    assert.deepEqual(recent.map((r) => r.id), ["j2", "j1"])
  })

  it("stores a request and a record holding a NUL character (jsonb takes none), and the history goes on", async () => {
    const h = host()
    const r = finalizeEvent({ kind: 5050, created_at: Math.floor(Date.now() / 1000), tags: [["i", "nul\u0000here", "text"]], content: "\u0000" }, generateSecretKey())
    assert.equal((await h.runPromise(Effect.flatMap(Effect.service(Database), (db) => claim(db, r, { room: () => 1 }))))._tag, "Claimed")
    const store = await h.runPromise(Effect.service(JobStore))
    await h.runPromise(store.record({ id: r.id, customer: r.pubkey, kind: 5050, requestedAt: 1, receivedAt: Date.now(), status: "error", error: "bad \u0000 byte" }))
    await h.runPromise(store.record({ id: "after", customer: "c", kind: 5050, requestedAt: 1, receivedAt: Date.now(), status: "received" }))
    assert.equal(await h.runPromise(SubscriptionRef.get(store.writeProblem)), undefined)
    const rows = await query<{ id: string; error: string | null; prompt: string | null }>(
      url,
      "SELECT id, record->>'error' AS error, request->'tags'->0->>1 AS prompt FROM jobs ORDER BY id"
    )
    assert.deepEqual(rows.map((row) => row.id).sort(), [r.id, "after"].sort())
    const stored = rows.find((row) => row.id === r.id)!
    assert.equal(stored.error, "bad \ufffd byte")
    assert.equal(stored.prompt, "nul\ufffdhere")
  })

  it("gives each request to exactly one of three hosts claiming it at once", async () => {
    const hosts = [host(), host(), host()]
    const requests = Array.from({ length: 15 }, () => request())
    const outcomes = await Promise.all(
      requests.flatMap((r) => hosts.map((h) => h.runPromise(Effect.flatMap(Effect.service(Database), (db) => claim(db, r, { room: () => 1, limits: { perMinute: 100, inFlight: 100, queued: 100, maxAgeSeconds: 600 } })))))
    )
    for (let i = 0; i < requests.length; i++) {
      const tags = outcomes.slice(i * 3, i * 3 + 3).map((o: Claim) => o._tag).sort()
      assert.deepEqual(tags, ["Claimed", "Taken", "Taken"], `request ${i}`)
    }
    const rows = await query<{ n: string; owners: string }>(url, "SELECT count(*) AS n, count(DISTINCT owner) AS owners FROM jobs")
    assert.equal(Number(rows[0]?.n), 15)
  })

  it("holds a customer's limits across hosts: jobs in flight and jobs per minute", async () => {
    const [a, b] = [host(), host()]
    const customer = generateSecretKey()
    const claimOn = (h: Host, limits: { perMinute: number; inFlight: number }) =>
      h.runPromise(Effect.flatMap(Effect.service(Database), (db) => claim(db, request(customer, String(Math.random())), { room: () => 1, limits: { ...limits, queued: 100, maxAgeSeconds: 600 } })))
    const inFlight = []
    for (let i = 0; i < 4; i++) inFlight.push(await claimOn(i % 2 === 0 ? a : b, { perMinute: 100, inFlight: 2 }))
    assert.deepEqual(inFlight.map((c) => c._tag), ["Claimed", "Claimed", "Refused", "Refused"])
    assert.match((inFlight[2] as { reason: string }).reason, /at most 2 of your jobs at a time/)
    // The two in flight end: the customer may send again, up to the per-minute limit (2 counted so far).
    await query(url, `UPDATE jobs SET record = '{"status": "success"}'::jsonb WHERE counted`)
    const perMinute = [await claimOn(b, { perMinute: 3, inFlight: 10 }), await claimOn(a, { perMinute: 3, inFlight: 10 })]
    assert.deepEqual(perMinute.map((c) => c._tag), ["Claimed", "Refused"])
    assert.match((perMinute[1] as { reason: string }).reason, /at most 3 jobs per minute/)
  })

  it("bounds the requests waiting for a host across the fleet, and a waiting one goes to the first host to take it", async () => {
    const [a, b] = [host(), host()]
    const limits = { perMinute: 100, inFlight: 100, queued: 1, maxAgeSeconds: 600 }
    const offerOn = (h: Host, r: ReturnType<typeof request>) => h.runPromise(Effect.flatMap(Effect.service(Database), (db) => offer(db, r, { room: () => 0, limits })))
    const [first, second] = [request(), request()]
    assert.equal((await offerOn(a, first))._tag, "Waiting")
    assert.equal((await offerOn(b, first))._tag, "Waiting", "seen by b too: b may take it")
    const refused = await offerOn(b, second)
    assert.deepEqual(refused, { _tag: "Answer", refusal: "busy: 1 jobs are already waiting; try again in a minute" })
    const taken = await Promise.all([a, b].map((h) => h.runPromise(Effect.flatMap(Effect.service(Database), (db) => take(db, first.id)))))
    assert.deepEqual(taken.filter(Boolean).length, 1)
    assert.equal((await offerOn(a, first))._tag, "Taken")
  })

  it("lets a host send a result only while the job is its own, and keeps that result with the job", async () => {
    const [a, b] = [host(), host()]
    const r = request()
    const result = finalizeEvent({ kind: 6050, created_at: 1, tags: [["e", r.id]], content: "answer" }, generateSecretKey())
    await a.runPromise(Effect.flatMap(Effect.service(Database), (db) => claim(db, r, { room: () => 1 })))
    assert.equal(await b.runPromise(Effect.flatMap(Effect.service(Database), (db) => stillOurs(db, r.id, result))), false)
    assert.equal(await a.runPromise(Effect.flatMap(Effect.service(Database), (db) => stillOurs(db, r.id, result))), true)
    const [row] = await query<{ result: { id: string } }>(url, "SELECT result FROM jobs WHERE id = $1", [r.id])
    assert.equal(row?.result.id, result.id)
  })

  it("gives the leadership to one host, moves it when that host's lease runs out, and tells the last host leaving", async () => {
    const [a, b] = [host(), host()]
    const on = <A>(h: Host, f: (db: (typeof Database)["Service"]) => Effect.Effect<A, unknown>) => h.runPromise(Effect.flatMap(Effect.service(Database), f) as Effect.Effect<A>)
    await on(a, (db) => renewHost(db, 400))
    await on(b, (db) => renewHost(db, 60_000))
    const first = await Promise.all([on(a, (db) => tryLead(db, 400)), on(b, (db) => tryLead(db, 60_000))])
    assert.equal(first.filter(Boolean).length, 1, "one leader")
    const leader = first[0] ? a : b
    const other = leader === a ? b : a
    if (leader === a) {
      await new Promise((resolve) => setTimeout(resolve, 600)) // a's lease runs out
      assert.equal(await on(b, (db) => tryLead(db, 60_000)), true, "b takes over")
      assert.equal(await on(a, (db) => tryLead(db, 400)), false, "a, back, does not take it back")
    } else {
      assert.equal(await on(other, (db) => tryLead(db, 400)), false)
    }
    await on(a, (db) => renewHost(db, 60_000))
    assert.equal(await on(a, (db) => leave(db)), false, "b stays")
    assert.equal(await on(b, (db) => leave(db)), true, "b is the last")
  })

  describe("while the database is out of reach", () => {
    let proxy: TcpProxy
    beforeEach(async () => {
      proxy = await startTcpProxy((await postgres()).port)
    })
    afterEach(async () => {
      await proxy?.close()
    })

    it("keeps every record, says why without the password, answers from memory, and writes them in order once it is back", async () => {
      const viaProxy = url.replace(/:\d+\//, `:${new URL(proxy.url).port}/`)
      const h = host(viaProxy)
      const store = await h.runPromise(Effect.service(JobStore))
      await h.runPromise(store.record({ id: "k1", customer: "c", kind: 5050, requestedAt: 1, receivedAt: Date.now(), status: "received" }))
      proxy.cutOff()
      await h.runPromise(store.record({ id: "k1", status: "processing" }))
      await h.runPromise(store.record({ id: "k1", status: "success", priceSats: 5, payment: "paid", paidAt: Date.now() }))
      const problem = await h.runPromise(SubscriptionRef.get(store.writeProblem))
      assert.match(problem ?? "", /the fleet database postgres:\/\/sellcompute:\*\*\*@127\.0\.0\.1:\d+\/\S+: .*2 change\(s\) to the job history are kept in memory and retried/)
      assert.ok(!problem!.includes(DB_PASSWORD))
      assert.equal((await h.runPromise(store.get("k1")))?.status, "success", "answered from memory")
      proxy.restore()
      await waitFor(async () => (await h.runPromise(SubscriptionRef.get(store.writeProblem))) === undefined, 10_000, "written again")
      const [row] = await query<{ status: string; payment: string }>(url, "SELECT status, payment FROM jobs WHERE id = 'k1'")
      assert.deepEqual(row, { status: "success", payment: "paid" })
    })
  })
})
