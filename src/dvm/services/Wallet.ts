/**
 * The wallet that bills jobs: creates Lightning invoices and says whether one was paid. The Spark
 * implementation lives in SparkWallet.ts and loads its SDK only on first use.
 */
import { Context, Effect } from "effect"
import type { WalletError } from "../errors"

export interface InvoiceRequest {
  readonly amountSats: number
  readonly memo: string
  readonly expirySeconds: number
}

export interface IssuedInvoice {
  /** The wallet's own id for the invoice, used to ask for its status. */
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
  /** Why the wallet is not ready, for a person. */
  readonly error?: string
}

export class Wallet extends Context.Service<Wallet, {
  readonly status: Effect.Effect<WalletStatus>
  readonly createInvoice: (request: InvoiceRequest) => Effect.Effect<IssuedInvoice, WalletError>
  readonly invoiceStatus: (invoice: IssuedInvoice) => Effect.Effect<InvoiceStatus, WalletError>
}>()("sellCompute/Wallet") {}

/** Invoices expire quickly: a customer pays at once or not at all. */
export const INVOICE_EXPIRY_SECONDS = 600
