// Proves the shape of what the provider publishes (7000 feedback, 6050 result, 31990 announcement,
// kind 5 withdrawal), and that signEvent / verifySignature sign and check them.
import assert from "node:assert/strict"
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure"
import type { CatalogueModel } from "../../src/dvm/catalogue"
import { type Config, defaultConfig } from "../../src/dvm/config"
import { encryptFor } from "../../src/dvm/protocol/encryption"
import {
  DELETION_KIND,
  FEEDBACK_KIND,
  feedbackEvent,
  HANDLER_D_TAG,
  HANDLER_INFO_KIND,
  handlerAddress,
  handlerDeletionEvent,
  handlerInfoEvent,
  HEARTBEAT_KIND,
  HEARTBEAT_TTL_S,
  heartbeatEvent,
  refOf,
  resultEvent,
  resultKindFor
} from "../../src/dvm/protocol/events"
import { type JobRequest, type ParseContext, parseJobRequest } from "../../src/dvm/protocol/jobRequest"
import type { EventTemplate, NostrEvent } from "../../src/dvm/protocol/nostrEvent"
import { signEvent, verifySignature } from "../../src/dvm/protocol/signing"

const providerSecret = generateSecretKey()
const providerPubkey = getPublicKey(providerSecret)
const customerSecret = generateSecretKey()
const customerPubkey = getPublicKey(customerSecret)
const ctx: ParseContext = { ourPubkey: providerPubkey, ourSecretKey: providerSecret, supportedKinds: [5050] }

const BOLT11 = "lnbc30n1pjexampleinvoice"

const requestEvent = (tags: Array<Array<string>>, content = ""): NostrEvent =>
  finalizeEvent({ kind: 5050, created_at: Math.floor(Date.now() / 1000), tags, content }, customerSecret)

const jobOf = (event: NostrEvent): JobRequest => {
  const parsed = parseJobRequest(event, ctx)
  if (parsed._tag !== "Job") assert.fail(`test request did not parse: ${JSON.stringify(parsed)}`)
  return parsed.job
}

const tagsNamed = (template: EventTemplate | NostrEvent, name: string) => template.tags.filter((t) => t[0] === name)

/** A fresh object built from the 7 fields, with some of them replaced. */
const copyWith = (event: NostrEvent, changes: Partial<NostrEvent>): NostrEvent => ({
  id: event.id,
  pubkey: event.pubkey,
  created_at: event.created_at,
  kind: event.kind,
  tags: event.tags.map((t) => [...t]),
  content: event.content,
  sig: event.sig,
  ...changes
})

/** Signs the template, checks it verifies, and that a copy with other content does not. */
const assertSignsAndVerifies = (template: EventTemplate): NostrEvent => {
  const signed = signEvent(template, providerSecret)
  assert.equal(signed.pubkey, providerPubkey)
  assert.equal(signed.kind, template.kind)
  assert.deepEqual(signed.tags, template.tags)
  assert.equal(signed.content, template.content)
  assert.match(signed.id, /^[0-9a-f]{64}$/)
  assert.match(signed.sig, /^[0-9a-f]{128}$/)
  assert.equal(verifySignature(signed), true)
  assert.equal(verifySignature(copyWith(signed, { content: `${signed.content} (changed)` })), false)
  return signed
}

const assertRecent = (createdAt: number) => {
  const now = Math.floor(Date.now() / 1000)
  assert.ok(Number.isInteger(createdAt) && Math.abs(createdAt - now) <= 5, `created_at ${createdAt} is not now (${now})`)
}

