/**
 * How long a wallet may take to answer, whatever the backend: the Spark SDK's calls and an NWC
 * wallet's replies have no time limit of their own, and a call that never returns must hold no job,
 * payment check or going online forever. Each backend applies these; `withDeadlines` also fits any
 * other Wallet (a test's stand-in).
 */
import { type Context, Effect } from "effect"
import { WalletError } from "../errors"
import type { Wallet, WalletStatus } from "./Wallet"

export interface WalletDeadlines {
  /** Setting up the connection (Spark's initialize; NWC's relay, info event and subscription). */
  readonly connectMs: number
  /** `status` answers within this, ready or not, so going online always ends. */
  readonly statusMs: number
  readonly createInvoiceMs: number
  /** One payment check (Settlement uses the same figure for any wallet). */
  readonly invoiceStatusMs: number
}

export const WALLET_DEADLINES: WalletDeadlines = {
  connectMs: 15_000,
  statusMs: 10_000,
  createInvoiceMs: 20_000,
  invoiceStatusMs: 20_000
}

/** The same deadline for everything, e.g. from a test's or an operator's override. */
export const uniformDeadlines = (ms: number): WalletDeadlines => ({ connectMs: ms, statusMs: ms, createInvoiceMs: ms, invoiceStatusMs: ms })

export const secondsOf = (ms: number) => `${Number((ms / 1000).toFixed(1))} s`

export const noAnswerWithin = (ms: number) => `no answer from the wallet within ${secondsOf(ms)}`

type WalletShape = Context.Service.Shape<typeof Wallet>

/** The wallet with every call bounded: a late call fails (status: not ready) with a plain reason. */
export const withDeadlines = (wallet: WalletShape, deadlines: WalletDeadlines = WALLET_DEADLINES): WalletShape => ({
  ...wallet,
  status: Effect.timeoutOrElse(wallet.status, {
    duration: deadlines.statusMs,
    orElse: () =>
      Effect.map(wallet.backend ?? Effect.succeed("wallet"), (backend): WalletStatus => ({
        backend,
        ready: false,
        error: noAnswerWithin(deadlines.statusMs)
      }))
  }),
  createInvoice: (request) =>
    Effect.timeoutOrElse(wallet.createInvoice(request), {
      duration: deadlines.createInvoiceMs,
      orElse: () => Effect.fail(new WalletError({ message: noAnswerWithin(deadlines.createInvoiceMs) }))
    }),
  invoiceStatus: (invoice) =>
    Effect.timeoutOrElse(wallet.invoiceStatus(invoice), {
      duration: deadlines.invoiceStatusMs,
      orElse: () => Effect.fail(new WalletError({ message: noAnswerWithin(deadlines.invoiceStatusMs) }))
    })
})

/**
 * `started`, given up after `ms`. What arrives after that goes to `onLate` to be disposed of (Spark's
 * initialize cannot be aborted; a relay that connects late must be closed), so nothing is left open.
 */
export const arriveWithin = <A>(started: Promise<A>, ms: number, message: string, onLate: (late: A) => void): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    let abandoned = false
    const timer = setTimeout(() => {
      abandoned = true
      reject(new Error(message))
    }, ms)
    started.then(
      (value) => {
        clearTimeout(timer)
        if (!abandoned) return resolve(value)
        try {
          onLate(value)
        } catch {
          // disposing of an abandoned connection is best effort
        }
      },
      (cause) => {
        clearTimeout(timer)
        if (!abandoned) reject(cause)
      }
    )
  })
