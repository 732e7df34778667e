// Safe on the open internet, end to end: the provider on a real relay and on a relay process that
// sends anything, tried with more than fifty hostile events and frames and a flood from 1,000 keys,
// then one good job. The good job is served, the provider lives, each hostile request is answered or
// dropped as the protocol says, the history holds only canonical ids, the log holds no raw control
// character, and no secret appears anywhere.
import assert from "node:assert/strict"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { nsecEncode } from "nostr-tools/nip19"
import { type Event, finalizeEvent, generateSecretKey } from "nostr-tools/pure"
import { hexToBytes } from "nostr-tools/utils"
import { Effect, SubscriptionRef } from "effect"
import { JOBS_FILE } from "../../src/dvm/services/JobStore"
import { Kind5050DVM } from "../../src/dvm/services/Kind5050DVM"
import { Customer, statusOf, tag } from "../support/customer"
import { floodJobs } from "../support/flood"
import { type HostileRelay, startHostileRelay } from "../support/hostileRelay"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startProvider, type TestProvider } from "../support/provider"
import { signRaw } from "../support/rawEvent"
import { type RelayProcess, startRelay } from "../support/relay"

/** What the protocol says should become of a hostile request. */
type Expected =
  | { readonly answer: "none" } // dropped at the door, not ours, or not worth an answer: no reply at all
  | { readonly answer: "error"; readonly reason: RegExp; readonly secret?: string } // a 7000 error (`secret`: never in clear)
  | { readonly answer: "served" }