describe("events: feedbackEvent (kind 7000)", () => {
  const ref = { id: "a".repeat(64), customer: customerPubkey }

  it("carries status, e and p tags and nothing else by default", () => {
    const template = feedbackEvent(ref, "processing")
    assert.equal(template.kind, FEEDBACK_KIND)
    assert.equal(template.kind, 7000)
    assert.deepEqual(template.tags, [["status", "processing"], ["e", ref.id], ["p", customerPubkey]])
    assert.equal(template.content, "")
    assertRecent(template.created_at)
    assertSignsAndVerifies(template)
  })

  it("puts the extra text as the status tag's third element", () => {
    const template = feedbackEvent(ref, "error", { extra: "param temperature is not valid" })
    assert.deepEqual(tagsNamed(template, "status"), [["status", "error", "param temperature is not valid"]])
    assertSignsAndVerifies(template)
  })

  it("adds an amount tag with msats and bolt11", () => {
    const template = feedbackEvent(ref, "payment-required", { invoice: { amountMsats: 3000, bolt11: BOLT11 } })
    assert.deepEqual(tagsNamed(template, "amount"), [["amount", "3000", BOLT11]])
    assertSignsAndVerifies(template)
  })

  it("adds an amount tag without bolt11 when there is no invoice string", () => {
    const template = feedbackEvent(ref, "payment-required", { invoice: { amountMsats: 21000 } })
    assert.deepEqual(tagsNamed(template, "amount"), [["amount", "21000"]])
  })

  it("carries a partial sample in content", () => {
    const template = feedbackEvent(ref, "partial", { content: "Once upon a" })
    assert.equal(template.content, "Once upon a")
    assert.deepEqual(tagsNamed(template, "status"), [["status", "partial"]])
  })

  it("refOf addresses feedback to the request's id and author", () => {
    const event = requestEvent([["i", "hi", "text"]])
    assert.deepEqual(refOf(event), { id: event.id, customer: customerPubkey })
    const template = feedbackEvent(refOf(event), "success")
    assert.deepEqual(tagsNamed(template, "e"), [["e", event.id]])
    assert.deepEqual(tagsNamed(template, "p"), [["p", customerPubkey]])
  })
})

describe("events: resultEvent (kind 6050)", () => {
  it("for a plain job: request JSON, e with relay hint, echoed i tags, p customer, amount with bolt11", () => {
    const event = requestEvent([["i", "first", "text"], ["i", "second", "text"], ["param", "model", "llama3.2"]])
    const job = jobOf(event)
    const template = resultEvent(job, "the output", { amountMsats: 3000, bolt11: BOLT11 }, "wss://relay.example.com")

    assert.equal(template.kind, resultKindFor(5050))
    assert.equal(template.kind, 6050)
    assert.equal(template.content, "the output")
    assertRecent(template.created_at)

    const requestTags = tagsNamed(template, "request")
    assert.equal(requestTags.length, 1)
    const requestJson = requestTags[0]?.[1]
    assert.ok(requestJson !== undefined)
    assert.deepEqual(JSON.parse(requestJson), copyWith(event, {}))

    assert.deepEqual(tagsNamed(template, "e"), [["e", event.id, "wss://relay.example.com"]])
    assert.deepEqual(tagsNamed(template, "i"), [["i", "first", "text"], ["i", "second", "text"]])
    assert.deepEqual(tagsNamed(template, "p"), [["p", customerPubkey]])
    assert.deepEqual(tagsNamed(template, "amount"), [["amount", "3000", BOLT11]])
    assert.deepEqual(tagsNamed(template, "encrypted"), [])
    assertSignsAndVerifies(template)
  })

  it("the request tag parses back to an event that still verifies", () => {
    const event = requestEvent([["i", "check me", "text"]])
    const template = resultEvent(jobOf(event), "ok", { amountMsats: 1000 })
    const parsed = JSON.parse(tagsNamed(template, "request")[0]?.[1] ?? "null") as NostrEvent
    assert.equal(verifySignature(parsed), true)
  })

  it("has an e tag without relay hint when none is given, and no amount when nothing is owed (free, prepaid)", () => {
    const event = requestEvent([["i", "hi", "text"]])
    const template = resultEvent(jobOf(event), "out", undefined)
    assert.deepEqual(tagsNamed(template, "e"), [["e", event.id]])
    assert.deepEqual(tagsNamed(template, "amount"), [])
  })

  it("echoes no i tags for a prompt given only in content", () => {
    const template = resultEvent(jobOf(requestEvent([], "content prompt")), "out", { amountMsats: 1000 })
    assert.deepEqual(tagsNamed(template, "i"), [])
  })

  it("for an encrypted job: no i tags, and an encrypted tag", () => {
    const hidden = JSON.stringify([["i", "a secret prompt", "text"]])
    const event = requestEvent(
      [["p", providerPubkey], ["encrypted"]],
      encryptFor("nip44", customerSecret, providerPubkey, hidden)
    )
    const job = jobOf(event)
    assert.equal(job.encryption, "nip44")
    const encryptedOutput = encryptFor("nip44", providerSecret, customerPubkey, "secret output")
    const template = resultEvent(job, encryptedOutput, { amountMsats: 3000, bolt11: BOLT11 })

    assert.equal(template.kind, 6050)
    assert.equal(template.content, encryptedOutput)
    assert.deepEqual(tagsNamed(template, "i"), [])
    assert.deepEqual(tagsNamed(template, "encrypted"), [["encrypted"]])
    assert.deepEqual(tagsNamed(template, "p"), [["p", customerPubkey]])
    assert.deepEqual(tagsNamed(template, "e"), [["e", event.id]])
    assert.deepEqual(tagsNamed(template, "amount"), [["amount", "3000", BOLT11]])
    assert.ok(!JSON.stringify(template.tags).includes("a secret prompt"), "the cleartext prompt must not leak into tags")
    assertSignsAndVerifies(template)
  })
})

