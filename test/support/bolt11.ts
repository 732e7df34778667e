/**
 * Real BOLT11 invoices for tests: encoded and signed with the `bolt11` package under a fixed node key
 * (so any BOLT11 decoder accepts them and the signature recovers to NODE_PUBLIC_KEY), decoded with
 * `light-bolt11-decoder` (the decoder the Spark SDK ships with).
 */
import { createHash, randomBytes } from "node:crypto"
import * as bolt11 from "bolt11"
import { decode } from "light-bolt11-decoder"

/** The stand-in node's secret key (hex). Fixed, so invoices from every test run share one payee. */
export const NODE_SECRET_KEY = "e126f68f7eafcc8b74f54d269fe206be715000f94dac067d1c04a8ca3b2db734"

export type InvoiceNetwork = "bc" | "tb" | "bcrt"

// bitcoinjs-style network descriptions, as `bolt11.encode` wants them.
const NETWORKS: Record<InvoiceNetwork, { bech32: string; pubKeyHash: number; scriptHash: number; validWitnessVersions: number[] }> = {
  bc: { bech32: "bc", pubKeyHash: 0x00, scriptHash: 0x05, validWitnessVersions: [0, 1] },
  tb: { bech32: "tb", pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] },
  bcrt: { bech32: "bcrt", pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] }
}

export interface MakeInvoiceOptions {
  readonly amountMsats: number
  readonly description?: string
  /** Hex SHA-256 of a long description (tag `h`), used instead of `description` when given. */
  readonly descriptionHash?: string
  /** Seconds the invoice can be paid, from its timestamp. Default 3600 (the BOLT11 default). */
  readonly expirySeconds?: number
  /** `bc` (mainnet, default), `tb` (testnet/signet) or `bcrt` (regtest). */
  readonly network?: InvoiceNetwork
  /** Unix seconds; default now. */
  readonly timestamp?: number
  /** Hex 32-byte preimage; default random. */
  readonly preimage?: string
}

export interface MadeInvoice {
  readonly invoice: string
  /** Hex SHA-256 of the preimage. */
  readonly paymentHash: string
  readonly preimage: string
  readonly timestamp: number
  readonly expiresAt: number
}

const sha256Hex = (data: Buffer): string => createHash("sha256").update(data).digest("hex")

export function makeInvoice(options: MakeInvoiceOptions): MadeInvoice {
  const { amountMsats } = options
  if (!Number.isSafeInteger(amountMsats) || amountMsats <= 0) {
    throw new Error(`invoice amount must be a positive whole number of msats, got ${amountMsats}`)
  }
  const expirySeconds = options.expirySeconds ?? 3600
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000)
  const preimage = options.preimage ?? randomBytes(32).toString("hex")
  const paymentHash = sha256Hex(Buffer.from(preimage, "hex"))
  const tags: Array<{ tagName: string; data: bolt11.TagData }> = [
    { tagName: "payment_hash", data: paymentHash },
    { tagName: "payment_secret", data: randomBytes(32).toString("hex") },
    options.descriptionHash !== undefined
      ? { tagName: "purpose_commit_hash", data: options.descriptionHash }
      : { tagName: "description", data: options.description ?? "" },
    { tagName: "expire_time", data: expirySeconds },
    { tagName: "min_final_cltv_expiry", data: 18 },
    {
      tagName: "feature_bits",
      data: { word_length: 4, var_onion_optin: { required: true, supported: true }, payment_secret: { required: true, supported: true } }
    }
  ]
  const unsigned = bolt11.encode({
    network: NETWORKS[options.network ?? "bc"],
    millisatoshis: String(amountMsats),
    timestamp,
    tags
  }, false)
  const signed = bolt11.sign(unsigned, NODE_SECRET_KEY)
  if (!signed.paymentRequest) throw new Error("bolt11.sign returned no payment request")
  return { invoice: signed.paymentRequest, paymentHash, preimage, timestamp, expiresAt: timestamp + expirySeconds }
}

/** The stand-in node's public key (hex, compressed), as recovered from any invoice's signature. */
export const NODE_PUBLIC_KEY: string = (() => {
  const probe = makeInvoice({ amountMsats: 1000, description: "probe", preimage: "00".repeat(32) })
  const key = bolt11.decode(probe.invoice).payeeNodeKey
  if (!key) throw new Error("could not recover the stand-in node key")
  return key
})()

export interface DecodedInvoice {
  /** Undefined for an invoice without an amount. */
  readonly amountMsats: number | undefined
  readonly paymentHash: string
  readonly description: string | undefined
  readonly timestamp: number
  readonly expirySeconds: number
  readonly expiresAt: number
  /** `bc`, `tb`, `bcrt`, ... */
  readonly network: string
}

/** Decodes without checking the signature (light-bolt11-decoder never does). */
export function decodeInvoice(invoice: string): DecodedInvoice {
  const { sections, expiry } = decode(invoice)
  let amountMsats: number | undefined
  let paymentHash: string | undefined
  let description: string | undefined
  let timestamp: number | undefined
  let network = ""
  for (const section of sections) {
    switch (section.name) {
      case "amount":
        amountMsats = Number(section.value)
        break
      case "payment_hash":
        paymentHash = section.value
        break
      case "description":
        description = section.value
        break
      case "timestamp":
        timestamp = section.value
        break
      case "coin_network":
        network = section.value?.bech32 ?? section.letters
        break
    }
  }
  if (paymentHash === undefined || timestamp === undefined) throw new Error("invoice has no payment hash or timestamp")
  return { amountMsats, paymentHash, description, timestamp, expirySeconds: expiry, expiresAt: timestamp + expiry, network }
}

/** The invoice's amount in msats; throws for an invoice without an amount. */
export function decodeInvoiceAmountMsats(invoice: string): number {
  const { amountMsats } = decodeInvoice(invoice)
  if (amountMsats === undefined) throw new Error("invoice has no amount")
  return amountMsats
}

/** Hex payment hash of a BOLT11 invoice. */
export function decodeInvoicePaymentHash(invoice: string): string {
  return decodeInvoice(invoice).paymentHash
}
