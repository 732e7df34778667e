// Going online catches up on the recent past: requests published while the provider was offline
// are served once, and a request its customer deleted meanwhile is never run. Online means
// reachable: with no relay connected and subscribed the provider is online with a warning saying why.
import assert from "node:assert/strict"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, SubscriptionRef } from "effect"
import { finalizeEvent } from "nostr-tools/pure"
import { Kind5050DVM } from "../../src/dvm/services/Kind5050DVM"
import { Nostr, type RelayState } from "../../src/dvm/services/Nostr"
import { panelState, statusBarText } from "../../src/views/present"
import { initialSnapshot } from "../../src/views/ProviderModel"
import { Customer, statusOf } from "../support/customer"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startProvider, type TestProvider } from "../support/provider"
import { type RelayProcess, startRelay } from "../support/relay"

describe("going online after time offline", function() {
  this.timeout(30_000)
  let relayA: RelayProcess
  let relayB: RelayProcess
  let ollama: OllamaStandIn
  let provider: TestProvider | undefined
  let customer: Customer

  before(async () => {
    ;[relayA, relayB, ollama] = await Promise.all([startRelay(), startRelay(), startOllamaStandIn({ models: ["llama3.2:1b"] })])
    customer = new Customer([relayA.url, relayB.url])
    await customer.listen()
  })
  after(async () => {
    customer?.close()
    await Promise.all([relayA?.stop(), relayB?.stop(), ollama?.close()])
  })
  afterEach(async () => {
    await provider?.dispose()
    provider = undefined
    ollama.reset()
    ollama.delayMsPerToken = 0
  })

  it("serves a request published while it was offline once, with no error feedback", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-online-"))
    const first = await startProvider({ relays: [relayA.url], "ollama.host": ollama.url }, { dataDir })
    await first.goOnline()
    const before = await customer.publish(customer.buildJob({ prompt: "before the restart" }), [relayA.url])
    await waitFor(() => customer.repliesFor(before.id).results.length === 1, 10_000, "the first job's result")
    const keyHex = first.secretKeyHex
    await first.dispose()

    const job = await customer.publish(customer.buildJob({ prompt: "while you were away" }), [relayA.url])
    provider = await startProvider({ relays: [relayA.url], "ollama.host": ollama.url }, { dataDir, secretKeyHex: keyHex })
    await provider.goOnline()
    const replies = customer.repliesFor(job.id)
    await waitFor(() => replies.feedback.some((f) => statusOf(f) === "success"), 10_000, "success")
    await new Promise((r) => setTimeout(r, 300)) // room for a wrong extra reply to arrive
    assert.deepEqual(replies.feedback.map(statusOf), ["success"])
    assert.equal(replies.results.length, 1)
    assert.equal(customer.repliesFor(before.id).results.length, 1, "the job handled before the restart is not run again")
    assert.equal(ollama.requests.length, 2)
  })

  it("never runs a request its customer deleted before the provider came online", async () => {
    // The request stays on relay A; the deletion only reaches relay B (relays need not honour NIP-09),
    // so going online replays both, in whatever order the relays send them.
    ollama.delayMsPerToken = 200 // a job started by mistake would still be running when checked
    // A customer of its own: the earlier test's requests are still on relay A and are replayed too,
    // and must not count against this customer's limits.
    const withdrawing = new Customer([relayA.url, relayB.url])
    await withdrawing.listen()
    try {
      const job = await withdrawing.publish(withdrawing.buildJob({ prompt: "never mind" }), [relayA.url])
      const deletion = finalizeEvent(
        { kind: 5, created_at: Math.floor(Date.now() / 1000), tags: [["e", job.id], ["k", "5050"]], content: "" },
        withdrawing.secretKey
      )
      await withdrawing.publish(deletion, [relayB.url])

      provider = await startProvider({ relays: [relayA.url, relayB.url], "ollama.host": ollama.url })
      await provider.goOnline()
      const p = provider
      await waitFor(async () => (await p.jobRecord(job.id))?.status === "error", 10_000, "the deleted request ended")
      assert.equal((await p.jobRecord(job.id))?.error, "cancelled by the customer")
      await new Promise((r) => setTimeout(r, 500))
      assert.equal(withdrawing.repliesFor(job.id).results.length, 0, "no result for the deleted request")
      assert.ok(ollama.requests.every((r) => r.prompt !== "never mind") || ollama.aborted === 1, "never run, or stopped at once")
    } finally {
      withdrawing.close()
    }
  })
})