describe("events: handlerInfoEvent (kind 31990)", () => {
  const models: ReadonlyArray<CatalogueModel> = [
    { name: "llama3.2:1b", parameterSize: "1.2B", contextLength: 131072, pricePer1kTokens: 1.5 },
    { name: "qwen2.5:0.5b", pricePer1kTokens: 0.1 }
  ]
  const contentOf = (config: Config, offered: ReadonlyArray<CatalogueModel> = models) =>
    JSON.parse(handlerInfoEvent(config, offered).content) as Record<string, any>

  it("has our d tag and one k tag for each kind served (all three by default)", () => {
    const template = handlerInfoEvent(defaultConfig, models)
    assert.equal(template.kind, HANDLER_INFO_KIND)
    assert.equal(template.kind, 31990)
    assert.deepEqual(tagsNamed(template, "d"), [["d", HANDLER_D_TAG]])
    assert.deepEqual(tagsNamed(template, "k"), [["k", "5050"], ["k", "5001"], ["k", "5002"]])
    assertRecent(template.created_at)
    assertSignsAndVerifies(template)
  })

  it("has exactly the k tags of the kinds set", () => {
    const config = { ...defaultConfig, supportedJobKinds: [5050, 5001] } as unknown as Config
    assert.deepEqual(tagsNamed(handlerInfoEvent(config, models), "k"), [["k", "5050"], ["k", "5001"]])
  })

  it("names, describes and pictures the provider from the profile settings", () => {
    const content = contentOf({ ...defaultConfig, "profile.name": "Ada's GPU", "profile.about": "Fast and cheap", "profile.picture": "https://example.com/ada.png" })
    assert.equal(content.name, "Ada's GPU")
    assert.equal(content.about, "Fast and cheap")
    assert.equal(content.picture, "https://example.com/ada.png")
    assert.equal(content.image, "https://example.com/ada.png", "the spelling nostrdvm writes too")
    const plain = contentOf(defaultConfig)
    assert.equal(plain.name, "Sell Compute")
    assert.equal("picture" in plain, false, "no picture key without a picture")
  })

  it("lists the catalogue: every model offered, its size, context and price in msats", () => {
    const content = contentOf({ ...defaultConfig, "textGeneration.maxTokens": 1024 })
    assert.deepEqual(content.nip90Params.model, { required: false, values: ["llama3.2:1b", "qwen2.5:0.5b"] })
    assert.equal(content.nip90Params.max_tokens.max, 1024)
    assert.deepEqual(content.models, [
      { name: "llama3.2:1b", parameterSize: "1.2B", contextLength: 131072, pricePer1kTokens: 1500 },
      { name: "qwen2.5:0.5b", pricePer1kTokens: 100 }
    ])
    assert.deepEqual(contentOf(defaultConfig, []).nip90Params.model.values, [])
  })

  it("prices in msats with the amount clients' cards show: the minimum in sats, or free", () => {
    const paid = contentOf({ ...defaultConfig, "pricing.minPriceSats": 5, "pricing.pricePer1kTokens": 1.1, "payment.mode": "pay-first" })
    assert.deepEqual(paid.pricing, { unit: "msats", paymentMode: "pay-first", minPrice: 5000, pricePer1kTokens: 1100 })
    assert.equal(paid.amount, "5")
    const free = contentOf({ ...defaultConfig, "pricing.minPriceSats": 5, "payment.mode": "free" })
    assert.equal(free.amount, "free")
    assert.deepEqual(free.pricing, { unit: "msats", paymentMode: "free", minPrice: 0, pricePer1kTokens: 0 })
    assert.deepEqual(free.models.map((m: { pricePer1kTokens: number }) => m.pricePer1kTokens), [0, 0])
  })

  it("says encryption is supported in both spellings, and both schemes", () => {
    const content = contentOf(defaultConfig)
    assert.equal(content.encryptionSupported, true)
    assert.equal(content.supportsEncryption, true, "the spelling nostrdvm reads")
    assert.deepEqual(content.encryptionSchemes, ["nip04", "nip44"])
  })

  it("lists length and language params only for the kinds that take them", () => {
    assert.deepEqual(Object.keys(contentOf(defaultConfig).nip90Params).sort(), ["frequency_penalty", "language", "length", "max_tokens", "model", "temperature", "top_k", "top_p"])
    assert.deepEqual(contentOf(defaultConfig).nip90Params.length, { required: false, values: [], kind: 5001 })
    assert.deepEqual(contentOf(defaultConfig).nip90Params.language, { required: false, values: [], kind: 5002 })
    const only5050 = contentOf({ ...defaultConfig, supportedJobKinds: [5050] })
    assert.deepEqual(Object.keys(only5050.nip90Params).sort(), ["frequency_penalty", "max_tokens", "model", "temperature", "top_k", "top_p"])
  })
})

