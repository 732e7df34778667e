/**
 * A Wallet stand-in at the network boundary (no Spark network exists here): issues BOLT11-shaped
 * invoices, remembers them, and reports paid only for those a test marks paid.
 */
import { Effect, Layer, PubSub, Stream } from "effect"
import { WalletError } from "../../src/dvm/errors"
import { type InvoiceRequest, type IssuedInvoice, Wallet, type WalletCue } from "../../src/dvm/services/Wallet"

export interface WalletStandIn {
  readonly issued: Array<InvoiceRequest & IssuedInvoice>
  readonly paid: Set<string>
  ready: boolean
  failInvoices: boolean
  /** Invoice look-ups the provider made (what watching open invoices costs). */
  checks: number
  /** Every call hangs, never answering (as a stuck Spark SDK call does). */
  hang: boolean
  readonly layer: Layer.Layer<Wallet>
  /** Marks an invoice paid (by its bolt11) and tells the provider funds arrived, as Spark does. */
  pay: (bolt11: string) => void
}

export const makeWalletStandIn = (): WalletStandIn => {
  const incoming = Effect.runSync(PubSub.unbounded<WalletCue>())
  const self: WalletStandIn = {
    pay: (bolt11) => {
      const invoice = self.issued.find((i) => i.bolt11 === bolt11)
      if (!invoice) throw new Error(`no such invoice ${bolt11}`)
      self.paid.add(invoice.id)
      PubSub.publishUnsafe(incoming, {})
    },
    issued: [],
    paid: new Set(),
    ready: true,
    failInvoices: false,
    checks: 0,
    hang: false,
    layer: Layer.sync(Wallet, () =>
      Wallet.of({
        status: Effect.suspend(() => (self.hang ? Effect.never : Effect.void)).pipe(Effect.andThen(Effect.sync(() => (self.ready
          ? { backend: "stand-in", ready: true, balanceSats: 0 }
          : { backend: "stand-in", ready: false, error: "stand-in wallet switched off" })))),
        createInvoice: (request) =>
          Effect.suspend(() => {
            if (self.hang) return Effect.never
            if (self.failInvoices) return Effect.fail(new WalletError({ message: "stand-in wallet refuses invoices" }))
            const id = `inv-${self.issued.length + 1}`
            const invoice = {
              ...request,
              id,
              bolt11: `lnbc${request.amountSats * 10}n1standin${self.issued.length + 1}`,
              expiresAt: Math.floor(Date.now() / 1000) + request.expirySeconds
            }
            self.issued.push(invoice)
            return Effect.succeed(invoice)
          }),
        invoiceStatus: (invoice) =>
          Effect.suspend(() => (self.hang ? Effect.never : Effect.void)).pipe(Effect.andThen(Effect.sync(() => (self.checks++, self.paid.has(invoice.id) ? "paid" : Date.now() / 1000 > invoice.expiresAt ? "expired" : "unpaid")))),
        incoming: Stream.fromPubSub(incoming),
        reset: Effect.void
      }))
  }
  return self
}