describe("going online: online means reachable", function() {
  this.timeout(30_000)
  /** A closed port: the connection is refused at once. */
  const DEAD = "ws://127.0.0.1:1"
  let live: RelayProcess
  let ollama: OllamaStandIn
  let provider: TestProvider | undefined

  before(async () => {
    ;[live, ollama] = await Promise.all([startRelay(), startOllamaStandIn({ models: ["llama3.2:1b"] })])
  })
  after(async () => {
    await Promise.all([live?.stop(), ollama?.close()])
  })
  afterEach(async () => {
    await provider?.dispose()
    provider = undefined
  })

  // The test provider's runtime holds Nostr too; its `run` is typed for the services tests usually need.
  const relayStates = (p: TestProvider) =>
    p.run(Effect.gen(function*() {
      return yield* SubscriptionRef.get((yield* Nostr).relayStates)
    }) as unknown as Effect.Effect<ReadonlyArray<RelayState>, never, Kind5050DVM>)
  const status = (p: TestProvider) => p.run(Effect.gen(function*() {
    return yield* SubscriptionRef.get((yield* Kind5050DVM).status)
  }))
  /** What the status bar and panel would show (the VS Code host mirrors exactly these). */
  const shown = async (p: TestProvider, relays: ReadonlyArray<string>) => {
    const s = { ...initialSnapshot, status: await status(p), relays: await relayStates(p), config: { ...initialSnapshot.config, relays: [...relays] } }
    return { bar: statusBarText(s), panel: panelState(s) }
  }

  it("with one live relay and one dead: online, the live one subscribed and announced, the dead one failed with its error", async () => {
    provider = await startProvider({ relays: [live.url, DEAD], "ollama.host": ollama.url, "payment.mode": "free" })
    await provider.goOnline()
    const p = provider
    const now = await status(p)
    assert.equal(now.state, "online")
    assert.equal(now.unreachable, undefined)
    const states = await relayStates(p)
    const good = states.find((r) => r.url === live.url)
    const bad = states.find((r) => r.url === DEAD)
    assert.deepEqual({ status: good?.status, subscribed: good?.subscribed, announced: good?.announced }, { status: "connected", subscribed: true, announced: true })
    assert.notEqual(bad?.status, "connected")
    assert.equal(bad?.subscribed, false)
    assert.equal(bad?.announced, false)
    assert.match(bad?.lastError ?? "", /ECONNREFUSED/)
    const { bar, panel } = await shown(p, [live.url, DEAD])
    assert.equal(bar, "$(broadcast) Sell Compute: Online · 0 sats")
    assert.equal(panel.provider.error, undefined)
    assert.equal(panel.relays[0]?.detail, "connected, subscribed, announcement accepted")
    assert.match(panel.relays[1]?.detail ?? "", /^failed.*, announcement not accepted \(last error: .*ECONNREFUSED/)
  })

  it("with only a dead relay: online with the reason, kept while it retries, and announced once it comes back", async () => {
    const later = await startRelay()
    await later.stop()
    try {
      provider = await startProvider({ relays: [later.url, DEAD], "ollama.host": ollama.url, "payment.mode": "free" })
      await provider.goOnline()
      const p = provider
      const now = await status(p)
      assert.equal(now.state, "online")
      assert.match(now.unreachable ?? "", /^no relay is connected \(ws:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED.*\), so no customer can reach this provider$/)
      const { bar, panel } = await shown(p, [later.url, DEAD])
      assert.equal(bar, "$(warning) Sell Compute: Online · 0 sats")
      assert.equal(panel.provider.error, now.unreachable)
      assert.ok(p.logs.some((l) => /WARN.*Online, but no relay is connected/i.test(l)), p.logs.join("\n"))
      // Between attempts (a retry is "connecting" again) the warning holds.
      await new Promise((r) => setTimeout(r, 1200))
      assert.match((await status(p)).unreachable ?? "", /^no relay is connected/)

      await later.restart()
      await waitFor(async () => (await status(p)).unreachable === undefined, 15_000, "reachable once the relay is back")
      await waitFor(async () => (await relayStates(p)).find((r) => r.url === later.url)?.announced === true, 10_000, "announced on the relay that came back")
      const customer = new Customer([later.url])
      try {
        const handlers = await customer.pool.querySync([later.url], { kinds: [31990], authors: [p.pubkey] })
        assert.equal(handlers.length, 1, "the announcement is on the relay that came back")
      } finally {
        customer.close()
      }
      assert.equal((await shown(p, [later.url, DEAD])).bar, "$(broadcast) Sell Compute: Online · 0 sats")
    } finally {
      await later.stop()
    }
  })
})
