/**
 * NIP-90 encrypted requests: the `i`/`param` tags travel as an encrypted JSON array in `content`.
 * The spec says NIP-04; NDK and newer clients send NIP-44. We detect which, decrypt with our key
 * and answer in the same scheme.
 */
import * as nip04 from "nostr-tools/nip04"
import * as nip44 from "nostr-tools/nip44"

export type EncryptionScheme = "nip04" | "nip44"

/** NIP-04 ciphertext is `base64?iv=base64`; NIP-44 is a single base64 payload. */
export const detectScheme = (ciphertext: string): EncryptionScheme =>
  ciphertext.includes("?iv=") ? "nip04" : "nip44"

export const encryptFor = (
  scheme: EncryptionScheme,
  secretKey: Uint8Array,
  peerPubkey: string,
  plaintext: string
): string =>
  scheme === "nip04"
    ? nip04.encrypt(secretKey, peerPubkey, plaintext)
    : nip44.encrypt(plaintext, nip44.getConversationKey(secretKey, peerPubkey))

export const decryptFrom = (
  scheme: EncryptionScheme,
  secretKey: Uint8Array,
  peerPubkey: string,
  ciphertext: string
): string =>
  scheme === "nip04"
    ? nip04.decrypt(secretKey, peerPubkey, ciphertext)
    : nip44.decrypt(ciphertext, nip44.getConversationKey(secretKey, peerPubkey))
