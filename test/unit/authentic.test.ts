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

describe("the door says why it dropped an event", () => {
  before(() => useWasmSignatures())

  const reasons: Array<[string, (e: Record<string, unknown>) => void, RegExp]> = [
    ["an empty id", (e) => (e.id = ""), /^id is not 64 lowercase hex$/],
    ["a numeric id", (e) => (e.id = 7), /^id is not 64 lowercase hex$/],
    ["an id with a character before it", (e) => (e.id = `0${e.id}`), /^id is not 64 lowercase hex$/],
    ["an id with a character after it", (e) => (e.id = `${e.id}0`), /^id is not 64 lowercase hex$/],
    ["an id given as an array of its hex", (e) => (e.id = [e.id]), /^id is not 64 lowercase hex$/],
    ["a pubkey given as an array of its hex", (e) => (e.pubkey = [e.pubkey]), /^pubkey is not 64 lowercase hex$/],
    ["a sig given as an array of its hex", (e) => (e.sig = [e.sig]), /^sig is not 128 lowercase hex$/],
    ["an empty pubkey", (e) => (e.pubkey = ""), /^pubkey is not 64 lowercase hex$/],
    ["a pubkey with a character before it", (e) => (e.pubkey = `0${e.pubkey}`), /^pubkey is not 64 lowercase hex$/],
    ["a pubkey with a character after it", (e) => (e.pubkey = `${e.pubkey}0`), /^pubkey is not 64 lowercase hex$/],
    ["a sig with a character before it", (e) => (e.sig = `0${e.sig}`), /^sig is not 128 lowercase hex$/],
    ["a sig with a character after it", (e) => (e.sig = `${e.sig}0`), /^sig is not 128 lowercase hex$/],
    ["a kind given as a string", (e) => (e.kind = "5050"), /^kind is not an integer in 0\.\.65535$/],
    ["a fractional kind", (e) => (e.kind = 5050.5), /^kind is not an integer in 0\.\.65535$/],
    ["a negative kind", (e) => (e.kind = -1), /^kind is not an integer in 0\.\.65535$/],
    ["kind 65536", (e) => (e.kind = 65536), /^kind is not an integer in 0\.\.65535$/],
    ["created_at as a string", (e) => (e.created_at = "1700000000"), /^created_at is not a whole number of seconds$/],
    ["a fractional created_at", (e) => (e.created_at = 1.5), /^created_at is not a whole number of seconds$/],
    ["a negative created_at", (e) => (e.created_at = -1), /^created_at is not a whole number of seconds$/],
    ["tags given as a string", (e) => (e.tags = "i"), /^tags is not an array of arrays$/],
    ["tags that are not arrays", (e) => (e.tags = ["i"]), /^tags is not an array of arrays$/],
    ["no content", (e) => delete e.content, /^content is missing$/],
    ["a content field that is undefined", (e) => (e.content = undefined), /^content is missing$/],
    ["a tag value JSON cannot serialise", (e) => (e.tags = [[BigInt(1)]]), /^cannot be serialised$/],
    ["a changed content", (e) => (e.content = "changed"), /^id does not match the event$/],
    ["a signature of another event", (e) => (e.sig = finalizeEvent({ kind: 1, created_at: now(), tags: [], content: "other" }, secret).sig), /^signature does not verify$/]
  ]
  for (const [name, spoil, reason] of reasons) {
    it(`drops ${name}: ${reason.source}`, () => {
      const event: Record<string, unknown> = good()
      spoil(event)
      const checked = checkEvent(event)
      if (checked._tag !== "Forged") assert.fail(`expected Forged, got ${checked._tag}`)
      assert.match(checked.reason, reason)
    })
  }

  it("drops what is not an event object, saying so", () => {
    for (const raw of [null, 7, []]) {
      const checked = checkEvent(raw)
      assert.deepEqual(checked, { _tag: "Forged", reason: "not an object" })
    }
  })

  it("lets the extremes of kind and created_at through (kind 0 and 65535, created_at 0)", () => {
    for (const [kind, created_at] of [[0, 0], [65535, 0], [65535, now()]] as const) {
      const event = finalizeEvent({ kind, created_at, tags: [], content: "" }, secret)
      assert.equal(checkEvent({ ...event })._tag, "Authentic", `kind ${kind}, created_at ${created_at}`)
    }
  })

  it("marks an event malformed when any one tag holds a non-string, the others being strings", () => {
    const raw = signRaw({ kind: 5050, created_at: now(), tags: [["i", "hello", "text"], ["param", "max_tokens", 5]], content: "" }, secret)
    const checked = checkEvent(raw)
    if (checked._tag !== "Malformed") assert.fail(`expected Malformed, got ${checked._tag}`)
    assert.equal(checked.reason, "every tag value must be a string")
    assert.deepEqual(checked.event.tags, [["i", "hello", "text"], ["param", "max_tokens", "5"]])
  })

  it("says when the content is what is not a string, and hands on objects as their JSON", () => {
    const checked = checkEvent(signRaw({ kind: 5050, created_at: now(), tags: [["x", { a: 1 }]], content: { b: [2] } }, secret))
    if (checked._tag !== "Malformed") assert.fail(`expected Malformed, got ${checked._tag}`)
    assert.equal(checked.reason, "content is not a string")
    assert.equal(checked.event.content, '{"b":[2]}')
    assert.deepEqual(checked.event.tags, [["x", '{"a":1}']])
  })
})
