/** A provider's Nostr identity: parsing a secret key given as hex or nsec, and showing it as npub. */
import { generateSecretKey, getPublicKey } from "nostr-tools/pure"
import * as nip19 from "nostr-tools/nip19"
import { bytesToHex, hexToBytes } from "nostr-tools/utils"

export interface Keys {
  readonly secretKey: Uint8Array
  readonly pubkey: string
  readonly npub: string
}

export const keysFromSecret = (secretKey: Uint8Array): Keys => {
  const pubkey = getPublicKey(secretKey)
  return { secretKey, pubkey, npub: nip19.npubEncode(pubkey) }
}

export const generateKeys = (): Keys => keysFromSecret(generateSecretKey())

/** A secret key must be a scalar in [1, n-1] of secp256k1; deriving its public key checks that. */
const inCurveRange = (secretKey: Uint8Array): Uint8Array | { readonly error: string } => {
  try {
    getPublicKey(secretKey)
    return secretKey
  } catch {
    return { error: "not a valid secp256k1 secret key (out of range)" }
  }
}

/** Accepts 64 hex characters or an nsec; the error never repeats the input. */
export const parseSecretKey = (text: string): Uint8Array | { readonly error: string } => {
  const trimmed = text.trim()
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return inCurveRange(hexToBytes(trimmed.toLowerCase()))
  if (trimmed.startsWith("nsec1")) {
    try {
      const decoded = nip19.decode(trimmed)
      if (decoded.type === "nsec") return inCurveRange(decoded.data)
    } catch {
      // fall through to the message below
    }
    return { error: "not a valid nsec (checksum or length is wrong)" }
  }
  return { error: "expected 64 hex characters or an nsec1… key" }
}

export const secretKeyToHex = (secretKey: Uint8Array): string => bytesToHex(secretKey)

/** A public key as hex, from hex or an npub (settings accept both). */
export const hexPubkey = (text: string): string => {
  const key = text.trim()
  if (!key.startsWith("npub1")) return key.toLowerCase()
  try {
    const decoded = nip19.decode(key)
    return decoded.type === "npub" ? decoded.data : key
  } catch {
    return key // a mistyped npub matches no one
  }
}
