// A second, independent Nostr implementation reads what we publish: rust-nostr (its JavaScript build,
// @rust-nostr/nostr-sdk, WASM) builds and signs the customer's job requests, plain and NIP-44
// encrypted, and decodes the provider's announcement, feedback and results from the real relay:
// each one's id and signature verified by rust-nostr, its kind and tags read by rust-nostr's parser,
// the encrypted result decrypted by rust-nostr's NIP-44.
import assert from "node:assert/strict"
import {
  Event as RustEvent,
  EventBuilder,
  Keys,
  Kind,
  loadWasmSync,
  nip44Decrypt,
  nip44Encrypt,
  NIP44Version,
  PublicKey,
  Tag
} from "@rust-nostr/nostr-sdk"
import type { Event } from "nostr-tools/pure"
import { Customer } from "../support/customer"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startProvider, type TestProvider } from "../support/provider"
import { type RelayProcess, startRelay } from "../support/relay"

/** An event as rust-nostr decodes it: parsed from the relay's JSON, its id and signature checked. */
const decoded = (event: Event) => {
  const parsed = RustEvent.fromJson(JSON.stringify(event))
  assert.equal(parsed.verify(), true, `rust-nostr does not verify ${event.kind} ${event.id}`)
  return {
    kind: parsed.kind.asU16(),
    author: parsed.author.toHex(),
    id: parsed.id.toHex(),
    content: parsed.content,
    tags: parsed.tags.toVec().map((t) => t.asVec()),
    tag: (name: string) => parsed.tags.find(name)?.asVec()
  }
}