describe("events: handlerDeletionEvent (kind 5)", () => {
  it("deletes by address 31990:<pubkey>:<d>", () => {
    const template = handlerDeletionEvent(providerPubkey)
    assert.equal(template.kind, DELETION_KIND)
    assert.equal(template.kind, 5)
    assert.equal(handlerAddress(providerPubkey), `31990:${providerPubkey}:${HANDLER_D_TAG}`)
    assert.deepEqual(tagsNamed(template, "a"), [["a", `31990:${providerPubkey}:${HANDLER_D_TAG}`]])
    assert.deepEqual(tagsNamed(template, "e"), [])
    assert.deepEqual(tagsNamed(template, "k"), [["k", "31990"]])
    assertRecent(template.created_at)
    assertSignsAndVerifies(template)
  })

  it("also deletes by id when the announcement id is given", () => {
    const announcement = signEvent(handlerInfoEvent(defaultConfig, []), providerSecret)
    const template = handlerDeletionEvent(providerPubkey, announcement.id)
    assert.deepEqual(tagsNamed(template, "a"), [["a", `31990:${providerPubkey}:${HANDLER_D_TAG}`]])
    assert.deepEqual(tagsNamed(template, "e"), [["e", announcement.id]])
    assertSignsAndVerifies(template)
  })
})