interface Case {
  readonly name: string
  /** The id replies would carry (for frames that are not events: none). */
  readonly id?: string
  readonly expected?: Expected
  readonly send: () => Promise<void> | void
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
const FAKE_MNEMONIC = "abandon ability able about above absent absorb abstract absurd abuse access accident"
const FAKE_NWC_SECRET = "9f".repeat(32)

describe("safe on the open internet: a real relay, a relay that sends anything, 1,000 strangers", function() {
  this.timeout(240_000)
  let relay: RelayProcess
  let hostile: HostileRelay
  let ollama: OllamaStandIn
  let provider: TestProvider
  let dataDir: string
  let customer: Customer
  let denied: Customer
  let loopback: net.Server
  let loopbackConnections = 0
  const unhandled: Array<unknown> = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason)
  const consoleCalls: Array<string> = []
  const originalConsole = { warn: console.warn, error: console.error, debug: console.debug, log: console.log, info: console.info }

  const jobSubscription = () => {
    const req = [...hostile.reqs()].reverse().find((r) => r.filters.some((f) => Array.isArray(f.kinds) && (f.kinds as Array<number>).includes(5050)))
    assert.ok(req, "the provider subscribed to job requests on the hostile relay")
    return req.id
  }
  const viaHostile = (event: unknown) => hostile.sendJson(["EVENT", jobSubscription(), event])
  /** Everything the provider published, as the hostile relay (one of its relays) received it. */
  const published = () =>
    hostile.received
      .map((r) => r.frame)
      .filter((f): f is ["EVENT", Event] => Array.isArray(f) && f[0] === "EVENT" && typeof f[1] === "object")
      .map((f) => f[1])
      .filter((e) => e.pubkey === provider.pubkey)
  const repliesTo = (id: string) => published().filter((e) => (e.kind === 7000 || e.kind === 6050) && e.tags.some((t) => t[0] === "e" && t[1] === id))

  before(async () => {
    process.on("unhandledRejection", onUnhandled)
    ;[relay, hostile, ollama] = await Promise.all([startRelay(), startHostileRelay(), startOllamaStandIn({ models: ["llama3.2:1b"] })])
    // The hostile relay takes every event (so results and feedback are published there too) and ends every REQ.
    hostile.respond = (frame, reply) => {
      if (!Array.isArray(frame)) return
      if (frame[0] === "EVENT" && typeof frame[1] === "object") reply(JSON.stringify(["OK", (frame[1] as Event).id, true, ""]))
      if (frame[0] === "REQ") reply(JSON.stringify(["EOSE", frame[1]]))
    }
    loopback = net.createServer((socket) => {
      loopbackConnections++
      socket.destroy()
    })
    await new Promise<void>((resolve) => loopback.listen(0, "127.0.0.1", () => resolve()))
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-hostile-"))
    denied = new Customer([relay.url])
    customer = new Customer([relay.url])
    provider = await startProvider({
      relays: [relay.url, hostile.url],
      "ollama.host": ollama.url,
      "payment.mode": "pay-after",
      maxConcurrentJobs: 2,
      "limits.maxQueuedJobs": 20,
      // One test customer sends many requests; the flood is from many keys.
      "limits.jobsPerMinutePerCustomer": 10_000,
      "limits.jobsInFlightPerCustomer": 100,
      // The operator wrote the key in upper case: it is still the same key.
      "access.denyList": [denied.pubkey.toUpperCase()]
    }, { dataDir, secrets: { sparkMnemonic: FAKE_MNEMONIC, nwcUrl: `nostr+walletconnect://${"ab".repeat(32)}?relay=wss%3A%2F%2Frelay.example&secret=${FAKE_NWC_SECRET}` } })
    for (const name of Object.keys(originalConsole) as Array<keyof typeof originalConsole>) {
      console[name] = (...args: Array<unknown>) => void consoleCalls.push(`${name}: ${args.map(String).join(" ").slice(0, 200)}`)
    }
    await provider.goOnline()
    await Promise.all([customer.listen(), denied.listen()])
    await waitFor(() => hostile.reqs().length > 0, 10_000, "the provider's subscription on the hostile relay")
  })

  after(async () => {
    Object.assign(console, originalConsole)
    process.off("unhandledRejection", onUnhandled)
    customer?.close()
    denied?.close()
    await provider?.dispose()
    await Promise.all([relay?.stop(), hostile?.close(), ollama?.close(), new Promise((resolve) => loopback?.close(resolve))])
    fs.rmSync(dataDir, { recursive: true, force: true })
  })

  it("serves a good job after 50+ hostile events and frames and a 1,000-key flood, and gives away nothing", async () => {
    const now = () => Math.floor(Date.now() / 1000)
    const served = await customer.publish(customer.buildJob({ prompt: "the first good job" }))
    await waitFor(() => customer.repliesFor(served.id).results.length === 1, 15_000, "the first good job's result")
    const runsOf = (prompt: string) => ollama.requests.filter((r) => r.prompt === prompt).length
    assert.equal(runsOf("the first good job"), 1)

    const stranger = generateSecretKey()
    const signed = (tags: Array<Array<string>>, content = "", secret = stranger, createdAt = now()) =>
      finalizeEvent({ kind: 5050, created_at: createdAt, tags, content }, secret)
    const copy = (event: Event, patch: Record<string, unknown>) => ({ ...event, ...patch })
    const other = signed([["i", "another", "text"]])
    const cases: Array<Case> = []
    const add = (name: string, expected: Expected, event: Record<string, unknown> | Event, via: "hostile" | "relay" = "hostile") =>
      cases.push({
        name,
        expected,
        ...(typeof event.id === "string" ? { id: event.id } : {}),
        send: () => (via === "hostile" ? viaHostile(event) : customer.publish(event as Event).then(() => undefined))
      })
    const frame = (name: string, raw: string | Buffer) => cases.push({ name, send: () => hostile.send(raw) })

    // Forged: a served request replayed under odd ids, keys written another way, fields changed or mistyped.
    const none = { answer: "none" } as const
    add("the served request with an empty id", none, copy(served, { id: "" }))
    add("the served request with a two-character id", none, copy(served, { id: served.id.slice(0, 2) }))
    add("the served request with its id in upper case", none, copy(served, { id: served.id.toUpperCase() }))
    add("the served request with a newline after its id", none, copy(served, { id: `${served.id}\n` }))
    // These two carry the served request's own id: what counts is that it never runs again.
    cases.push({ name: "the served request with its signature in upper case", send: () => viaHostile(copy(served, { sig: served.sig.toUpperCase() })) })
    cases.push({ name: "the served request again, exactly", send: () => viaHostile(served) })
    const fromDenied = denied.buildJob({ prompt: "let me in" })
    add("a denied key's request with its pubkey in upper case", none, copy(fromDenied, { pubkey: fromDenied.pubkey.toUpperCase() }))
    add("a pubkey ending in a newline", none, copy(other, { pubkey: `${other.pubkey.slice(0, 63)}\n` }))
    add("changed content", none, copy(other, { content: "changed" }))
    add("a changed input", none, copy(other, { tags: [["i", "changed", "text"]] }))
    add("another event's signature", none, copy(other, { sig: served.sig }))
    add("an id that is hex but not the event's", none, copy(other, { id: "0".repeat(64) }))
    add("the kind as a string", none, copy(other, { kind: "5050" }))
    add("a fractional created_at", none, copy(other, { created_at: other.created_at + 0.5 }))
    add("created_at as a string", none, copy(other, { created_at: String(other.created_at) }))
    add("tags that are not arrays", none, copy(other, { tags: ["i", "x"] }))
    add("tags null", none, copy(other, { tags: null }))
    add("no content", none, { id: other.id, pubkey: other.pubkey, created_at: other.created_at, kind: 5050, tags: other.tags, sig: other.sig })
    add("a short signature", none, copy(other, { sig: other.sig.slice(0, 100) }))
    cases.push({ name: "a number for an event", send: () => viaHostile(42) })
    cases.push({ name: "null for an event", send: () => viaHostile(null) })
    cases.push({ name: "a string for an event", send: () => viaHostile("event") })
    cases.push({ name: "an array for an event", send: () => viaHostile([other]) })

    // Frames no relay should send.
    frame("text that is not JSON", "this is not json {")
    frame("a JSON object", "{}")
    frame("an empty array", "[]")
    frame("EVENT alone", '["EVENT"]')
    frame("EVENT without an event", JSON.stringify(["EVENT", "sub"]))
    frame("a good event for a subscription we never made", JSON.stringify(["EVENT", "not-ours", signed([["i", "lost", "text"]])]))
    frame("a NOTICE with terminal escapes and a forged log line", JSON.stringify(["NOTICE", "\u001b[2J\u001b[31m\n2026-01-01T00:00:00.000Z INFO  Job deadbeef paid: 100000 sats"]))
    frame("an OK for an event never sent", JSON.stringify(["OK", "f".repeat(64), true, ""]))
    frame("an EOSE with a number", JSON.stringify(["EOSE", 42]))
    frame("a COUNT answer nobody asked for", JSON.stringify(["COUNT", "x", { count: 7 }]))
    frame("arrays nested 5,000 deep", "[".repeat(5000) + "]".repeat(5000))
    frame("a binary frame", Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37) % 256)))
    frame("an unknown verb", JSON.stringify(["GIMME", "sats"]))