describe("rust-nostr reads what the provider publishes", function() {
  this.timeout(40_000)
  let relay: RelayProcess
  let ollama: OllamaStandIn
  let provider: TestProvider
  let wire: Customer

  before(async () => {
    loadWasmSync()
    ;[relay, ollama] = await Promise.all([startRelay(), startOllamaStandIn({ models: ["llama3.2:1b"] })])
    provider = await startProvider({
      relays: [relay.url],
      "ollama.host": ollama.url,
      "payment.mode": "pay-after",
      "pricing.minPriceSats": 1,
      "pricing.pricePer1kTokens": 1000,
      "profile.name": "Rust-read provider"
    })
    await provider.goOnline()
    // Only carries frames: every event it sees is handed to rust-nostr as JSON.
    wire = new Customer([relay.url])
  })

  after(async () => {
    wire?.close()
    await provider?.dispose()
    await Promise.all([relay?.stop(), ollama?.close()])
  })

  /** Publishes rust-nostr's signed request as its JSON says, and returns every reply once the success feedback came. */
  const serve = async (request: RustEvent) => {
    const json = JSON.parse(request.asJson()) as Event
    await wire.publish(json)
    let replies: Array<Event> = []
    await waitFor(async () => {
      replies = await wire.pool.querySync([relay.url], { kinds: [7000, 6050, 6001, 6002], "#e": [json.id] })
      return replies.some((r) => r.tags.some((t) => t[0] === "status" && t[1] === "success"))
    }, 15_000, `success for ${json.id.slice(0, 8)}`)
    return { id: json.id, replies }
  }

  it("verifies the announcement: kind 31990, d and k tags, the catalogue in content", async () => {
    const [announcement] = await wire.pool.querySync([relay.url], { kinds: [31990], authors: [provider.pubkey] })
    assert.ok(announcement)
    const read = decoded(announcement)
    assert.equal(read.kind, 31990)
    assert.equal(read.author, provider.pubkey)
    assert.deepEqual(read.tag("d"), ["d", "sell-compute"])
    assert.deepEqual(read.tags.filter((t) => t[0] === "k"), [["k", "5050"], ["k", "5001"], ["k", "5002"]])
    const content = JSON.parse(read.content)
    assert.equal(content.name, "Rust-read provider")
    assert.deepEqual(content.nip90Params.model.values, ["llama3.2:1b"])
    assert.equal(content.supportsEncryption, true)
  })

  it("serves a job rust-nostr built and signed; rust-nostr verifies the feedback and the result with its invoice", async () => {
    const keys = Keys.generate()
    const request = EventBuilder.jobRequest(new Kind(5050))
      .tags([Tag.parse(["i", "Hello from rust-nostr", "text"]), Tag.parse(["param", "max_tokens", "32"])])
      .signWithKeys(keys)
    ollama.delayMsPerToken = 40 // a job that takes a while, so that it says `processing` too
    const { id, replies } = await serve(request).finally(() => {
      ollama.delayMsPerToken = 0
    })
    const customer = keys.publicKey.toHex()

    const feedback = replies.filter((r) => r.kind === 7000).map(decoded)
    assert.deepEqual(feedback.map((f) => f.tag("status")?.[1]).sort(), ["processing", "success"])
    for (const f of feedback) {
      assert.equal(f.author, provider.pubkey)
      assert.deepEqual(f.tag("e"), ["e", id])
      assert.deepEqual(f.tag("p"), ["p", customer])
    }
    assert.equal(feedback.find((f) => f.tag("status")?.[1] === "processing")?.tag("status")?.[2], "running on llama3.2:1b")

    const results = replies.filter((r) => r.kind === 6050).map(decoded)
    assert.equal(results.length, 1)
    const result = results[0]!
    assert.equal(result.kind, 6050)
    assert.equal(result.author, provider.pubkey)
    assert.equal(result.content, "Echo from llama3.2:1b: Hello from rust-nostr")
    assert.equal(result.tag("e")?.[1], id)
    assert.deepEqual(result.tag("p"), ["p", customer])
    assert.deepEqual(result.tag("i"), ["i", "Hello from rust-nostr", "text"])
    const amount = result.tag("amount")
    assert.equal(amount?.length, 3, "pay-after: msats and the invoice")
    assert.match(amount?.[1] ?? "", /^\d+000$/)
    assert.match(amount?.[2] ?? "", /^lnbc/)
    // The request tag holds rust-nostr's own event, intact: rust-nostr verifies it again.
    const carried = RustEvent.fromJson(result.tag("request")?.[1] ?? "")
    assert.equal(carried.verify(), true)
    assert.equal(carried.id.toHex(), id)
  })

  it("answers a NIP-44 request rust-nostr encrypted, and rust-nostr decrypts the result", async () => {
    const keys = Keys.generate()
    const providerKey = PublicKey.parse(provider.pubkey)
    const hidden = JSON.stringify([["i", "A secret for rust-nostr", "text"]])
    // EventBuilder.jobRequest takes no content, so the encrypted request is built by kind.
    const encrypted = new EventBuilder(new Kind(5050), nip44Encrypt(keys.secretKey, providerKey, hidden, NIP44Version.V2))
      .tags([Tag.parse(["p", provider.pubkey]), Tag.parse(["encrypted"])])
      .signWithKeys(keys)
    const { replies } = await serve(encrypted)
    const result = replies.filter((r) => r.kind === 6050).map(decoded)[0]
    assert.ok(result)
    assert.deepEqual(result.tag("encrypted"), ["encrypted"])
    assert.equal(result.tag("i"), undefined, "no cleartext input on an encrypted result")
    assert.equal(nip44Decrypt(keys.secretKey, providerKey, result.content), "Echo from llama3.2:1b: A secret for rust-nostr")
  })

  it("translates a note rust-nostr signed (5002, event input); rust-nostr reads the 6002 result", async () => {
    const author = Keys.generate()
    const note = new EventBuilder(new Kind(1), "Hola desde rust-nostr").signWithKeys(author)
    await wire.publish(JSON.parse(note.asJson()) as Event)
    const keys = Keys.generate()
    const request = EventBuilder.jobRequest(new Kind(5002))
      .tags([Tag.parse(["i", note.id.toHex(), "event"]), Tag.parse(["param", "language", "en"])])
      .signWithKeys(keys)
    const { id, replies } = await serve(request)
    const result = replies.filter((r) => r.kind === 6002).map(decoded)[0]
    assert.ok(result, "no 6002 result")
    assert.equal(result.kind, 6002)
    assert.equal(result.tag("e")?.[1], id)
    assert.deepEqual(result.tag("i"), ["i", note.id.toHex(), "event"])
    assert.equal(result.content, "Echo from llama3.2:1b: Translate the following text into English. Reply with the translation only. Hola desde rust-nostr")
  })
})
