/**
 * The door every event from a relay passes before anything trusts it: the NIP-01 shape (lowercase
 * hex id, pubkey and signature; integer kind and created_at), the id recomputed from the canonical
 * serialisation and required to be exactly equal, then the signature. Downstream code (dedupe,
 * history, cancellation, admission) keys on these verified values only.
 *
 * An event whose tags or content are not strings but whose id and signature hold is "Malformed":
 * authentic (its author signed exactly that), so it can be answered with an error, but handed on
 * only as a copy with string values, never as what arrived.
 */
import { createHash } from "node:crypto"
import { schnorr } from "@noble/curves/secp256k1.js"
import { hexToBytes } from "nostr-tools/utils"
import type { NostrEvent } from "./nostrEvent"
import { verifySignature } from "./signing"

export type EventCheck =
  | { readonly _tag: "Authentic"; readonly event: NostrEvent }
  | { readonly _tag: "Malformed"; readonly event: NostrEvent; readonly reason: string }
  | { readonly _tag: "Forged"; readonly reason: string }

const HEX64 = /^[0-9a-f]{64}$/
const HEX128 = /^[0-9a-f]{128}$/
const MAX_KIND = 65535

const forged = (reason: string): EventCheck => ({ _tag: "Forged", reason })

/** NIP-01's canonical serialisation, of the values exactly as they arrived. */
export const canonicalId = (event: { pubkey: string; created_at: number; kind: number; tags: unknown; content: unknown }): string =>
  createHash("sha256")
    .update(JSON.stringify([0, event.pubkey, event.created_at, event.kind, event.tags, event.content]))
    .digest("hex")

const isStringTag = (tag: unknown): tag is Array<string> => Array.isArray(tag) && tag.every((v) => typeof v === "string")

export const checkEvent = (raw: unknown): EventCheck => {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return forged("not an object")
  const e = raw as Record<string, unknown>
  if (typeof e.id !== "string" || !HEX64.test(e.id)) return forged("id is not 64 lowercase hex")
  if (typeof e.pubkey !== "string" || !HEX64.test(e.pubkey)) return forged("pubkey is not 64 lowercase hex")
  if (typeof e.sig !== "string" || !HEX128.test(e.sig)) return forged("sig is not 128 lowercase hex")
  if (typeof e.kind !== "number" || !Number.isInteger(e.kind) || e.kind < 0 || e.kind > MAX_KIND) return forged("kind is not an integer in 0..65535")
  if (typeof e.created_at !== "number" || !Number.isSafeInteger(e.created_at) || e.created_at < 0) return forged("created_at is not a whole number of seconds")
  if (!Array.isArray(e.tags) || !e.tags.every((t) => Array.isArray(t))) return forged("tags is not an array of arrays")
  if (!("content" in e) || e.content === undefined) return forged("content is missing")
  const shaped = { pubkey: e.pubkey, created_at: e.created_at, kind: e.kind, tags: e.tags, content: e.content }
  let id: string
  try {
    id = canonicalId(shaped)
  } catch {
    return forged("cannot be serialised") // a cycle or a BigInt cannot come off the wire, but never throw here
  }
  if (id !== e.id) return forged("id does not match the event")
  const tags = e.tags as Array<Array<unknown>>
  const wellTyped = typeof e.content === "string" && tags.every(isStringTag)
  const event: NostrEvent = {
    id,
    pubkey: e.pubkey,
    created_at: e.created_at,
    kind: e.kind,
    tags: wellTyped ? (tags as Array<Array<string>>).map((t) => [...t]) : tags.map((t) => t.map(stringOf)),
    content: typeof e.content === "string" ? e.content : stringOf(e.content),
    sig: e.sig
  }
  // The signature is over the id, which is now exactly the hash of what arrived. Well-typed events go
  // through the fast verifier (WASM in the hosts); the rare malformed one straight to schnorr over the
  // id, as the verifiers refuse to serialise non-string values themselves.
  const signed = wellTyped ? verifySignature(event) : schnorrValid(e.sig, id, e.pubkey)
  if (!signed) return forged("signature does not verify")
  if (wellTyped) return { _tag: "Authentic", event }
  return {
    _tag: "Malformed",
    event,
    reason: typeof e.content !== "string" ? "content is not a string" : "every tag value must be a string"
  }
}

const stringOf = (value: unknown): string => (typeof value === "string" ? value : JSON.stringify(value) ?? String(value))

const schnorrValid = (sig: string, id: string, pubkey: string): boolean => {
  try {
    return schnorr.verify(hexToBytes(sig), hexToBytes(id), hexToBytes(pubkey))
  } catch {
    return false // a pubkey that is not on the curve
  }
}