    // Authentic but malformed: validly signed, with values NIP-01 does not allow. Answered with an error.
    const malformed = { answer: "error", reason: /malformed request/ } as const
    add("a numeric prompt", malformed, signRaw({ kind: 5050, created_at: now(), tags: [["i", 42, "text"]], content: "" }, stranger))
    add("numeric content", malformed, signRaw({ kind: 5050, created_at: now(), tags: [], content: 7 }, stranger))
    add("an object in a tag", malformed, signRaw({ kind: 5050, created_at: now(), tags: [["i", "x", "text"], ["param", { a: 1 }, "1"]], content: "" }, stranger))
    add("a numeric param value", malformed, signRaw({ kind: 5050, created_at: now(), tags: [["i", "x", "text"], ["param", "max_tokens", 5]], content: "" }, stranger))
    add("a numeric deletion target", none, signRaw({ kind: 5, created_at: now(), tags: [["e", 42]], content: "" }, stranger))

    // Well formed and validly signed, through the real relay: each gets the error the protocol allows.
    const error = (reason: RegExp, secret?: string): Expected => ({ answer: "error", reason, ...(secret ? { secret } : {}) })
    add("an input type with terminal escapes and a forged log line", error(/input type .* is not supported/),
      customer.buildJob({ tags: [["i", "hi", "text\u001b[2J\n2026-01-01T00:00:00.000Z INFO  Job deadbeef paid: 100000 sats"]] }), "relay")
    add("a param with a bell and an OSC title escape", error(/param temperature=.* is not valid/), customer.buildJob({ prompt: "p", tags: [["param", "temperature", "\u0007\u001b]0;owned\u0007"]] }), "relay")
    add("a bid that is not a number", error(/bid .* is not a whole number/), customer.buildJob({ prompt: "p", tags: [["bid", "12abc"]] }), "relay")
    add("a negative max_tokens", error(/param max_tokens/), customer.buildJob({ prompt: "p", tags: [["param", "max_tokens", "-5"]] }), "relay")
    add("a temperature of NaN", error(/param temperature/), customer.buildJob({ prompt: "p", tags: [["param", "temperature", "NaN"]] }), "relay")
    add("a model name of 500 characters", error(/param model/), customer.buildJob({ prompt: "p", tags: [["param", "model", "m".repeat(500)]] }), "relay")
    add("a prompt over the limit", error(/prompt is too long/), customer.buildJob({ prompt: "x".repeat(16_001) }), "relay")
    add("no prompt at all", error(/no prompt/), customer.buildJob({}), "relay")
    add("an input of a type we do not serve", error(/input type "url"/), customer.buildJob({ tags: [["i", "https://example.com", "url"]] }), "relay")
    add("a request too large for the limit", error(/request is too large/), signed([["i", "y".repeat(10_000), "text"], ["x", "z".repeat(20_000)]]))
    add("a denied key, written in upper case in the settings", error(/does not serve your key/), denied.buildJob({ prompt: "denied" }), "relay")
    const ours = provider.pubkey
    add("an encrypted request with a bad param", error(/^$/, "7.77"), customer.buildJob({ prompt: "secret", tags: [["param", "temperature", "7.77"]], encrypt: { scheme: "nip44", provider: ours } }), "relay")
    add("an encrypted request with a bad bid", error(/^$/, "99zz"), customer.buildJob({ prompt: "secret", tags: [["bid", "99zz"]], encrypt: { scheme: "nip04", provider: ours } }), "relay")
    add("an encrypted request with a prompt over the limit", error(/^$/, "16001"), customer.buildJob({ prompt: "s".repeat(16_001), encrypt: { scheme: "nip44", provider: ours } }), "relay")
    add("an encrypted request with an input type we do not serve", error(/^$/, "secret-type"), customer.buildJob({ tags: [["i", "x", "secret-type"]], encrypt: { scheme: "nip44", provider: ours } }), "relay")
    add("an encrypted request we cannot decrypt", error(/could not decrypt/),
      customer.buildJob({ content: "bm90IGNpcGhlcnRleHQ=?iv=AAAAAAAAAAAAAAAAAAAAAA==", tags: [["p", ours], ["encrypted"]] }), "relay")
    add("an encrypted request p-tagged to someone else", none, customer.buildJob({ prompt: "x", encrypt: { scheme: "nip44", provider: denied.pubkey } }), "relay")
    add("a request for another provider", none, customer.buildJob({ prompt: "not for you", tags: [["p", denied.pubkey]] }), "relay")
    add("a request dated an hour ahead", none, customer.buildJob({ prompt: "future", createdAt: now() + 3600 }))
    add("a request past its NIP-40 expiration", none, customer.buildJob({ prompt: "expired", tags: [["expiration", String(now() - 10)]] }))
    add("a request too old to serve", none, signed([["i", "old", "text"]], "", stranger, now() - 3600))
    const replyRelays = [
      `wss://127.0.0.1:${(loopback.address() as net.AddressInfo).port}`,
      `wss://localhost:${(loopback.address() as net.AddressInfo).port}`,
      `ws://127.0.0.1:${(loopback.address() as net.AddressInfo).port}`,
      `wss://[::1]:${(loopback.address() as net.AddressInfo).port}`,
      "wss://10.1.2.3",
      "wss://169.254.169.254",
      "wss://printer.local"
    ]
    add("a job asking for replies on this machine and its network", { answer: "served" }, customer.buildJob({ prompt: "reply to me locally", tags: [["relays", ...replyRelays]] }), "relay")
    cases.push({
      name: "someone else's deletion of a served request",
      send: async () => {
        await Promise.all(customer.pool.publish([relay.url], finalizeEvent({ kind: 5, created_at: now(), tags: [["e", served.id]], content: "" }, stranger)))
      }
    })

