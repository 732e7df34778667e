/**
 * Verified settlement: an invoice counts as paid only when the wallet says so. Open invoices are
 * re-checked when the wallet hears of incoming funds, and polled as a backup (often while young,
 * slowly after); each ends paid or expired in the JobStore, once. Invoices left open by a restart
 * are picked up again by `resume`, whatever became of their job: sats that arrived are counted.
 */
import { Context, Deferred, Effect, Layer, Stream } from "effect"
import { JobStore } from "./JobStore"
import { type IssuedInvoice, Wallet } from "./Wallet"

export type Settled = "paid" | "expired"

export class Settlement extends Context.Service<Settlement, {
  /** Watches an invoice until it is paid or expires; the JobStore records the outcome. */
  readonly watch: (jobId: string, invoice: IssuedInvoice) => Effect.Effect<void>
  /** Watches and waits for the outcome (pay-first). */
  readonly awaitOutcome: (jobId: string, invoice: IssuedInvoice) => Effect.Effect<Settled>
  /** Watches every invoice the JobStore says is still unpaid (after a restart). */
  readonly resume: Effect.Effect<void>
}>()("sellCompute/Settlement") {
  static readonly layer = Layer.effect(Settlement, makeSettlement())
}

/** Young invoices are checked often (the customer is paying now), older ones slowly. */
const YOUNG_MS = 60_000
const YOUNG_INTERVAL_MS = 2000
const OLD_INTERVAL_MS = 30_000
const TICK_MS = 1000

interface Open {
  readonly jobId: string
  readonly invoice: IssuedInvoice
  readonly since: number
  lastChecked: number
  readonly waiters: Array<Deferred.Deferred<Settled>>
}

function makeSettlement() {
  return Effect.gen(function*() {
    const wallet = yield* Wallet
    const store = yield* JobStore
    const open = new Map<string, Open>()
    let cued = false

    const settle = (entry: Open, outcome: Settled) =>
      Effect.gen(function*() {
        open.delete(entry.jobId)
        yield* store.record(outcome === "paid" ? { id: entry.jobId, payment: "paid", paidAt: Date.now() } : { id: entry.jobId, payment: "expired" })
        for (const waiter of entry.waiters) yield* Deferred.succeed(waiter, outcome)
        if (outcome === "expired") return yield* Effect.logInfo(`Job ${entry.jobId.slice(0, 8)}: invoice expired unpaid`)
        const job = yield* store.get(entry.jobId)
        yield* job?.status === "success" || entry.waiters.length > 0
          ? Effect.logInfo(`Job ${entry.jobId.slice(0, 8)} paid: ${entry.invoice.amountSats} sats`)
          : Effect.logWarning(
            `Job ${entry.jobId.slice(0, 8)} paid ${entry.invoice.amountSats} sats but did not finish (${job?.error ?? "no result"}); ` +
              `customer ${job?.customer ?? "unknown"} may ask for a refund`
          )
      })

    const check = (entry: Open) =>
      wallet.invoiceStatus(entry.invoice).pipe(
        Effect.tap(() => Effect.sync(() => (entry.lastChecked = Date.now()))),
        Effect.flatMap((status) => (status === "unpaid" ? Effect.void : settle(entry, status))),
        // The wallet will be asked again on the next round; an unreachable wallet never marks anything paid.
        Effect.catch((e) => Effect.logDebug(`Payment check for ${entry.jobId.slice(0, 8)} failed: ${e.message}`))
      )

    const round = Effect.gen(function*() {
      const now = Date.now()
      const forced = cued
      cued = false
      const due = [...open.values()].filter((entry) =>
        forced || now - entry.lastChecked >= (now - entry.since < YOUNG_MS ? YOUNG_INTERVAL_MS : OLD_INTERVAL_MS))
      yield* Effect.forEach(due, check, { concurrency: 4, discard: true })
    })

    // The loop costs nothing while no invoice is open: no wallet call, no SDK loaded.
    yield* Effect.forkScoped(Effect.forever(Effect.andThen(round, Effect.sleep(TICK_MS))))
    yield* Effect.forkScoped(wallet.incoming.pipe(Stream.runForEach(() => Effect.sync(() => (cued = true)))))

    const add = (jobId: string, invoice: IssuedInvoice, since = Date.now()) => {
      const existing = open.get(jobId)
      if (existing) return existing
      const entry: Open = { jobId, invoice, since, lastChecked: Date.now(), waiters: [] }
      open.set(jobId, entry)
      return entry
    }

    const watch = (jobId: string, invoice: IssuedInvoice) => Effect.sync(() => void add(jobId, invoice))

    const awaitOutcome = (jobId: string, invoice: IssuedInvoice) =>
      Effect.gen(function*() {
        const waiter = yield* Deferred.make<Settled>()
        const entry = add(jobId, invoice)
        entry.waiters.push(waiter)
        // A job abandoned before payment (cancelled, going offline) stops waiting, but its invoice
        // is still watched: if the customer pays anyway, those sats are in the wallet and counted.
        return yield* Deferred.await(waiter).pipe(
          Effect.onInterrupt(() => Effect.sync(() => entry.waiters.splice(entry.waiters.indexOf(waiter), 1)))
        )
      })

    const resume = Effect.gen(function*() {
      for (const job of yield* store.unsettled) {
        if (!job.invoiceId || !job.bolt11 || job.invoiceExpiresAt === undefined) continue
        // Every invoice a customer may hold is watched: sats that arrive are counted, even for a job
        // that did not end well (a result cut off mid-delivery, a prepaid job a crash stopped), so
        // the earnings figure always matches the wallet. Checked at once and then as if new, since
        // a payment may have arrived while we were down or may be on its way.
        add(job.id, { id: job.invoiceId, bolt11: job.bolt11, amountSats: job.priceSats ?? 0, expiresAt: job.invoiceExpiresAt }).lastChecked = 0
      }
    })

    return Settlement.of({ watch, awaitOutcome, resume })
  })
}
