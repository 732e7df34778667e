// The Nostr service against a relay that lies (test/support/hostileRelay.ts) next to the real relay
// process: forged events, unusable frames, CLOSED, AUTH, oversized frames, and customer-named reply
// relays that point at this machine.
import assert from "node:assert/strict"
import type * as dns from "node:dns"
import * as net from "node:net"
import { Effect, Fiber, Layer, Logger, ManagedRuntime, Stream } from "effect"
import type { Filter } from "nostr-tools/filter"
import { finalizeEvent, generateSecretKey, getPublicKey, verifyEvent } from "nostr-tools/pure"
import type { IncomingEvent, NostrEvent } from "../../src/dvm/protocol/nostrEvent"
import { signEvent, useWasmSignatures } from "../../src/dvm/protocol/signing"
import type { ResolvedAddress, Resolver } from "../../src/dvm/publicRelay"
import { CLOSED_BACKOFF_FIRST_MS, Nostr } from "../../src/dvm/services/Nostr"
import { CLIENT_AUTH_KIND, MAX_FRAME_BYTES } from "../../src/dvm/services/relayConnection"
import { type HostileRelay, startHostileRelay } from "../support/hostileRelay"
import { waitFor } from "../support/ollama-server"
import { signRaw } from "../support/rawEvent"
import { type RelayProcess, startRelay } from "../support/relay"

const now = () => Math.floor(Date.now() / 1000)
const author = generateSecretKey()
const job = (content: string, extra: Partial<{ created_at: number; kind: number }> = {}): NostrEvent =>
  finalizeEvent({ kind: 5050, created_at: now(), tags: [["i", content, "text"]], content: "", ...extra }, author) as NostrEvent
/** A plain copy of the seven fields (nostr-tools marks objects it signed or verified). */
const plain = (e: NostrEvent): Record<string, unknown> => ({
  id: e.id, pubkey: e.pubkey, created_at: e.created_at, kind: e.kind, tags: e.tags.map((t) => [...t]), content: e.content, sig: e.sig
})

interface Harness {
  readonly nostr: Nostr["Service"]
  readonly logs: Array<string>
  readonly delivered: Array<IncomingEvent>
  readonly run: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>
  readonly dispose: () => Promise<void>
}

const startHarness = async (relays: ReadonlyArray<string>, options: { resolver?: Resolver; filter?: Filter } = {}): Promise<Harness> => {
  const logs: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    logs.push(`${logLevel} ${(Array.isArray(message) ? message : [message]).map(String).join(" ")}`)
  })
  const runtime = ManagedRuntime.make(Nostr.layerWith(options.resolver ? { resolver: options.resolver } : {}).pipe(
    Layer.provideMerge(Logger.layer([logger]))
  ))
  const nostr = await runtime.runPromise(Effect.gen(function*() {
    return yield* Nostr
  }))
  const delivered: Array<IncomingEvent> = []
  const subscription = runtime.runFork(
    nostr.subscribe(options.filter ?? { kinds: [5050], since: now() - 3600 }).pipe(
      Stream.runForEach((event) => Effect.sync(() => delivered.push(event)))
    )
  )
  await runtime.runPromise(nostr.setRelays(relays))
  return {
    nostr,
    logs,
    delivered,
    run: (effect) => runtime.runPromise(effect),
    dispose: async () => {
      await runtime.runPromise(Fiber.interrupt(subscription))
      await runtime.dispose()
    }
  }
}

