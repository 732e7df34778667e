// The NWC wallet client against a hostile world: the real NIP-47 wallet service on a real relay, with
// a hostile relay in front of it for our client only (refuses or swallows our requests, hands us
// forged events), a relay that never finishes connecting, one that never answers, and a wallet that
// never replies. Every call ends within its deadline with a readable WalletError, no promise is left
// without an owner (no unhandled rejection), and the next call with a healthy wallet succeeds.
import assert from "node:assert/strict"
import * as net from "node:net"
import { Effect, Exit, Fiber, Layer, ManagedRuntime, Stream } from "effect"
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure"
import { WebSocketServer } from "ws"
import { defaultConfig } from "../../src/dvm/config"
import { Secrets } from "../../src/dvm/services/Secrets"
import { Settings } from "../../src/dvm/services/Settings"
import { type InvoiceRequest, Wallet, type WalletCue } from "../../src/dvm/services/Wallet"
import type { WalletDeadlines } from "../../src/dvm/services/walletDeadlines"
import { walletLayer } from "../../src/dvm/services/walletLayer"
import { type NwcWalletService, startNwcWalletService } from "../support/nwcWalletService"
import { waitFor } from "../support/ollama-server"
import { type RefusingRelay, startRefusingRelay } from "../support/refusingRelay"
import { type RelayProcess, startRelay } from "../support/relay"

const DEADLINES: WalletDeadlines = { connectMs: 2000, statusMs: 1000, createInvoiceMs: 1000, invoiceStatusMs: 1000 }
const INVOICE: InvoiceRequest = { amountSats: 5, memo: "job fault", expirySeconds: 600 }

