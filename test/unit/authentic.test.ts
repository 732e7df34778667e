// Proves the door every relay event passes: exact NIP-01 shape, the id recomputed and compared
// exactly, the signature checked; authentic events with non-string values are told apart.
import assert from "node:assert/strict"
import { finalizeEvent, generateSecretKey } from "nostr-tools/pure"
import { checkEvent } from "../../src/dvm/protocol/authentic"
import { useWasmSignatures } from "../../src/dvm/protocol/signing"
import { signRaw } from "../support/rawEvent"

const secret = generateSecretKey()
const now = () => Math.floor(Date.now() / 1000)
const good = () => ({ ...finalizeEvent({ kind: 5050, created_at: now(), tags: [["i", "hello", "text"]], content: "" }, secret) })

describe("the door for relay events", () => {
  before(() => useWasmSignatures()) // as both hosts do; the WASM verifier is the loose one

  it("lets an event with the exact shape, id and signature through as a clean copy", () => {
    const event = good()
    const checked = checkEvent(event)
    assert.equal(checked._tag, "Authentic")
    if (checked._tag !== "Authentic") return
    assert.deepEqual(checked.event, { id: event.id, pubkey: event.pubkey, created_at: event.created_at, kind: 5050, tags: event.tags, content: "", sig: event.sig })
    assert.notEqual(checked.event, event)
  })

  const forgeries: Array<[string, (e: Record<string, unknown>) => void]> = [
    ["an empty id", (e) => (e.id = "")],
    ["a two-character id prefix", (e) => (e.id = (e.id as string).slice(0, 2))],
    ["an upper-case id", (e) => (e.id = (e.id as string).toUpperCase())],
    ["an id with a trailing newline", (e) => (e.id = `${e.id}\n`)],
    ["an upper-case pubkey", (e) => (e.pubkey = (e.pubkey as string).toUpperCase())],
    ["a pubkey with a newline", (e) => (e.pubkey = `${(e.pubkey as string).slice(0, 63)}\n`)],
    ["an upper-case sig", (e) => (e.sig = (e.sig as string).toUpperCase())],
    ["a short sig", (e) => (e.sig = (e.sig as string).slice(0, 126))],
    ["a changed content", (e) => (e.content = "changed")],
    ["a changed tag", (e) => (e.tags = [["i", "bye", "text"]])],
    ["a fractional kind", (e) => (e.kind = 5050.5)],
    ["a kind given as a string", (e) => (e.kind = "5050")],
    ["a negative created_at", (e) => (e.created_at = -1)],
    ["created_at as a string", (e) => (e.created_at = String(e.created_at))],
    ["tags that are not arrays", (e) => (e.tags = ["i"])],
    ["no content", (e) => delete e.content],
    ["a signature of another event", (e) => (e.sig = finalizeEvent({ kind: 1, created_at: now(), tags: [], content: "other" }, secret).sig)]
  ]
  for (const [name, spoil] of forgeries) {
    it(`drops ${name}`, () => {
      const event: Record<string, unknown> = good()
      spoil(event)
      assert.equal(checkEvent(event)._tag, "Forged")
    })
  }

  it("drops what is not an event object", () => {
    for (const raw of [null, 7, "event", [], undefined]) assert.equal(checkEvent(raw)._tag, "Forged")
  })

  it("tells an authentic event with a numeric tag value apart, handing on strings only", () => {
    const raw = signRaw({ kind: 5050, created_at: now(), tags: [["i", 42, "text"], ["param", "max_tokens", 5]], content: "" }, secret)
    const checked = checkEvent(raw)
    assert.equal(checked._tag, "Malformed")
    if (checked._tag !== "Malformed") return
    assert.match(checked.reason, /tag value must be a string/)
    assert.deepEqual(checked.event.tags, [["i", "42", "text"], ["param", "max_tokens", "5"]])
    assert.equal(checked.event.id, raw.id)
  })

  it("tells an authentic event with numeric content apart", () => {
    const checked = checkEvent(signRaw({ kind: 5050, created_at: now(), tags: [], content: 12 }, secret))
    assert.equal(checked._tag, "Malformed")
    if (checked._tag === "Malformed") assert.equal(checked.event.content, "12")
  })

  it("drops a numeric-tag event whose signature was made for other values", () => {
    const raw = signRaw({ kind: 5050, created_at: now(), tags: [["i", 42, "text"]], content: "" }, secret)
    raw.tags = [["i", 43, "text"]]
    assert.equal(checkEvent(raw)._tag, "Forged")
  })
})
