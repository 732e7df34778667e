/**
 * Who gets in, before any work is done: allow and deny lists, a bounded queue behind the jobs
 * running on Ollama, and per-customer limits (jobs per minute, jobs in flight). Pure bookkeeping:
 * the caller passes the time and releases each admitted job when it ends.
 */

export interface AdmissionLimits {
  /** Jobs running at once (maxConcurrentJobs); admitted jobs beyond it wait in the queue. */
  readonly maxRunning: number
  /** Jobs allowed to wait; one more is refused as "busy". */
  readonly maxQueued: number
  readonly perCustomerPerMinute: number
  readonly perCustomerInFlight: number
  /** When not empty, only these pubkeys (hex) are served. */
  readonly allow: ReadonlyArray<string>
  readonly deny: ReadonlyArray<string>
}

export type AdmissionDecision =
  | { readonly _tag: "Admitted"; /** Jobs ahead of this one waiting for Ollama; 0 = runs now. */ readonly queuePosition: number }
  | { readonly _tag: "Refused"; readonly reason: string; readonly retryAfterSeconds?: number }

const WINDOW_MS = 60_000

export class Admission {
  private inFlight = 0
  /** Pay-first jobs admitted and waiting for payment: each holds an invoice the wallet watches. */
  private awaitingPayment = 0
  private readonly perCustomer = new Map<string, { inFlight: number; recent: Array<number> }>()
  private lastSweep = 0

  constructor(private limits: AdmissionLimits) {}

  setLimits(limits: AdmissionLimits): void {
    this.limits = limits
  }

  /** Jobs admitted and not yet released (running or queued). */
  get size(): number {
    return this.inFlight
  }

  /**
   * Admits a job for `customer`. With `queue: false` (a pay-first job about to wait for payment) it
   * passes the same checks but takes no place among the running and queued jobs yet: `enqueue`
   * takes it once the job is paid, so unpaid invoices never keep paying customers out. Jobs waiting
   * for payment are bounded on their own (`maxQueued`, at least one), so strangers cannot make the
   * wallet mint and watch invoices without limit.
   */
  admit(customer: string, nowMs: number, options: { readonly queue?: boolean } = {}): AdmissionDecision {
    const refused = this.refusal(customer, nowMs)
    if (refused) return refused
    const limits = this.limits
    const entry = this.perCustomer.get(customer) ?? { inFlight: 0, recent: [] }
    if (entry.inFlight >= limits.perCustomerInFlight) {
      this.keep(customer, entry)
      return {
        _tag: "Refused",
        reason: `rate limited: at most ${limits.perCustomerInFlight} of your jobs at a time; try again when one has finished`,
        retryAfterSeconds: 10
      }
    }
    if (options.queue === false && this.awaitingPayment >= this.maxAwaitingPayment) {
      this.keep(customer, entry)
      return {
        _tag: "Refused",
        reason: `busy: ${this.awaitingPayment} jobs are already waiting for payment; try again in a minute`,
        retryAfterSeconds: 60
      }
    }
    const queued = Math.max(0, this.inFlight - limits.maxRunning)
    if (this.inFlight >= limits.maxRunning && queued >= limits.maxQueued) {
      this.keep(customer, entry)
      return { _tag: "Refused", reason: `busy: ${queued} jobs are already waiting; try again in a minute`, retryAfterSeconds: 60 }
    }
    entry.inFlight++
    entry.recent.push(nowMs)
    this.perCustomer.set(customer, entry)
    if (options.queue === false) {
      this.awaitingPayment++
      return { _tag: "Admitted", queuePosition: 0 }
    }
    return { _tag: "Admitted", queuePosition: this.enqueue() }
  }

  /** Pay-first jobs that may wait for payment at once. */
  private get maxAwaitingPayment(): number {
    return Math.max(1, this.limits.maxQueued)
  }

  /** Jobs admitted to wait for payment and not yet paid or released. */
  get waitingForPayment(): number {
    return this.awaitingPayment
  }

  /**
   * Takes a place among the running and queued jobs; returns the jobs ahead of it (0 = runs now).
   * A pay-first job calls it once paid, leaving the jobs waiting for payment.
   */
  enqueue(options: { readonly paid?: boolean } = {}): number {
    if (options.paid) this.awaitingPayment = Math.max(0, this.awaitingPayment - 1)
    this.inFlight++
    return Math.max(0, this.inFlight - this.limits.maxRunning)
  }

  /**
   * Screens a request that will only be answered with an error (it is malformed): the allow and
   * deny lists and the per-minute rate apply, and it counts toward that rate, so bad requests cannot
   * be sent beside good ones without limit. Takes no place in flight.
   */
  screen(customer: string, nowMs: number): AdmissionDecision {
    const refused = this.refusal(customer, nowMs)
    if (refused) return refused
    const entry = this.perCustomer.get(customer) ?? { inFlight: 0, recent: [] }
    entry.recent.push(nowMs)
    this.perCustomer.set(customer, entry)
    return { _tag: "Admitted", queuePosition: 0 }
  }

  /** Releases an admitted job; `queued: false` when it never took its place (an unpaid pay-first job). */
  release(customer: string, options: { readonly queued?: boolean } = {}): void {
    if (options.queued !== false) this.inFlight = Math.max(0, this.inFlight - 1)
    else this.awaitingPayment = Math.max(0, this.awaitingPayment - 1)
    const entry = this.perCustomer.get(customer)
    if (!entry) return
    entry.inFlight = Math.max(0, entry.inFlight - 1)
    this.keep(customer, entry)
  }

  /** The allow and deny lists, and the per-minute rate. */
  private refusal(customer: string, nowMs: number): AdmissionDecision | undefined {
    if (nowMs - this.lastSweep >= WINDOW_MS) this.sweep(nowMs)
    const limits = this.limits
    if (limits.deny.includes(customer) || (limits.allow.length > 0 && !limits.allow.includes(customer))) {
      return { _tag: "Refused", reason: "this provider does not serve your key" }
    }
    const entry = this.perCustomer.get(customer)
    if (!entry) return undefined
    entry.recent = entry.recent.filter((t) => nowMs - t < WINDOW_MS)
    if (entry.recent.length < limits.perCustomerPerMinute) return undefined
    const retryAfterSeconds = Math.max(1, Math.ceil((WINDOW_MS - (nowMs - (entry.recent[0] as number))) / 1000))
    this.keep(customer, entry)
    return {
      _tag: "Refused",
      reason: `rate limited: at most ${limits.perCustomerPerMinute} jobs per minute per customer; try again in ${retryAfterSeconds} s`,
      retryAfterSeconds
    }
  }

  /** Forgets customers with nothing in flight and nothing in the window, so memory stays flat. */
  private keep(customer: string, entry: { inFlight: number; recent: Array<number> }): void {
    if (entry.inFlight === 0 && entry.recent.length === 0) this.perCustomer.delete(customer)
    else this.perCustomer.set(customer, entry)
  }

  /** Drops timestamps older than the window, and customers left with nothing. */
  private sweep(nowMs: number): void {
    this.lastSweep = nowMs
    for (const [customer, entry] of this.perCustomer) {
      entry.recent = entry.recent.filter((t) => nowMs - t < WINDOW_MS)
      this.keep(customer, entry)
    }
  }

  /** Customers tracked right now (for tests and the memory check in the benchmark). */
  get trackedCustomers(): number {
    return this.perCustomer.size
  }
}