describe("a hostile relay next to a real one", function() {
  this.timeout(60_000)
  let real: RelayProcess
  let hostile: HostileRelay
  let harness: Harness | undefined
  const consoleCalls: Array<string> = []
  const originals = { warn: console.warn, debug: console.debug, error: console.error, info: console.info }

  before(async () => {
    await useWasmSignatures() // as the hosts do (checkEvent tells Malformed from Forged only with it; see the report)
    real = await startRelay()
  })
  after(async () => {
    await real?.stop()
  })
  beforeEach(async () => {
    hostile = await startHostileRelay()
    consoleCalls.length = 0
    for (const name of ["warn", "debug", "error", "info"] as const) {
      console[name] = (...args: Array<unknown>) => {
        consoleCalls.push(`${name}: ${args.map(String).join(" ").slice(0, 200)}`)
      }
    }
  })
  afterEach(async () => {
    Object.assign(console, originals)
    await harness?.dispose()
    harness = undefined
    await hostile.close()
  })

  /** The hostile relay's newest subscription id, once the service has subscribed there. */
  const subscribed = async (count = 1) => {
    await waitFor(() => hostile.reqs().length >= count, 10_000, `REQ number ${count} on the hostile relay`)
    return hostile.reqs()[count - 1]!.id
  }
  const badFrameLines = (h: Harness) => h.logs.filter((l) => l.includes(hostile.url) && l.includes("frames we cannot use") || l.includes(hostile.url) && l.includes("a frame we cannot use"))

  it("drops forged events and counts them, hands on an authentic malformed one marked, and a good one as is", async () => {
    harness = await startHarness([real.url, hostile.url])
    const sub = await subscribed()
    const good = job("the genuine article")
    const other = generateSecretKey()
    const forgeries: Array<unknown> = [
      { ...plain(good), content: "tampered" }, // id no longer matches
      { ...plain(good), sig: "0".repeat(128) }, // signature of nothing
      { ...plain(good), sig: plain(job("another")).sig }, // someone else's signature
      { ...plain(good), id: good.id.toUpperCase() },
      { ...plain(good), pubkey: getPublicKey(other) }, // claims another author
      (() => {
        const { sig: _sig, ...rest } = plain(good)
        return rest
      })(),
      { ...plain(good), kind: "5050" },
      { ...plain(good), created_at: good.created_at + 0.5 },
      { ...plain(good), tags: "i" },
      { ...plain(good), tags: [["i", 7, "text"]] }, // numbers where the signed event had strings
      { ...plain(good), content: undefined },
      { ...signRaw({ kind: 5050, created_at: now(), tags: [[1, 2]], content: 3 }, other), sig: "f".repeat(128) }, // crashed nostr-tools' filter match
      null,
      "an event",
      [good.id],
      42
    ]
    for (const forged of forgeries) hostile.sendJson(["EVENT", sub, forged])
    const malformedRaw = signRaw({ kind: 5050, created_at: now(), tags: [["i", "numbers", "text"], ["param", "max_tokens", 64]], content: "" }, author)
    hostile.sendJson(["EVENT", sub, malformedRaw])
    hostile.sendJson(["EVENT", sub, plain(good)])
    await waitFor(() => harness!.delivered.some((e) => e.id === good.id), 10_000, "the good event")

    assert.equal((await harness.run(harness.nostr.dropped)).forged, forgeries.length, "every forgery counted")
    assert.deepEqual(harness.delivered.map((e) => e.id), [malformedRaw.id, good.id], "only authentic events delivered")
    const malformed = harness.delivered[0]!
    assert.equal(malformed.malformed, "every tag value must be a string")
    assert.deepEqual(malformed.tags, [["i", "numbers", "text"], ["param", "max_tokens", "64"]])
    assert.equal(harness.delivered[1]!.malformed, undefined)
    assert.equal((await harness.run(harness.nostr.dropped)).badFrames, 0)
    assert.deepEqual(consoleCalls, [])
    assert.equal(harness.logs.filter((l) => l.includes("forg")).length, 0, "forgeries are dropped silently")
  })

  it("counts unusable frames, logs one line for them, keeps the connection, and writes nothing to the console", async () => {
    harness = await startHarness([real.url, hostile.url])
    const sub = await subscribed()
    const secretMarker = "DO-NOT-LOG-THIS-MARKER"
    const garbage: Array<string | Buffer> = [
      "not json",
      `{"looks": "like an object", "x": "${secretMarker}"}`,
      "[]",
      "[1,2,3]",
      "null",
      "\"EVENT\"",
      "[\"EVENT\"]",
      `["EVENT","${sub}"]`,
      `["EVENT","${sub}",{},{}]`,
      "[\"EVENT\",7,{}]",
      "[\"OK\",1]",
      "[\"OK\",\"abc\",\"yes\"]",
      "[\"CLOSED\",5]",
      "[\"AUTH\",{}]",
      `["AUTH","${"c".repeat(5000)}"]`,
      "[\"EOSE\"]",
      "[\"COUNT\",\"x\",\"y\"]",
      "[\"NOTICE\",{}]",
      "[\"WHAT\",\"\\u001b[31m\\u202e\"]",
      `["${"\\u0000".repeat(10)}${secretMarker}"]`,
      Buffer.from([0xff, 0x00, 0x12]),
      `${"x".repeat(40)}${secretMarker}`
    ]
    for (const frame of garbage) hostile.send(frame)
    const after = job("after the garbage")
    hostile.sendJson(["EVENT", sub, plain(after)])
    await waitFor(() => harness!.delivered.some((e) => e.id === after.id), 10_000, "an event after the garbage")

    assert.equal((await harness.run(harness.nostr.dropped)).badFrames, garbage.length, "every unusable frame counted")
    assert.equal(hostile.connections(), 1, "the connection survived")
    const lines = badFrameLines(harness)
    assert.equal(lines.length, 1, `one log line, not one per frame: ${JSON.stringify(lines)}`)
    assert.ok(!harness.logs.some((l) => l.includes(secretMarker)), "no frame contents beyond a short prefix")
    assert.ok(lines[0]!.length < 300)
    assert.deepEqual(consoleCalls, [])
    // The real relay is not blamed.
    assert.ok(!harness.logs.some((l) => l.includes(real.url) && l.includes("cannot use")))
  })

  it("subscribes again from the last event seen after the relay CLOSED the subscription", async () => {
    const since = now() - 3600
    harness = await startHarness([hostile.url], { filter: { kinds: [5050], since } })
    const first = await subscribed(1)
    const seen = job("before the CLOSED", { created_at: now() - 10 })
    hostile.sendJson(["EVENT", first, plain(seen)])
    await waitFor(() => harness!.delivered.length === 1, 10_000, "the first event")

    hostile.sendJson(["CLOSED", first, "rate-limited: slow down\u001b[2J"])
    const second = await subscribed(2)
    assert.notEqual(second, first)
    assert.equal(hostile.reqs()[1]!.filters[0]!.since, seen.created_at - 60, "from the last event seen, less the overlap")
    const later = job("after the CLOSED")
    hostile.sendJson(["EVENT", second, plain(later)])
    await waitFor(() => harness!.delivered.some((e) => e.id === later.id), 10_000, "an event on the new subscription")
    assert.equal(hostile.connections(), 1, "the same connection")
    const closedLines = harness.logs.filter((l) => l.includes("closed our subscription"))
    assert.equal(closedLines.length, 1)
    assert.match(closedLines[0]!, /rate-limited: slow down\\x1b\[2J/, "the reason, escaped")

    // Closed again at once: the next attempt waits longer (the backoff doubles).
    const closedAt = Date.now()
    hostile.sendJson(["CLOSED", second, "rate-limited: still"])
    await subscribed(3)
    assert.ok(Date.now() - closedAt >= 2 * CLOSED_BACKOFF_FIRST_MS - 50, "backed off")
    assert.deepEqual(consoleCalls, [])
  })

  it("answers an AUTH challenge with a kind 22242 signed by our key, and resubscribes after an auth-required CLOSED", async () => {
    const ours = generateSecretKey()
    harness = await startHarness([hostile.url])
    await harness.run(harness.nostr.setAuthSigner((template) => signEvent(template, ours)))
    hostile.respond = (frame, reply) => {
      if (Array.isArray(frame) && frame[0] === "AUTH") reply(JSON.stringify(["OK", (frame[1] as NostrEvent).id, true, ""]))
    }
    const first = await subscribed(1)
    hostile.sendJson(["CLOSED", first, "auth-required: we only serve known pubkeys"])
    await new Promise((r) => setTimeout(r, 2 * CLOSED_BACKOFF_FIRST_MS))
    assert.equal(hostile.reqs().length, 1, "no resubscribe before we are authenticated")

    hostile.sendJson(["AUTH", "challenge-1234"])
    await waitFor(() => hostile.reqs().length === 2, 10_000, "a REQ after the AUTH")
    const frames = hostile.received.map((r) => r.frame as Array<unknown>)
    const authAt = frames.findIndex((f) => f[0] === "AUTH")
    const lastReq = frames.map((f) => f[0]).lastIndexOf("REQ")
    assert.ok(authAt >= 0 && authAt < lastReq, "AUTH went before the new REQ")
    const auth = frames[authAt]![1] as NostrEvent
    assert.equal(auth.kind, CLIENT_AUTH_KIND)
    assert.equal(auth.pubkey, getPublicKey(ours))
    assert.deepEqual(auth.tags, [["relay", `${hostile.url}/`], ["challenge", "challenge-1234"]])
    assert.ok(verifyEvent(plain(auth) as unknown as Parameters<typeof verifyEvent>[0]), "a valid signature")
    assert.ok(Math.abs(auth.created_at - now()) < 60)
    assert.deepEqual(consoleCalls, [])
  })

  it("answers a challenge that came before it had a key once the key is set", async () => {
    harness = await startHarness([hostile.url])
    await subscribed(1)
    hostile.sendJson(["AUTH", "early"])
    await new Promise((r) => setTimeout(r, 300))
    assert.ok(!hostile.received.some((r) => Array.isArray(r.frame) && r.frame[0] === "AUTH"), "no answer without a key")
    const ours = generateSecretKey()
    await harness.run(harness.nostr.setAuthSigner((template) => signEvent(template, ours)))
    await waitFor(() => hostile.received.some((r) => Array.isArray(r.frame) && r.frame[0] === "AUTH"), 5000, "the AUTH answer")
    const auth = (hostile.received.find((r) => Array.isArray(r.frame) && r.frame[0] === "AUTH")!.frame as Array<unknown>)[1] as NostrEvent
    assert.equal(auth.pubkey, getPublicKey(ours))
    assert.deepEqual(auth.tags[1], ["challenge", "early"])
  })

  it("publishes once more after authenticating when the relay refused with auth-required", async () => {
    const ours = generateSecretKey()
    harness = await startHarness([hostile.url])
    await harness.run(harness.nostr.setAuthSigner((template) => signEvent(template, ours)))
    let authed = false
    hostile.respond = (frame, reply) => {
      if (!Array.isArray(frame)) return
      if (frame[0] === "AUTH") {
        authed = true
        reply(JSON.stringify(["OK", (frame[1] as NostrEvent).id, true, ""]))
      }
      if (frame[0] === "EVENT") {
        const id = (frame[1] as NostrEvent).id
        if (authed) return reply(JSON.stringify(["OK", id, true, ""]))
        reply(JSON.stringify(["OK", id, false, "auth-required: sign in first"]))
        reply(JSON.stringify(["AUTH", "publish-challenge"]))
      }
    }
    await subscribed(1)
    const outcome = await harness.run(harness.nostr.publish(signEvent({ kind: 7000, created_at: now(), tags: [], content: "" }, ours)))
    assert.deepEqual(outcome.accepted, [hostile.url])
    const kinds = hostile.received.map((r) => (r.frame as Array<unknown>)[0]).filter((k) => k !== "REQ")
    assert.deepEqual(kinds, ["EVENT", "AUTH", "EVENT"])
  })

  it("ends a connection that sends a frame over the size limit, and connects again", async () => {
    harness = await startHarness([hostile.url])
    await subscribed(1)
    hostile.send(`["NOTICE","${"x".repeat(MAX_FRAME_BYTES + 1024)}"]`)
    await waitFor(() => hostile.closeCodes.length === 1, 10_000, "the oversized connection closed")
    assert.equal(hostile.closeCodes[0], 1009, "closed as too big")
    await subscribed(2)
    assert.equal(hostile.connections(), 2)
    assert.deepEqual(consoleCalls, [])
  })

  describe("reply relays a customer names", () => {
    let listener: net.Server
    let dialled = 0
    let port = 0
    beforeEach(async () => {
      dialled = 0
      listener = net.createServer((socket) => {
        dialled++
        socket.destroy()
      })
      await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", () => resolve()))
      port = (listener.address() as net.AddressInfo).port
    })
    afterEach(async () => {
      await new Promise<void>((resolve) => listener.close(() => resolve()))
    })

    const resolvesTo = (answers: Record<string, string>): Resolver =>
      (hostname: string, _options: dns.LookupAllOptions, callback: (error: NodeJS.ErrnoException | null, addresses: Array<ResolvedAddress>) => void) => {
        const address = answers[hostname]
        if (address) callback(null, [{ address, family: net.isIPv6(address) ? 6 : 4 }])
        else callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), [])
      }

    it("never dials this machine, by address, by name, or by a public-looking name that resolves to it", async () => {
      harness = await startHarness([real.url], { resolver: resolvesTo({ "relay.example.com": "127.0.0.1", "v6.example.com": "::ffff:127.0.0.1" }) })
      const replyRelays = [
        `wss://127.0.0.1:${port}`,
        `wss://localhost:${port}`,
        `wss://[::ffff:127.0.0.1]:${port}`,
        `wss://2130706433:${port}`,
        `ws://127.0.0.1:${port}`,
        `wss://relay.example.com:${port}`,
        `wss://v6.example.com:${port}`
      ]
      const outcome = await harness.run(harness.nostr.publish(job("a result"), replyRelays))
      assert.deepEqual(outcome.accepted, [real.url], "our own relay, configured as ws://127.0.0.1, still works")
      const reasons = new Map(outcome.failed.map((f) => [f.url, f.reason]))
      for (const url of replyRelays.slice(0, 5)) assert.match(reasons.get(url) ?? "", /not a public relay/, url)
      assert.match(reasons.get(`wss://relay.example.com:${port}`) ?? "", /resolves to a non-public address \(127\.0\.0\.1\)/)
      assert.match(reasons.get(`wss://v6.example.com:${port}`) ?? "", /resolves to a non-public address/)
      assert.equal(dialled, 0, "nothing connected to the listener")
      // The listener counts what does reach it.
      await new Promise<void>((resolve) => net.connect(port, "127.0.0.1").on("close", () => resolve()).on("error", () => resolve()))
      assert.equal(dialled, 1)
    })
  })
})
