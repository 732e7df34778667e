// Reply relays a customer names (the request's `relays` tag) are dialled only over wss://. This file
// checks the ws:// rule on its own: the other rules (no address or name of this machine or its
// network) would refuse ws://127.0.0.1 anyway, so each test also names a ws:// relay at a
// public-looking name, which only the ws:// rule refuses. hostile.test.ts and hostileRelay.test.ts
// cover the address rules.
import assert from "node:assert/strict"
import type * as dns from "node:dns"
import * as net from "node:net"
import { Effect, ManagedRuntime } from "effect"
import { generateSecretKey } from "nostr-tools/pure"
import { signEvent, useWasmSignatures } from "../../src/dvm/protocol/signing"
import type { ResolvedAddress, Resolver } from "../../src/dvm/publicRelay"
import { Nostr } from "../../src/dvm/services/Nostr"
import { Customer, statusOf } from "../support/customer"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startProvider, type TestProvider } from "../support/provider"
import { type RelayProcess, startRelay } from "../support/relay"

describe("customer reply relays: never ws://", function() {
  this.timeout(60_000)
  let relay: RelayProcess
  let ollama: OllamaStandIn
  let listener: net.Server
  let dialled = 0
  let port = 0

  before(async () => {
    ;[relay, ollama] = await Promise.all([startRelay(), startOllamaStandIn({ models: ["llama3.2:1b"] })])
    // A port on this machine that is listening: a ws:// relay here would be reachable.
    listener = net.createServer((socket) => {
      dialled++
      socket.destroy()
    })
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", () => resolve()))
    port = (listener.address() as net.AddressInfo).port
  })
  after(async () => {
    await Promise.all([relay?.stop(), ollama?.close(), new Promise((resolve) => listener?.close(resolve))])
  })
  beforeEach(() => {
    dialled = 0
  })

  it("the provider sends a result to no ws:// reply relay, local or public-looking, while it does try a wss:// one", async () => {
    let provider: TestProvider | undefined
    const customer = new Customer([relay.url])
    try {
      await customer.listen()
      provider = await startProvider({ relays: [relay.url], "ollama.host": ollama.url, "payment.mode": "free" })
      await provider.goOnline()
      const local = `ws://127.0.0.1:${port}`
      // `.invalid` (RFC 6761) never resolves: a relay there can only fail, and the failure is logged.
      const plain = "ws://plain-relay.example.invalid"
      const secure = "wss://tls-relay.example.invalid"
      const job = await customer.publish(customer.buildJob({ prompt: "reply to me there", tags: [["relays", local, plain, secure]] }))
      await waitFor(() => customer.repliesFor(job.id).feedback.some((f) => statusOf(f) === "success"), 15_000, "the job served")
      assert.equal(customer.repliesFor(job.id).results.length, 1, "the result reached our own relay")

      // Every relay a result was offered to and that did not take it is named in a warning.
      const p = provider
      await waitFor(() => p.logs.some((l) => l.includes("tls-relay.example.invalid")), 15_000, "the wss:// reply relay tried (control)")
      const offered = p.logs.filter((l) => /not accepted by/.test(l)).join("\n")
      assert.ok(!offered.includes("plain-relay.example.invalid"), `a ws:// reply relay at a public-looking name was tried:\n${offered}`)
      assert.ok(!offered.includes(`127.0.0.1:${port}`), `a ws:// reply relay on this machine was tried:\n${offered}`)
      assert.equal(dialled, 0, "nothing connected to the listening local port")
    } finally {
      customer.close()
      await provider?.dispose()
    }
  })

  it("the relay layer refuses a ws:// reply relay before any name lookup or connection", async () => {
    await useWasmSignatures()
    const asked: Array<string> = []
    // Names resolve to this machine's listener: dialling one would be refused at the address, so a
    // ws:// name must be refused before it is looked up at all.
    const resolver: Resolver = (hostname: string, _options: dns.LookupAllOptions, callback: (error: NodeJS.ErrnoException | null, addresses: Array<ResolvedAddress>) => void) => {
      asked.push(hostname)
      callback(null, [{ address: "127.0.0.1", family: 4 }])
    }
    const runtime = ManagedRuntime.make(Nostr.layerWith({ resolver }))
    try {
      const outcome = await runtime.runPromise(Effect.gen(function*() {
        const nostr = yield* Nostr
        yield* nostr.setRelays([relay.url])
        const event = signEvent({ kind: 7000, created_at: Math.floor(Date.now() / 1000), tags: [], content: "" }, generateSecretKey())
        return yield* nostr.publish(event, [`ws://plain-relay.example.com:${port}`, `ws://127.0.0.1:${port}`, `wss://tls-relay.example.com:${port}`])
      }))
      assert.deepEqual(outcome.accepted, [relay.url])
      const reasons = new Map(outcome.failed.map((f) => [f.url, f.reason]))
      assert.match(reasons.get(`ws://plain-relay.example.com:${port}`) ?? "", /not a public relay \(not wss:\/\/\); not dialled/)
      assert.match(reasons.get(`ws://127.0.0.1:${port}`) ?? "", /not a public relay .*not dialled/)
      assert.ok(asked.includes("tls-relay.example.com"), "a wss:// name is looked up (control)")
      assert.ok(!asked.includes("plain-relay.example.com"), "the ws:// name was looked up, so it was being dialled")
      assert.equal(dialled, 0, "nothing connected to the listening local port")
    } finally {
      await runtime.dispose()
    }
  })
})