    // Last: the relay ends our subscription (we must subscribe again) and asks us to authenticate.
    cases.push({ name: "a CLOSED for our job subscription, with escapes in its reason", send: () => hostile.sendJson(["CLOSED", jobSubscription(), "error: \u001b[2Jshutting down"]) })
    cases.push({ name: "an AUTH challenge", send: () => hostile.sendJson(["AUTH", "challenge-for-sell-compute"]) })

    assert.ok(cases.length >= 50, `${cases.length} hostile cases`)
    for (const c of cases) await c.send()
    const unanswered = () => cases.filter((c) => c.expected?.answer === "error" && !repliesTo(c.id as string).some((e) => statusOf(e) === "error")).map((c) => c.name)
    await waitFor(() => unanswered().length === 0, 30_000, "every error answer").catch((e: Error) => {
      throw new Error(`${e.message}: still unanswered: ${unanswered().join("; ")}`)
    })
    await waitFor(() => cases.every((c) => c.expected?.answer !== "served" || repliesTo(c.id as string).some((e) => statusOf(e) === "success")), 30_000, "the served case")

    // 1,000 strangers, one request each, at once.
    const flood = await floodJobs(relay.url, 1000)
    await waitFor(() => provider.logs.some((line) => /Reply budget spent/.test(line)), 60_000, "the flood's drops reported")
    const status = () => provider.run(Effect.gen(function*() {
      return yield* SubscriptionRef.get((yield* Kind5050DVM).status)
    }))
    await waitFor(async () => (await status()).activeJobs === 0, 120_000, "the flood's admitted jobs done")