describe("signing: signEvent / verifySignature", () => {
  const template = (): EventTemplate => ({ kind: 7000, created_at: 1_700_000_000, tags: [["status", "success"]], content: "x" })

  it("verifies a signed event given as a fresh copy", () => {
    const signed = signEvent(template(), providerSecret)
    assert.equal(verifySignature(copyWith(signed, {})), true)
  })

  it("rejects a copy with changed tags, kind, created_at or pubkey", () => {
    const signed = signEvent(template(), providerSecret)
    assert.equal(verifySignature(copyWith(signed, { tags: [["status", "error"]] })), false)
    assert.equal(verifySignature(copyWith(signed, { kind: 7001 })), false)
    assert.equal(verifySignature(copyWith(signed, { created_at: signed.created_at + 1 })), false)
    assert.equal(verifySignature(copyWith(signed, { pubkey: customerPubkey })), false)
  })

  it("rejects a copy whose id was recomputed by someone else's key (wrong sig)", () => {
    const mine = signEvent(template(), providerSecret)
    const theirs = signEvent({ ...template(), content: "y" }, customerSecret)
    assert.equal(verifySignature(copyWith(mine, { sig: theirs.sig })), false)
  })

  it("verifies again after a tampered copy was checked (no cached verdict on the original)", () => {
    const signed = signEvent(template(), providerSecret)
    assert.equal(verifySignature(copyWith(signed, { content: "tampered" })), false)
    assert.equal(verifySignature(signed), true)
  })

  it("does not share tag arrays between the template and the signed event", () => {
    const t = template()
    const signed = signEvent(t, providerSecret)
    t.tags[0]?.push("mutated")
    assert.deepEqual(signed.tags, [["status", "success"]])
    assert.equal(verifySignature(signed), true)
  })
})

describe("events: what the earlier tests leave unstated", () => {
  it("marks feedback whose content is encrypted to the customer with an encrypted tag", () => {
    const ref = { id: "b".repeat(64), customer: customerPubkey }
    const template = feedbackEvent(ref, "error", { extra: "invalid request", content: "ciphertext", encrypted: true })
    assert.deepEqual(template.tags, [["status", "error", "invalid request"], ["e", ref.id], ["p", customerPubkey], ["encrypted"]])
    assert.deepEqual(tagsNamed(feedbackEvent(ref, "error", { encrypted: false }), "encrypted"), [])
  })

  it("announces under the d tag sell-compute, every param optional and open", () => {
    const template = handlerInfoEvent({ ...defaultConfig, supportedJobKinds: [5050], "textGeneration.maxTokens": 700 }, [{ name: "m", pricePer1kTokens: 1 }])
    assert.equal(HANDLER_D_TAG, "sell-compute")
    assert.deepEqual(JSON.parse(template.content).nip90Params, {
      model: { required: false, values: ["m"] },
      max_tokens: { required: false, values: [], max: 700 },
      temperature: { required: false, values: [] },
      top_k: { required: false, values: [] },
      top_p: { required: false, values: [] },
      frequency_penalty: { required: false, values: [] }
    })
  })

  it("announces streaming (partial results) only when its interval is above 0", () => {
    const streaming = (intervalMs: number) =>
      JSON.parse(handlerInfoEvent({ ...defaultConfig, "streaming.intervalMs": intervalMs } as Config, []).content).streaming
    assert.equal(streaming(2000), true)
    assert.equal(streaming(1), true)
    assert.equal(streaming(0), false)
  })

  it("withdraws the announcement saying the provider is going offline", () => {
    assert.equal(handlerDeletionEvent(providerPubkey).content, "Provider going offline")
  })

  it("beats (kind 11998) pointing at our announcement, expiring when clients stop trusting it", () => {
    const template = heartbeatEvent(providerPubkey, 2)
    assert.equal(template.kind, HEARTBEAT_KIND)
    assert.equal(template.kind, 11998)
    assertRecent(template.created_at)
    assert.deepEqual(template.tags, [
      ["d", HANDLER_D_TAG],
      ["a", `31990:${providerPubkey}:${HANDLER_D_TAG}`],
      ["expiration", String(template.created_at + HEARTBEAT_TTL_S)]
    ])
    assert.equal(HEARTBEAT_TTL_S, 900)
    assert.deepEqual(JSON.parse(template.content), { status: "online", activeJobs: 2 })
    assertSignsAndVerifies(template)
  })
})
