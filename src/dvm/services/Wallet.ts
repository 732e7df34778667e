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

export interface IssuedInvoice {
  /** The wallet's own id for the invoice (Spark: receive request id; NWC: payment hash). */
  readonly id: string
  readonly bolt11: string
  readonly amountSats: number
  /** Unix seconds. */
  readonly expiresAt: number
}

export type InvoiceStatus = "unpaid" | "paid" | "expired"

export interface WalletStatus {
  readonly backend: string
  readonly ready: boolean
  readonly balanceSats?: number
  /** Where the wallet can be paid directly (Spark address), for the panel. */
  readonly address?: string
  /** Why the wallet is not ready, for a person. */
  readonly error?: string
}

export class Wallet extends Context.Service<Wallet, {
  readonly status: Effect.Effect<WalletStatus>
  readonly createInvoice: (request: InvoiceRequest) => Effect.Effect<IssuedInvoice, WalletError>
  readonly invoiceStatus: (invoice: IssuedInvoice) => Effect.Effect<InvoiceStatus, WalletError>
  /** Cues that funds may have arrived (Spark's transfer:claimed): re-check open invoices now. */
  readonly incoming: Stream.Stream<void>
  /** Drops the connection, so a new secret or backend is used from the next call on. */
  readonly reset: Effect.Effect<void>
}>()("sellCompute/Wallet") {}

/** The settled state of an invoice by its expiry, for wallets that have no expired state. */
export const unpaidOrExpired = (invoice: IssuedInvoice, nowSeconds = Date.now() / 1000): InvoiceStatus =>
  nowSeconds > invoice.expiresAt ? "expired" : "unpaid"
