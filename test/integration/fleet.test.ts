// A fleet: real headless hosts (`node dist/cli.js`; `npm run build` first) with one Nostr key and
// one real PostgreSQL (test/support/postgres.ts), on a real relay, each host with its own Ollama
// stand-in. Short leases (2 s) where a host's death must be noticed within a test; elsewhere the
// default (30 s), so a host slowed down by a busy machine is never taken for dead.
import assert from "node:assert/strict"
import { bytesToHex, hexToBytes } from "nostr-tools/utils"
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runCli } from "../support/cli"
import { Customer, statusOf } from "../support/customer"
import { type FleetHost, killFleetHosts, startFleetHost } from "../support/fleet"
import { type NwcWalletService, startNwcWalletService } from "../support/nwcWalletService"
import { type OllamaStandIn, startOllamaStandIn, waitFor } from "../support/ollama-server"
import { DB_PASSWORD, freshDatabase, query } from "../support/postgres"
import { type RelayProcess, startRelay } from "../support/relay"

const LEASE_S = 2
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe("a fleet of headless hosts sharing one key through PostgreSQL", function() {
  this.timeout(90_000)
  let relay: RelayProcess
  let ollamas: Array<OllamaStandIn>
  let databaseUrl: string
  let secretKeyHex: string
  let pubkey: string
  let customers: Array<Customer>

  before(async () => {
    ;[relay, ...ollamas] = await Promise.all([
      startRelay(),
      startOllamaStandIn({ models: ["llama3.2:1b"] }),
      startOllamaStandIn({ models: ["llama3.2:1b"] }),
      startOllamaStandIn({ models: ["llama3.2:1b"] })
    ])
  })
  after(async () => {
    await Promise.all([relay?.stop(), ...(ollamas ?? []).map((o) => o.close())])
  })
  beforeEach(async () => {
    await relay.restart()
    for (const o of ollamas) {
      o.reset()
      o.release()
      o.setMode("ok")
    }
    databaseUrl = await freshDatabase("fleet")
    const key = generateSecretKey()
    secretKeyHex = bytesToHex(key)
    pubkey = getPublicKey(key)
    customers = []
  })
  afterEach(async () => {
    for (const c of customers) c.close()
    await killFleetHosts()
  })

  const customer = async () => {
    const c = new Customer([relay.url])
    customers.push(c)
    await c.listen()
    return c
  }

  const host = (
    name: string,
    ollama: OllamaStandIn,
    config: Record<string, unknown> = {},
    options: { dataDir?: string; env?: NodeJS.ProcessEnv; shortLease?: boolean } = {}
  ) =>
    startFleetHost({
      name,
      databaseUrl,
      secretKeyHex,
      ...(options.shortLease ? { leaseSeconds: LEASE_S } : {}),
      config: {
        "sellCompute.relays": [relay.url],
        "sellCompute.ollama.host": ollama.url,
        "sellCompute.payment.mode": "free",
        "sellCompute.streaming.intervalMs": 0,
        ...config
      },
      ...options
    })

  const writeConfig = (config: Record<string, unknown>) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-fleet-config-"))
    const file = path.join(dir, "config.json")
    fs.writeFileSync(file, JSON.stringify(config))
    return file
  }

  const ofKind = (kind: number) => customers[0]!.pool.querySync([relay.url], { kinds: [kind], authors: [pubkey] })

  const noSecretIn = (hosts: ReadonlyArray<FleetHost>) => {
    for (const h of hosts) assert.ok(!h.output().includes(DB_PASSWORD), `${h.name} logged the database password`)
  }

  it("answers every job exactly once with three hosts racing for concurrent requests", async () => {
    const hosts = await Promise.all([
      host("a", ollamas[0]!, { "sellCompute.limits.jobsInFlightPerCustomer": 20 }),
      host("b", ollamas[1]!, { "sellCompute.limits.jobsInFlightPerCustomer": 20 }),
      host("c", ollamas[2]!, { "sellCompute.limits.jobsInFlightPerCustomer": 20 })
    ])
    const buyers = await Promise.all([customer(), customer(), customer()])
    const jobs = await Promise.all(
      Array.from({ length: 18 }, (_, i) => buyers[i % 3]!.publish(buyers[i % 3]!.buildJob({ prompt: `job ${i}` })))
    )
    const replies = jobs.map((job, i) => buyers[i % 3]!.repliesFor(job.id))
    await waitFor(() => replies.every((r) => r.results.length >= 1), 60_000, "every job answered")
    await sleep(1500) // time for a second answer, were there one
    replies.forEach((r, i) => {
      assert.equal(r.results.length, 1, `job ${i}: ${r.results.length} results`)
      assert.equal(r.feedback.filter((f) => statusOf(f) === "success").length, 1, `job ${i}: one success feedback`)
      assert.ok(!r.feedback.some((f) => statusOf(f) === "error"), `job ${i}: no error`)
    })
    // Ran once each, on some host: the model was asked 18 times in all.
    assert.equal(ollamas.reduce((sum, o) => sum + o.requests.length, 0), 18)
    const rows = await query<{ owner: string; status: string }>(databaseUrl, "SELECT owner, status FROM jobs")
    assert.equal(rows.length, 18)
    assert.ok(rows.every((r) => r.status === "success"))
    noSecretIn(hosts)
  })

  it("holds a customer's limit of jobs in flight across the fleet", async () => {
    for (const o of ollamas) o.hold()
    await Promise.all([host("a", ollamas[0]!), host("b", ollamas[1]!)]) // default: 2 jobs in flight per customer
    const buyer = await customer()
    const jobs = await Promise.all([1, 2, 3, 4].map((i) => buyer.publish(buyer.buildJob({ prompt: `limited ${i}` }))))
    const replies = jobs.map((job) => buyer.repliesFor(job.id))
    const refusedOf = () => replies.filter((r) => r.feedback.some((f) => statusOf(f) === "error" && /at most 2 of your jobs/.test(JSON.stringify(f.tags))))
    await waitFor(() => refusedOf().length === 2, 20_000, "two refused")
    // The two admitted wait for the model (on one host or on both): none is refused for want of a place.
    await waitFor(() => ollamas[0]!.requests.length + ollamas[1]!.requests.length >= 1, 10_000, "running")
    for (const o of ollamas) o.release()
    await waitFor(() => replies.filter((r) => r.results.length === 1).length === 2, 20_000, "two served")
    await sleep(1000)
    assert.equal(refusedOf().length, 2)
    assert.ok(replies.every((r) => r.results.length + r.feedback.filter((f) => statusOf(f) === "error").length === 1), "each job answered once")
  })

  it("runs a job again on another host, once, after the host running it is SIGKILLed and its lease runs out", async () => {
    ollamas[0]!.hold()
    const a = await host("a", ollamas[0]!, {}, { shortLease: true })
    const buyer = await customer()
    const job = await buyer.publish(buyer.buildJob({ prompt: "outlive your host" }))
    await waitFor(() => ollamas[0]!.requests.length === 1, 15_000, "a runs the job")
    // b sees the same request on the relay, but a holds it.
    const b = await host("b", ollamas[1]!, {}, { shortLease: true })
    await sleep(500)
    assert.equal(ollamas[1]!.requests.length, 0, "b leaves a's job alone while a lives")
    await a.kill()
    const replies = buyer.repliesFor(job.id)
    await waitFor(() => replies.results.length === 1, 20_000, `taken over: ${b.output()}`)
    await sleep(1500)
    assert.equal(replies.results.length, 1)
    assert.equal(ollamas[1]!.requests.length, 1, "b ran it from the start")
    assert.match(b.output(), /taken over from host .*run again from the start/)
    assert.ok(!replies.feedback.some((f) => statusOf(f) === "error"), "the customer saw no error")
    const [row] = await query<{ status: string; owner: string }>(databaseUrl, "SELECT status, owner FROM jobs WHERE id = $1", [job.id])
    assert.equal(row?.status, "success")
    assert.match(row!.owner, new RegExp(`:${b.child.pid}:`))
    noSecretIn([b])
  })

  it("leaves the job a host is running to another host when it is stopped (SIGTERM): answered once, no error", async () => {
    ollamas[0]!.hold()
    const a = await host("a", ollamas[0]!, {}, { shortLease: true })
    const buyer = await customer()
    const job = await buyer.publish(buyer.buildJob({ prompt: "finish me elsewhere" }))
    await waitFor(() => ollamas[0]!.requests.length === 1, 15_000, "a runs the job")
    const b = await host("b", ollamas[1]!, {}, { shortLease: true })
    assert.equal(await a.stop(), 0)
    assert.match(a.output(), /left to the other hosts of the fleet/)
    const replies = buyer.repliesFor(job.id)
    await waitFor(() => replies.results.length === 1, 20_000, `b finishes it: ${b.output()}`)
    await sleep(1000)
    assert.equal(replies.results.length, 1)
    assert.ok(!replies.feedback.some((f) => statusOf(f) === "error"), "the customer saw no error")
    assert.equal(ollamas[1]!.requests.length, 1)
  })

  it("runs a job a host died with on the host where the same request was still waiting for room", async () => {
    ollamas[0]!.hold()
    ollamas[1]!.hold()
    const b = await host("b", ollamas[1]!, {}, { shortLease: true })
    const buyer = await customer()
    const first = await buyer.publish(buyer.buildJob({ prompt: "keeps b busy" }))
    await waitFor(() => ollamas[1]!.requests.length === 1, 15_000, "b runs the first job")
    const a = await host("a", ollamas[0]!, {}, { shortLease: true })
    const second = await buyer.publish(buyer.buildJob({ prompt: "waits on b, runs on a" }))
    await waitFor(() => ollamas[0]!.requests.length === 1, 15_000, "a, with room, takes the second job")
    await a.kill()
    await waitFor(() => /taken over from host/.test(b.output()), 20_000, `b takes it over: ${b.output()}`)
    ollamas[1]!.release()
    await waitFor(() => buyer.repliesFor(second.id).results.length === 1, 30_000, `the second job served by b: ${b.output()}`)
    await sleep(1000)
    assert.equal(buyer.repliesFor(first.id).results.length, 1)
    assert.equal(buyer.repliesFor(second.id).results.length, 1)
    assert.equal(ollamas[1]!.requests.length, 2, "b ran both")
  })

  it("sends again the result a host signed before it died, instead of running the job a second time", async () => {
    const b = await host("b", ollamas[1]!, {}, { shortLease: true })
    const buyer = await customer()
    const job = buyer.buildJob({ prompt: "answered just before the crash" })
    const signed = finalizeEvent({ kind: 6050, created_at: Math.floor(Date.now() / 1000), tags: [["e", job.id], ["p", buyer.pubkey]], content: "the first host's answer" }, hexToBytes(secretKeyHex))
    // What a host SIGKILLed between signing its result and recording the job a success leaves behind.
    await query(databaseUrl, `INSERT INTO jobs (id, customer, request, owner, handed, counted, result, record) VALUES ($1, $2, $3, 'gone:1:000000', true, true, $4, $5)`, [
      job.id,
      buyer.pubkey,
      JSON.stringify(job),
      JSON.stringify(signed),
      JSON.stringify({ id: job.id, customer: buyer.pubkey, kind: 5050, requestedAt: job.created_at, receivedAt: Date.now(), updatedAt: Date.now(), status: "processing" })
    ])
    const replies = buyer.repliesFor(job.id)
    await waitFor(() => replies.results.length === 1, 15_000, `sent again: ${b.output()}`)
    await sleep(1000)
    assert.equal(replies.results.length, 1)
    assert.equal(replies.results[0]!.id, signed.id, "the very result the first host signed")
    assert.equal(ollamas[1]!.requests.length, 0, "not run again")
    const [row] = await query<{ status: string }>(databaseUrl, "SELECT status FROM jobs WHERE id = $1", [job.id])
    assert.equal(row?.status, "success")
  })

  it("does not go online while the database cannot be reached, and says why without the password", async () => {
    const port = new URL(databaseUrl).port
    const unreachable = databaseUrl.replace(`:${port}/`, ":1/")
    const file = writeConfig({ "sellCompute.relays": [relay.url], "sellCompute.ollama.host": ollamas[0]!.url, "sellCompute.payment.mode": "free" })
    const run = runCli(["--config", file, "--data-dir", path.dirname(file)], {
      SELL_COMPUTE_NOSTR_SECRET_KEY: secretKeyHex,
      SELL_COMPUTE_DATABASE_URL: unreachable
    })
    assert.equal(await run.exited, 1)
    assert.match(run.output(), /Cannot go online: the fleet database postgres:\/\/sellcompute:\*\*\*@127\.0\.0\.1:1\/\S+: connecting failed \(.*ECONNREFUSED/)
    assert.ok(!run.output().includes(DB_PASSWORD))
    fs.rmSync(path.dirname(file), { recursive: true, force: true })
  })

  it("keeps the announcement up when one host stops (sharing its data dir: no online lock between them), withdraws it with the last", async () => {
    const a = await host("a", ollamas[0]!)
    const b = await host("b", ollamas[1]!, {}, { dataDir: a.dataDir })
    const buyer = await customer()
    assert.equal((await ofKind(31990)).length, 1, "announced")
    assert.equal(await a.stop(), 0)
    assert.match(a.output(), /Other hosts of the fleet stay online/)
    await sleep(500)
    assert.equal((await ofKind(5)).length, 0, "no withdrawal while b serves")
    assert.equal((await ofKind(31990)).length, 1)
    const job = await buyer.publish(buyer.buildJob({ prompt: "still served" }))
    await waitFor(() => buyer.repliesFor(job.id).results.length === 1, 20_000, `b serves: ${b.output()}`)
    assert.equal(await b.stop(), 0)
    assert.equal((await ofKind(5)).length, 1, "the last host withdrew the announcement")
  })

  it("moves the heartbeat and the announcement to another host when the leader dies", async () => {
    const a = await host("a", ollamas[0]!, {}, { shortLease: true })
    assert.match(a.output(), /speaking for it/)
    const b = await host("b", ollamas[1]!, {}, { shortLease: true })
    assert.doesNotMatch(b.output(), /speaking for it/)
    await customer()
    const beatsBefore = await ofKind(11998)
    assert.equal(beatsBefore.length, 1)
    await sleep(1100) // a later second, so b's beat is told apart by its created_at
    const killedAt = Math.floor(Date.now() / 1000)
    await a.kill()
    await waitFor(() => /now speaks for the fleet/.test(b.output()), 15_000, `b leads: ${b.output()}`)
    await waitFor(async () => (await ofKind(11998)).some((e) => e.created_at >= killedAt), 10_000, "a new heartbeat")
    const announcements = await ofKind(31990)
    assert.equal(announcements.length, 1)
    assert.ok(announcements[0]!.created_at >= killedAt, "announced again by the new leader")
  })

  describe("settlement across the fleet (NWC wallet stand-in)", () => {
    let nwc: NwcWalletService
    beforeEach(async () => {
      nwc = await startNwcWalletService({ relayUrl: relay.url, encryption: "nip44_v2" })
    })
    afterEach(async () => {
      await nwc?.close()
    })

    const paidHost = (name: string, ollama: OllamaStandIn, mode: string) =>
      host(name, ollama, { "sellCompute.payment.mode": mode, "sellCompute.wallet.backend": "nwc" }, { env: { SELL_COMPUTE_NWC_URL: nwc.connectionString } })

    it("a pay-first job whose host died before it was paid keeps its one invoice on the host taking it over", async () => {
      const a = await host("a", ollamas[0]!, { "sellCompute.payment.mode": "pay-first", "sellCompute.wallet.backend": "nwc" }, {
        env: { SELL_COMPUTE_NWC_URL: nwc.connectionString },
        shortLease: true
      })
      const buyer = await customer()
      const job = await buyer.publish(buyer.buildJob({ prompt: "paid on the second host" }))
      const replies = buyer.repliesFor(job.id)
      await waitFor(() => replies.feedback.some((f) => statusOf(f) === "payment-required"), 20_000, "asked to pay")
      const b = await host("b", ollamas[1]!, { "sellCompute.payment.mode": "pay-first", "sellCompute.wallet.backend": "nwc" }, {
        env: { SELL_COMPUTE_NWC_URL: nwc.connectionString },
        shortLease: true
      })
      await a.kill()
      await waitFor(() => /taken over from host/.test(b.output()), 20_000, `b takes it over: ${b.output()}`)
      assert.equal(nwc.invoices.size, 1, "no second invoice")
      const [invoice] = [...nwc.invoices.values()]
      nwc.settle(invoice!.invoice)
      await waitFor(() => replies.results.length === 1, 20_000, `served by b once paid: ${b.output()}`)
      await sleep(1000)
      assert.equal(replies.results.length, 1)
      assert.equal(ollamas[0]!.requests.length + ollamas[1]!.requests.length, 1, "run once, after payment")
      const asked = new Set(replies.feedback.filter((f) => statusOf(f) === "payment-required").map((f) => f.tags.find((t) => t[0] === "amount")?.[2]))
      assert.deepEqual([...asked], [invoice!.invoice], "only ever asked to pay that invoice")
      const [row] = await query<{ payment: string; status: string }>(databaseUrl, "SELECT payment, status FROM jobs WHERE id = $1", [job.id])
      assert.deepEqual(row, { payment: "paid", status: "success" })
    })

    it("pay-first and pay-after: one invoice per job, one result, and each sat counted once in the shared earnings", async () => {
      await Promise.all([paidHost("a", ollamas[0]!, "pay-first"), paidHost("b", ollamas[1]!, "pay-first")])
      const buyer = await customer()
      const job = await buyer.publish(buyer.buildJob({ prompt: "pay me first" }))
      const replies = buyer.repliesFor(job.id)
      await waitFor(() => replies.feedback.some((f) => statusOf(f) === "payment-required"), 20_000, "asked to pay")
      await sleep(1000)
      assert.equal(replies.feedback.filter((f) => statusOf(f) === "payment-required").length, 1, "asked once")
      assert.equal(nwc.invoices.size, 1, "one invoice")
      const [invoice] = [...nwc.invoices.values()]
      nwc.settle(invoice!.invoice)
      await waitFor(() => replies.results.length === 1, 20_000, "served once paid")
      await killFleetHosts()

      // The same fleet in pay-after.
      await Promise.all([paidHost("c", ollamas[0]!, "pay-after"), paidHost("d", ollamas[1]!, "pay-after")])
      const later = await buyer.publish(buyer.buildJob({ prompt: "pay me after" }))
      const laterReplies = buyer.repliesFor(later.id)
      await waitFor(() => laterReplies.results.length === 1, 20_000, "served")
      const bolt11 = laterReplies.results[0]!.tags.find((t) => t[0] === "amount")?.[2]
      assert.ok(bolt11, "the result carries its invoice")
      assert.equal(nwc.invoices.size, 2, "one more invoice")
      nwc.settle(bolt11)
      await waitFor(async () => {
        const rows = await query(databaseUrl, "SELECT 1 FROM jobs WHERE payment = 'paid'")
        return rows.length === 2
      }, 20_000, "both paid in the shared history")
      await sleep(1000)
      assert.equal(laterReplies.results.length, 1)
      const expected = [...nwc.invoices.values()].reduce((sum, i) => sum + i.amountMsats / 1000, 0)
      const [earned] = await query<{ total: string }>(databaseUrl, "SELECT sum((record->>'priceSats')::bigint) AS total FROM jobs WHERE payment = 'paid'")
      assert.equal(Number(earned?.total), expected)
    })
  })
})
