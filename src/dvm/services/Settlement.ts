/**
 * Verified settlement: an invoice counts as paid only when the wallet says so. Open invoices are
 * re-checked when the wallet hears of incoming funds (that invoice, when the cue names it), and
 * polled as a backup (often while young, slowly after); each ends paid or expired in the JobStore,
 * once. Watching costs the wallet the same however many are open: at most CHECKS_PER_TICK checks
 * start each second, the cued and newest first, and the longest unchecked alongside, so none starves.
 * Expired waits out a grace past the invoice's expiry and never overtakes a payment in flight.
 * Invoices left open by a restart are
 * picked up again by `resume`, whatever became of their job: sats that arrived are counted. Only
 * the wallet backend that issued an invoice is asked about it.
 */
import { Clock, Context, Deferred, Effect, Layer, Result, Stream } from "effect"
import { JobStore } from "./JobStore"
import { type InvoiceStatus, type IssuedInvoice, Wallet, type WalletCue } from "./Wallet"
import { WALLET_DEADLINES } from "./walletDeadlines"

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
/** An unpaid invoice is expired only this long after its expiry: a payment sent just before may still be landing. */
export const EXPIRY_GRACE_S = 120
/** The longest one check may take: the wallets' own deadline, also applied here to any Wallet. */
export const CHECK_TIMEOUT_MS = WALLET_DEADLINES.invoiceStatusMs
/** At most this many wallet checks start per tick, whether 2 or 200 invoices are open. */
export const CHECKS_PER_TICK = 4
/** Checks still awaiting the wallet: at this many, none starts (a hung wallet is not piled on). */
export const MAX_CHECKS_IN_FLIGHT = 2 * CHECKS_PER_TICK
/** Past the grace, an invoice the wallet could not be asked about this many times running is expired. */
export const UNVERIFIED_CHECKS = 3

interface Open {
  readonly jobId: string
  readonly invoice: IssuedInvoice
  readonly since: number
  lastChecked: number
  readonly waiters: Array<Deferred.Deferred<Settled>>
  /** The wallet's last word was "pending": a payment is on its way, so the invoice is never expired. */
  inFlight: boolean
  /** Checks in a row that got no answer. */
  failures: number
  /** Left unchecked as another backend's invoice (and said so). */
  parked: boolean
  /** The wallet named this invoice in a cue: checked at the next tick. */
  cued: boolean
  /** A check of it is under way. */
  checking: boolean
}

/**
 * Which due invoices to check now, at most `slots`: turn about from the cued-then-newest (the one
 * being paid now) and from the longest unchecked (so every invoice is checked eventually).
 */
export const pickChecks = <T extends { readonly since: number; readonly lastChecked: number }>(
  cued: ReadonlyArray<T>,
  due: ReadonlyArray<T>,
  slots: number
): Array<T> => {
  const newest = [...cued].sort((a, b) => b.since - a.since).concat([...due].sort((a, b) => b.since - a.since))
  const starved = [...due].sort((a, b) => a.lastChecked - b.lastChecked || b.since - a.since)
  const picked = new Set<T>()
  const lanes = [newest, starved]
  const next = [0, 0]
  for (let lane = 0; picked.size < slots && (next[0]! < newest.length || next[1]! < starved.length); lane = 1 - lane) {
    const list = lanes[lane]!
    while (next[lane]! < list.length && picked.has(list[next[lane]!]!)) next[lane]!++
    if (next[lane]! < list.length) picked.add(list[next[lane]!++]!)
  }
  return [...picked]
}

