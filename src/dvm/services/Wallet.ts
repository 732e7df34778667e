/**
 * The wallet that bills jobs: creates Lightning invoices and says, from its own records, whether
 * one was paid. Implementations: SparkWallet.ts (its SDK loaded on first use) and NwcWallet.ts
 * (any NIP-47 wallet); `sellCompute.wallet.backend` picks one (walletLayer.ts).
 */
import { Context, type Effect, type Stream } from "effect"
import type { WalletError } from "../errors"

export interface InvoiceRequest {
  readonly amountSats: number
  readonly memo: string
  readonly expirySeconds: number
}

export type WalletBackend = "spark" | "nwc"

export interface IssuedInvoice {
  /** The wallet's own id for the invoice (Spark: receive request id; NWC: payment hash). */
  readonly id: string
  readonly bolt11: string
  readonly amountSats: number
  /** Unix seconds. */
  readonly expiresAt: number
  /** The backend that issued it, the only one that can say whether it was paid. */
  readonly backend?: WalletBackend
}

/**
 * What the wallet says of an invoice: "pending" is a payment seen but not complete (it is never
 * expired while so); "expired" is the wallet's own word. An unpaid invoice past its expiry is
 * Settlement's to expire, after a grace: the wallet does not judge by the clock.
 */
export type InvoiceStatus = "unpaid" | "pending" | "paid" | "expired"

export interface WalletStatus {
  readonly backend: string
  readonly ready: boolean
  readonly balanceSats?: number
  /** Where the wallet can be paid directly (Spark address), for the panel. */
  readonly address?: string
  /** Why the wallet is not ready, for a person. */
  readonly error?: string
}

/**
 * A hint that funds may have arrived: with `invoiceId`, for that invoice (an NWC payment_received
 * notification); without, for any (Spark's transfer:claimed). A cue only prompts a check with the
 * wallet; it never marks anything paid.
 */
export interface WalletCue {
  readonly invoiceId?: string
}

export class Wallet extends Context.Service<Wallet, {
  readonly status: Effect.Effect<WalletStatus>
  readonly createInvoice: (request: InvoiceRequest) => Effect.Effect<IssuedInvoice, WalletError>
  readonly invoiceStatus: (invoice: IssuedInvoice) => Effect.Effect<InvoiceStatus, WalletError>
  /** The backend selected now; a wallet without it checks every invoice (tests' stand-ins). */
  readonly backend?: Effect.Effect<WalletBackend>
  /** Cues that funds may have arrived: Settlement checks the named invoice (or some open ones) soon. */
  readonly incoming: Stream.Stream<WalletCue>
  /** Drops the connection, so a new secret or backend is used from the next call on. */
  readonly reset: Effect.Effect<void>
}>()("sellCompute/Wallet") {}