    // Then one good job from someone new: served.
    const newcomer = new Customer([relay.url])
    await newcomer.listen()
    const good = newcomer.buildJob({ prompt: "the last good job" })
    try {
      await newcomer.publish(good)
      await waitFor(() => newcomer.repliesFor(good.id).feedback.some((f) => statusOf(f) === "success"), 30_000, "the last good job's success")
      assert.equal(newcomer.repliesFor(good.id).results.length, 1, "the last good job's result")
    } finally {
      newcomer.close()
    }

    const floodReplies = flood.filter((e) => repliesTo(e.id).length > 0).length
    process.stdout.write(`      [hostile] ${cases.length} hostile events and frames; flood of 1000: ${floodReplies} answered, ${1000 - floodReplies} dropped\n`)

    // The provider lives and nothing escaped its handlers.
    assert.equal((await status()).state, "online")
    assert.deepEqual(unhandled, [])
    assert.deepEqual(consoleCalls, [], "nothing written to the console behind the log's back")

    // Each hostile request answered or dropped as the protocol says.
    for (const c of cases) {
      if (!c.expected || !c.id) continue
      const replies = repliesTo(c.id)
      if (c.expected.answer === "none") {
        assert.deepEqual(replies.map(statusOf), [], `${c.name}: no reply`)
      } else if (c.expected.answer === "served") {
        assert.ok(replies.some((e) => e.kind === 6050), `${c.name}: served`)
      } else {
        const errors = replies.filter((e) => statusOf(e) === "error")
        assert.equal(errors.length, 1, `${c.name}: one error`)
        const answer = errors[0] as Event
        if (c.expected.secret) {
          assert.deepEqual(tag(answer, "status"), ["status", "error", "invalid request"], `${c.name}: only "invalid request" in clear`)
          assert.ok(!JSON.stringify(answer).includes(c.expected.secret), `${c.name}: the encrypted value is not in the clear`)
        } else {
          assert.match(tag(answer, "status")?.[2] ?? "", c.expected.reason, c.name)
        }
      }
    }
    assert.equal(runsOf("the first good job"), 1, "the served request never ran again, under any id")
    assert.equal(runsOf("let me in"), 0, "the denied key was not served")
    assert.equal(loopbackConnections, 0, "no reply relay on this machine was dialled")

