/**
 * Signing and verification, in one place so the implementation can be swapped: nostr-tools' pure
 * JavaScript by default, libsecp256k1 in WASM (≈8× faster here) once `useWasmSignatures` ran.
 */
import { initNostrWasm } from "nostr-wasm"
import * as pure from "nostr-tools/pure"
import * as wasm from "nostr-tools/wasm"
import type { EventTemplate, NostrEvent } from "./nostrEvent"

let impl: Pick<typeof pure, "finalizeEvent" | "verifyEvent"> = pure
let loading: Promise<void> | undefined

export const useWasmSignatures = (): Promise<void> =>
  (loading ??= initNostrWasm().then((nostrWasm) => {
    wasm.setNostrWasm(nostrWasm)
    impl = wasm
  }))

export const signEvent = (template: EventTemplate, secretKey: Uint8Array): NostrEvent =>
  impl.finalizeEvent({ ...template, tags: template.tags.map((t) => [...t]) }, secretKey)

/** Checks id and signature of a fresh copy (nostr-tools caches a verdict on the object it saw). */
export const verifySignature = (event: NostrEvent): boolean =>
  impl.verifyEvent({
    id: event.id,
    pubkey: event.pubkey,
    created_at: event.created_at,
    kind: event.kind,
    tags: event.tags.map((t) => [...t]),
    content: event.content,
    sig: event.sig
  })
