/**
 * Signs an event exactly as given, even with values NIP-01 does not allow (numeric tags, numeric
 * content): what a hostile or sloppy client can put on the wire with a valid id and signature.
 */
import { schnorr } from "@noble/curves/secp256k1.js"
import { bytesToHex, hexToBytes } from "nostr-tools/utils"
import { getPublicKey } from "nostr-tools/pure"
import { canonicalId } from "../../src/dvm/protocol/authentic"

export interface RawFields {
  readonly kind: number
  readonly created_at: number
  readonly tags: unknown
  readonly content: unknown
}

export const signRaw = (fields: RawFields, secretKey: Uint8Array): Record<string, unknown> => {
  const pubkey = getPublicKey(secretKey)
  const id = canonicalId({ ...fields, pubkey })
  const sig = bytesToHex(schnorr.sign(hexToBytes(id), secretKey))
  return { id, pubkey, created_at: fields.created_at, kind: fields.kind, tags: fields.tags, content: fields.content, sig }
}