function makeSettlement() {
  return Effect.gen(function*() {
    const wallet = yield* Wallet
    const store = yield* JobStore
    const open = new Map<string, Open>()
    /** Open invoices by the wallet's id for them (lower case), for cues that name one. */
    const byInvoice = new Map<string, Open>()
    /** A cue naming no invoice: the next tick checks the newest open ones (still at most the cap). */
    let generalCue = false
    let inFlight = 0

    const short = (entry: Open) => entry.jobId.slice(0, 8)
    const pastGrace = (entry: Open, now: number) => now / 1000 > entry.invoice.expiresAt + EXPIRY_GRACE_S

    /** `unverified` says why an expiry could not be confirmed with the wallet (logged as a warning). */
    const settle = (entry: Open, outcome: Settled, unverified?: string) =>
      Effect.gen(function*() {
        open.delete(entry.jobId)
        if (byInvoice.get(entry.invoice.id.toLowerCase()) === entry) byInvoice.delete(entry.invoice.id.toLowerCase())
        yield* store.record(outcome === "paid" ? { id: entry.jobId, payment: "paid", paidAt: Date.now() } : { id: entry.jobId, payment: "expired" })
        for (const waiter of entry.waiters) yield* Deferred.succeed(waiter, outcome)
        if (outcome === "expired") {
          return yield* unverified
            ? Effect.logWarning(
              `Job ${short(entry)}: invoice taken as expired unpaid, but it could not be verified (${unverified}); ` +
                `if it was paid, the sats are in the wallet but not in the earnings`
            )
            : Effect.logInfo(`Job ${short(entry)}: invoice expired unpaid`)
        }
        const job = yield* store.get(entry.jobId)
        yield* job?.status === "success" || entry.waiters.length > 0
          ? Effect.logInfo(`Job ${short(entry)} paid: ${entry.invoice.amountSats} sats`)
          : Effect.logWarning(
            `Job ${short(entry)} paid ${entry.invoice.amountSats} sats but did not finish (${job?.error ?? "no result"}); ` +
              `customer ${job?.customer ?? "unknown"} may ask for a refund`
          )
      })

    const answered = (entry: Open, status: InvoiceStatus, now: number) =>
      Effect.gen(function*() {
        entry.failures = 0
        if (status === "paid" || status === "expired") return yield* settle(entry, status)
        if (status === "pending") {
          if (!entry.inFlight) yield* Effect.logInfo(`Job ${short(entry)}: payment on its way; watched until it completes`)
          entry.inFlight = true
          return
        }
        entry.inFlight = false
        if (pastGrace(entry, now)) yield* settle(entry, "expired")
      })

    // Never paid without the wallet's word. Expired without it only long past paying, after the
    // wallet kept silent several times running, and when its last word was not a payment on its way.
    const unanswered = (entry: Open, reason: string, now: number) =>
      Effect.gen(function*() {
        entry.failures++
        yield* Effect.logDebug(`Payment check for ${short(entry)} failed: ${reason}`)
        if (!entry.inFlight && entry.failures >= UNVERIFIED_CHECKS && pastGrace(entry, now)) yield* settle(entry, "expired", reason)
      })

    const check = (entry: Open) =>
      wallet.invoiceStatus(entry.invoice).pipe(
        Effect.timeout(CHECK_TIMEOUT_MS),
        Effect.result,
        Effect.flatMap((result) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => {
            entry.lastChecked = now
            return Result.isSuccess(result)
              ? answered(entry, result.success, now)
              : unanswered(entry, result.failure._tag === "TimeoutError" ? `no answer within ${CHECK_TIMEOUT_MS / 1000} s` : result.failure.message, now)
          }))
      )

    const round = Effect.gen(function*() {
      // The loop costs nothing while no invoice is open: no wallet call, no SDK loaded.
      if (open.size === 0) return void (generalCue = false)
      const now = yield* Clock.currentTimeMillis
      const general = generalCue
      generalCue = false
      const backend = wallet.backend ? yield* wallet.backend : undefined
      const cued: Array<Open> = []
      const due: Array<Open> = []
      const parked = new Map<string, number>()
      for (const entry of open.values()) {
        // Only the wallet that issued an invoice can say whether it was paid: another's is left unpaid.
        if (backend && entry.invoice.backend && entry.invoice.backend !== backend) {
          if (!entry.parked) parked.set(entry.invoice.backend, (parked.get(entry.invoice.backend) ?? 0) + 1)
          entry.parked = true
          continue
        }
        if (entry.parked) {
          entry.parked = false
          entry.lastChecked = 0 // its wallet is selected again: check at once
        }
        if (entry.checking) continue
        if (entry.cued) cued.push(entry)
        else if (general || now - entry.lastChecked >= (now - entry.since < YOUNG_MS ? YOUNG_INTERVAL_MS : OLD_INTERVAL_MS)) due.push(entry)
      }
      for (const [other, count] of parked) {
        yield* Effect.logInfo(
          `${count} open invoice${count === 1 ? "" : "s"} from the ${other} wallet left unpaid and unchecked: ` +
            `verified when the ${other} wallet is selected again`
        )
      }
      for (const entry of pickChecks(cued, due, Math.min(CHECKS_PER_TICK, MAX_CHECKS_IN_FLIGHT - inFlight))) {
        entry.cued = false
        entry.checking = true
        inFlight++
        // Not awaited: a slow wallet delays no other invoice's turn, and the tick keeps its pace.
        yield* Effect.forkScoped(check(entry).pipe(Effect.ensuring(Effect.sync(() => {
          entry.checking = false
          inFlight--
        }))))
      }
    })

    yield* Effect.forkScoped(Effect.forever(Effect.andThen(round, Effect.sleep(TICK_MS))))
    /** A cue only asks for a check sooner; it never settles anything. */
    const cue = (c: WalletCue) =>
      Effect.sync(() => {
        if (c.invoiceId === undefined) return void (generalCue = true)
        const entry = byInvoice.get(c.invoiceId.toLowerCase())
        if (entry) entry.cued = true
      })
    yield* Effect.forkScoped(wallet.incoming.pipe(Stream.runForEach(cue)))

    const add = (jobId: string, invoice: IssuedInvoice, now: number) => {
      const existing = open.get(jobId)
      if (existing) return existing
      const entry: Open = { jobId, invoice, since: now, lastChecked: now, waiters: [], inFlight: false, failures: 0, parked: false, cued: false, checking: false }
      open.set(jobId, entry)
      byInvoice.set(invoice.id.toLowerCase(), entry)
      return entry
    }

    const watch = (jobId: string, invoice: IssuedInvoice) => Effect.map(Clock.currentTimeMillis, (now) => void add(jobId, invoice, now))

    const awaitOutcome = (jobId: string, invoice: IssuedInvoice) =>
      Effect.gen(function*() {
        const waiter = yield* Deferred.make<Settled>()
        const entry = add(jobId, invoice, yield* Clock.currentTimeMillis)
        entry.waiters.push(waiter)
        // A job abandoned before payment (cancelled, going offline) stops waiting, but its invoice
        // is still watched: if the customer pays anyway, those sats are in the wallet and counted.
        return yield* Deferred.await(waiter).pipe(
          Effect.onInterrupt(() => Effect.sync(() => entry.waiters.splice(entry.waiters.indexOf(waiter), 1)))
        )
      })

    const resume = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      for (const job of yield* store.unsettled) {
        if (!job.invoiceId || !job.bolt11 || job.invoiceExpiresAt === undefined) continue
        // Every invoice a customer may hold is watched: sats that arrive are counted, even for a job
        // that did not end well (a result cut off mid-delivery, a prepaid job a crash stopped), so
        // the earnings figure always matches the wallet. Checked at once and then as if new, since
        // a payment may have arrived while we were down or may be on its way. One issued by another
        // wallet backend than the selected one waits, unchecked, until that backend is selected again;
        // older history names no backend: the current one issued it.
        add(job.id, {
          id: job.invoiceId,
          bolt11: job.bolt11,
          amountSats: job.priceSats ?? 0,
          expiresAt: job.invoiceExpiresAt,
          ...(job.invoiceBackend ? { backend: job.invoiceBackend } : {})
        }, now).lastChecked = 0
      }
    })

    return Settlement.of({ watch, awaitOutcome, resume })
  })
}