    // Relays: CLOSED was followed by a new subscription; AUTH was answered with our key.
    assert.ok(hostile.reqs().length >= 2, "subscribed again after CLOSED")
    const auth = hostile.received.map((r) => r.frame).find((f) => Array.isArray(f) && f[0] === "AUTH") as [string, Event] | undefined
    assert.ok(auth, "AUTH answered")
    assert.equal(auth[1].kind, 22242)
    assert.equal(auth[1].pubkey, provider.pubkey)
    assert.deepEqual(tag(auth[1], "challenge"), ["challenge", "challenge-for-sell-compute"])

    // The history: only canonical ids of events that were really sent, and private.
    const sentIds = new Set([served.id, good.id, ...cases.map((c) => c.id).filter((id): id is string => id !== undefined), ...flood.map((e) => e.id)])
    const file = path.join(dataDir, JOBS_FILE)
    const history = fs.readFileSync(file, "utf8").split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line) as { id?: string })
    const ids = history.map((r) => r.id).filter((id): id is string => id !== undefined)
    assert.ok(ids.length > 0, "the history has records")
    for (const id of ids) {
      assert.match(id, /^[0-9a-f]{64}$/)
      assert.ok(sentIds.has(id), `history id ${id} is the id of a request that was sent`)
    }
    assert.ok(!ids.includes(served.id.toUpperCase()) && !ids.includes(""), "no odd id in the history")
    assert.equal(fs.statSync(file).mode & 0o777, 0o600)
    assert.equal(fs.statSync(dataDir).mode & 0o777, 0o700)
    const floodIds = new Set(flood.map((e) => e.id))
    const floodRecorded = new Set(ids.filter((id) => floodIds.has(id))).size
    assert.ok(floodRecorded < 300, `the flood's dropped requests are not written (${floodRecorded} of 1000 recorded)`)

    // The log: no raw control character; the relay's junk cost a line or two, not one per frame.
    const log = provider.consoleLines
    for (const line of log) assert.ok(!CONTROL.test(line), `raw control character in: ${JSON.stringify(line)}`)
    assert.ok(!log.some((line) => line.includes("\u001b")), "no escape character in the log")
    const hostileLines = log.filter((line) => line.includes(hostile.url) && /frames? we cannot use/.test(line))
    assert.ok(hostileLines.length <= 4, `relay trouble logged ${hostileLines.length} times`)

    // No secret anywhere: log, history, anything published.
    const secrets = [provider.secretKeyHex, nsecEncode(hexToBytes(provider.secretKeyHex)), FAKE_MNEMONIC, FAKE_NWC_SECRET]
    const everywhere = [log.join("\n"), provider.logs.join("\n"), fs.readFileSync(file, "utf8"), JSON.stringify(published())].join("\n")
    for (const secret of secrets) assert.ok(!everywhere.includes(secret), "a secret leaked")

    // What the door dropped is counted and said (at most once a minute while online, and on going offline).
    await provider.goOffline()
    const door = provider.logs.map((line) => /Dropped at the door: (\d+) forged events and (\d+) unusable frames/.exec(line)).filter((m) => m !== null)
    const forged = door.reduce((sum, m) => sum + Number(m[1]), 0)
    const frames = door.reduce((sum, m) => sum + Number(m[2]), 0)
    assert.ok(forged >= 19, `forged events counted: ${forged}`)
    assert.ok(frames >= 8, `unusable frames counted: ${frames}`)
  })
})