/** The same connection string, with its relay replaced (the client goes through `relayUrl`). */
const viaRelay = (connectionString: string, relayUrl: string) => {
  const [head, query] = connectionString.split("?") as [string, string]
  const params = new URLSearchParams(query)
  params.set("relay", relayUrl)
  return `${head}?${params.toString()}`
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const nwcRuntime = (nwcUrl: string, deadlines: WalletDeadlines = DEADLINES) =>
  ManagedRuntime.make(walletLayer({ deadlines }).pipe(Layer.provide(Layer.mergeAll(
    Settings.fixed({ ...defaultConfig, "wallet.backend": "nwc" }),
    Secrets.inMemory({ nwcUrl })
  ))))

type Runtime = ReturnType<typeof nwcRuntime>
const walletOf = (runtime: Runtime) => runtime.runPromise(Effect.gen(function*() {
  return yield* Wallet
}))
const statusOf = Effect.gen(function*() {
  return yield* (yield* Wallet).status
})
/** The call's failure message, or a failed assertion when it succeeded. */
const failureOf = async <A>(runtime: Runtime, effect: Effect.Effect<A, { message: string }>) => {
  const exit = await runtime.runPromiseExit(effect)
  assert.ok(Exit.isFailure(exit), "the call failed")
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")
  assert.ok(error && error._tag === "Fail", `a typed failure, not ${String(exit.cause)}`)
  return (error.error as { message: string }).message
}

describe("NWC wallet faults (real relay, real NIP-47 wallet service, a hostile relay in front)", function() {
  this.timeout(30_000)
  let relay: RelayProcess
  let nwc: NwcWalletService
  let hostile: RefusingRelay
  let runtime: Runtime | undefined
  const unhandled: Array<unknown> = []
  const onUnhandled = (reason: unknown) => void unhandled.push(reason)

  before(async () => {
    process.on("unhandledRejection", onUnhandled)
    relay = await startRelay()
    nwc = await startNwcWalletService({ relayUrl: relay.url, encryption: "nip44_v2" })
  })
  after(async () => {
    process.off("unhandledRejection", onUnhandled)
    await nwc?.close()
    await relay?.stop()
  })
  beforeEach(async () => {
    unhandled.length = 0
    nwc.ignoreRequests = false
    hostile = await startRefusingRelay(relay.url)
  })
  afterEach(async () => {
    await runtime?.dispose()
    runtime = undefined
    await hostile.close()
    assert.deepEqual(unhandled.map(String), [], "no promise rejected without a handler")
  })

  /** A wallet client connected through the hostile relay, which forwards everything for now. */
  const connected = async (deadlines?: WalletDeadlines) => {
    const rt = runtime = nwcRuntime(viaRelay(nwc.connectionString, hostile.url), deadlines)
    const wallet = await walletOf(rt)
    assert.equal((await rt.runPromise(wallet.status)).ready, true, "healthy at first")
    return { rt, wallet }
  }

  const assertNoSecret = (text: string) => {
    assert.ok(!text.includes(nwc.clientSecretHex), "no client secret")
    assert.ok(!text.includes("nostr+walletconnect"), "no connection string")
  }

  it("a relay that answers OK false fails the call at once with the relay's reason, and the next call works", async () => {
    const { rt, wallet } = await connected()
    hostile.events = { mode: "refuse", reason: "rate-limited: slow down" }
    const message = await failureOf(rt, wallet.createInvoice(INVOICE))
    assert.equal(message, "NWC make_invoice failed: the wallet's relay refused the request (rate-limited: slow down)")
    assertNoSecret(message)

    hostile.events = { mode: "refuse", reason: "auth-required: members only" }
    const status = await rt.runPromise(wallet.status)
    assert.equal(status.ready, false)
    assert.equal(status.error, "NWC get_balance failed: the wallet's relay refused the request (auth-required: members only)")
    assert.equal(hostile.refused, 2)

    // Past every deadline: nothing of the refused calls is still waiting to reject.
    await sleep(DEADLINES.createInvoiceMs * 2)
    hostile.events = { mode: "forward" }
    const invoice = await rt.runPromise(wallet.createInvoice(INVOICE))
    assert.ok(nwc.invoices.has(invoice.id), "issued by the wallet")
    assert.equal(await rt.runPromise(wallet.invoiceStatus(invoice)), "unpaid")
  })

  it("a relay that never confirms the request: the deadline fires, and the relay client's own late timeout is handled", async () => {
    const { rt, wallet } = await connected()
    hostile.events = { mode: "swallow" }
    const message = await failureOf(rt, wallet.createInvoice(INVOICE))
    assert.equal(message, "no answer from the wallet within 1 s")
    // nostr-tools gives up on the publish 4.4 s after sending it: that rejection must find an owner.
    await sleep(5000)
    hostile.events = { mode: "forward" }
    const invoice = await rt.runPromise(wallet.createInvoice(INVOICE))
    assert.ok(nwc.invoices.has(invoice.id))
  })

  it("a wallet that never answers: each call ends at its deadline, status says not ready, and the next call works", async () => {
    const { rt, wallet } = await connected()
    const invoice = await rt.runPromise(wallet.createInvoice(INVOICE))
    nwc.ignoreRequests = true
    assert.equal(await failureOf(rt, wallet.createInvoice(INVOICE)), "no answer from the wallet within 1 s")
    assert.equal(await failureOf(rt, wallet.invoiceStatus(invoice)), "no answer from the wallet within 1 s")
    assert.deepEqual(await rt.runPromise(wallet.status), { backend: "nwc", ready: false, error: "no answer from the wallet within 1 s" })
    nwc.ignoreRequests = false
    nwc.settle(invoice.id)
    assert.equal(await rt.runPromise(wallet.invoiceStatus(invoice)), "paid")
  })

  it("connection setup is bounded: a relay that never completes the WebSocket handshake, and one that never sends EOSE", async () => {
    const slowStatus: WalletDeadlines = { ...DEADLINES, connectMs: 500, statusMs: 5000 }
    const blackHole = net.createServer(() => undefined) // accepts, then says nothing
    await new Promise<void>((resolve) => blackHole.listen(0, "127.0.0.1", resolve))
    const silent = new WebSocketServer({ host: "127.0.0.1", port: 0 }) // speaks WebSocket, never answers a REQ
    await new Promise<void>((resolve) => silent.once("listening", () => resolve()))
    let silentClosed = false
    silent.on("connection", (socket) => socket.on("close", () => (silentClosed = true)))
    try {
      const port = (s: net.Server | WebSocketServer) => (s.address() as net.AddressInfo).port
      const hole = nwcRuntime(viaRelay(nwc.connectionString, `ws://127.0.0.1:${port(blackHole)}`), slowStatus)
      const status = await hole.runPromise(statusOf)
      await hole.dispose()
      assert.equal(status.ready, false)
      assert.match(status.error ?? "", /^NWC wallet unreachable: (the wallet's relay did not answer within 0\.5 s|connection timed out)$/)

      const mute = nwcRuntime(viaRelay(nwc.connectionString, `ws://127.0.0.1:${port(silent)}`), slowStatus)
      const muted = await mute.runPromise(statusOf)
      assert.deepEqual(muted, { backend: "nwc", ready: false, error: "NWC wallet unreachable: the wallet's relay did not answer within 0.5 s" })
      // The connection that was given up is closed once its setup ends, not left open.
      await waitFor(() => silentClosed, 10_000, "the abandoned connection closed")
      await mute.dispose()
      assertNoSecret(String(status.error) + String(muted.error))
    } finally {
      blackHole.close()
      silent.close()
    }
    // A healthy wallet afterwards.
    const { rt, wallet } = await connected()
    assert.ok(nwc.invoices.has((await rt.runPromise(wallet.createInvoice(INVOICE))).id))
  })

  it("takes a reply only when authentic, from the wallet, and for a request still waiting", async () => {
    const { rt, wallet } = await connected()
    nwc.ignoreRequests = true
    const before = nwc.requests.length
    const call = await rt.runPromise(Effect.forkDetach(wallet.createInvoice(INVOICE)))
    await nwc.waitForRequests(before + 1)
    const request = nwc.requests[nwc.requests.length - 1]!
    const reply = (bolt11: string) =>
      nwc.encryptForClient("nip44_v2", JSON.stringify({ result_type: "make_invoice", error: null, result: { invoice: bolt11, payment_hash: "ab".repeat(32) } }))
    const tags = [["p", nwc.clientPubkey], ["e", request.id]]
    const genuine = nwc.sign({ kind: 23195, tags, content: reply("lnbc50n1genuine") })
    const tampered = { ...nwc.sign({ kind: 23195, tags, content: reply("lnbc50n1forged") }), content: reply("lnbc50n1forged2") }
    const resigned = { ...nwc.sign({ kind: 23195, tags, content: reply("lnbc50n1forged") }), sig: genuine.sig }
    const shouting = { ...nwc.sign({ kind: 23195, tags, content: reply("lnbc50n1forged") }) }
    const upper = { ...shouting, id: shouting.id.toUpperCase() }
    const impostor = finalizeEvent({ kind: 23195, created_at: Math.floor(Date.now() / 1000), tags, content: reply("lnbc50n1forged") }, generateSecretKey())
    const otherRequest = nwc.sign({ kind: 23195, tags: [["p", nwc.clientPubkey], ["e", "cd".repeat(32)]], content: reply("lnbc50n1forged") })
    for (const forged of [tampered, resigned, upper, impostor, otherRequest]) hostile.deliver(forged)
    hostile.deliver(genuine)
    const invoice = await rt.runPromise(Fiber.join(call))
    assert.equal(invoice.bolt11, "lnbc50n1genuine", "the forged replies before it were not taken")
    assert.notEqual(getPublicKey(generateSecretKey()), nwc.walletPubkey)
  })

  it("a payment_received notification cues just that invoice, and only an authentic, well-formed one", async () => {
    const { rt, wallet } = await connected()
    const invoice = await rt.runPromise(wallet.createInvoice(INVOICE))
    const cues: Array<WalletCue> = []
    const listening = await rt.runPromise(Effect.forkDetach(Stream.runForEach(wallet.incoming, (cue) => Effect.sync(() => cues.push(cue)))))
    await sleep(50)
    const body = (type: string, hash: unknown) => JSON.stringify({ notification_type: type, notification: { type: "incoming", payment_hash: hash, amount: 5000 } })
    const tags = [["p", nwc.clientPubkey]]
    const real = nwc.sign({ kind: 23197, tags, content: nwc.encryptForClient("nip44_v2", body("payment_received", invoice.id)) })
    const forged = [
      { ...real, content: nwc.encryptForClient("nip44_v2", body("payment_received", "ef".repeat(32))) }, // id no longer matches
      finalizeEvent({ kind: 23197, created_at: real.created_at, tags, content: real.content }, generateSecretKey()), // not the wallet
      nwc.sign({ kind: 23197, tags, content: nwc.encryptForClient("nip04", body("payment_received", "ef".repeat(32))) }), // NIP-04 in a NIP-44 kind
      nwc.sign({ kind: 23197, tags, content: nwc.encryptForClient("nip44_v2", body("payment_sent", "ef".repeat(32))) }),
      nwc.sign({ kind: 23197, tags, content: nwc.encryptForClient("nip44_v2", body("payment_received", "not a hash")) }),
      nwc.sign({ kind: 23197, tags, content: nwc.encryptForClient("nip44_v2", "{\"notification_type\":\"payment_received\"}") }),
      nwc.sign({ kind: 23197, tags, content: "not encrypted at all" })
    ]
    for (const event of forged) hostile.deliver(event)
    await nwc.notify(invoice.id)
    await waitFor(() => cues.length > 0, 5000, "a cue")
    await sleep(200)
    assert.deepEqual(cues, [{ invoiceId: invoice.id }])
    // A notification in NIP-04 (kind 23196) is read too.
    await nwc.notify(invoice.id, "nip04")
    await waitFor(() => cues.length > 1, 5000, "a NIP-04 cue")
    assert.deepEqual(cues[1], { invoiceId: invoice.id })
    await rt.runPromise(Fiber.interrupt(listening))
    // A cue is no payment: the wallet still says unpaid.
    assert.equal(await rt.runPromise(wallet.invoiceStatus(invoice)), "unpaid")
  })
})
