/**
 * The customer the self-test plays: a key derived from the provider's own (so any process holding
 * the provider's key, the host or `cli.js self-test`, gets the same one, and nobody else can), served
 * free and kept out of earnings by the pipeline. Never stored, never a secret worth keeping.
 */
import { createHash } from "node:crypto"
import { getPublicKey } from "nostr-tools/pure"

const LABEL = "sell-compute self-test customer v1"

export const selfTestSecretKey = (providerSecretKey: Uint8Array): Uint8Array =>
  new Uint8Array(createHash("sha256").update(LABEL).update(providerSecretKey).digest())

export const selfTestPubkey = (providerSecretKey: Uint8Array): string => getPublicKey(selfTestSecretKey(providerSecretKey))
