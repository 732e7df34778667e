// Settlement driven by a Wallet written here (our own service interface) and the in-memory JobStore,
// on Effect's TestClock: expiry, the grace after it, payments in flight, an unreachable wallet, and
// invoices issued by a wallet that is no longer selected.
import assert from "node:assert/strict"
import { Context, Effect, Fiber, Layer, Logger, ManagedRuntime, PubSub, Stream } from "effect"
import { TestClock } from "effect/testing"
import { WalletError } from "../../src/dvm/errors"
import { JobStore } from "../../src/dvm/services/JobStore"
import { invoiceStatusOf } from "../../src/dvm/services/NwcWallet"
import { CHECK_TIMEOUT_MS, EXPIRY_GRACE_S, type Settled, Settlement } from "../../src/dvm/services/Settlement"
import { type InvoiceStatus, type IssuedInvoice, Wallet, type WalletBackend, type WalletCue } from "../../src/dvm/services/Wallet"

type Answer = InvoiceStatus | "fail" | "hang"

const makeHarness = () => {
  const answers = new Map<string, Answer>()
  const asked: Array<string> = []
  const logs: Array<string> = []
  const self = { backend: "spark" as WalletBackend }
  const incoming = Effect.runSync(PubSub.unbounded<WalletCue>())
  const wallet = Layer.succeed(Wallet, Wallet.of({
    status: Effect.sync(() => ({ backend: self.backend, ready: true })),
    createInvoice: () => Effect.die("not used here"),
    invoiceStatus: (invoice) =>
      Effect.suspend(() => {
        asked.push(invoice.id)
        const answer = answers.get(invoice.id) ?? "unpaid"
        return answer === "fail"
          ? Effect.fail(new WalletError({ message: "wallet unreachable" }))
          : answer === "hang"
          ? Effect.never
          : Effect.succeed(answer)
      }),
    backend: Effect.sync(() => self.backend),
    incoming: Stream.fromPubSub(incoming),
    reset: Effect.void
  }))
  const logger = Logger.make(({ logLevel, message }) => {
    logs.push(`${logLevel} ${(Array.isArray(message) ? message : [message]).map(String).join(" ")}`)
  })
  const runtime = ManagedRuntime.make(Settlement.layer.pipe(
    Layer.provideMerge(Layer.mergeAll(JobStore.layer(undefined), wallet)),
    Layer.provideMerge(Layer.mergeAll(TestClock.layer(), Logger.layer([logger])))
  ))
  const run = <A>(effect: Effect.Effect<A, never, Settlement | JobStore>) => runtime.runPromise(effect)

  /** Records the job's invoice as issueInvoice does; expiresAt is in TestClock seconds (it starts at 0). */
  const issue = (id: string, expiresAt: number, backend?: WalletBackend): Promise<IssuedInvoice> =>
    run(Effect.gen(function*() {
      const store = yield* JobStore
      const invoice: IssuedInvoice = { id: `inv-${id}`, bolt11: `lnbc10n1${id}`, amountSats: 1, expiresAt, ...(backend ? { backend } : {}) }
      yield* store.record({
        id,
        customer: "c".repeat(64),
        kind: 5050,
        requestedAt: 0,
        receivedAt: 0,
        status: "success",
        priceSats: 1,
        invoiceId: invoice.id,
        bolt11: invoice.bolt11,
        invoiceExpiresAt: expiresAt,
        ...(backend ? { invoiceBackend: backend } : {}),
        payment: "unpaid"
      })
      return invoice
    }))

  /** Moves the clock on a second at a time, so the poll loop runs as it would. */
  const advance = async (seconds: number) => {
    for (let i = 0; i < seconds; i++) await runtime.runPromise(TestClock.adjust("1 second"))
  }
  const payment = (id: string) =>
    run(Effect.gen(function*() {
      return (yield* (yield* JobStore).get(id))?.payment
    }))
  const settlement = <A>(f: (s: Context.Service.Shape<typeof Settlement>) => Effect.Effect<A>) =>
    Effect.gen(function*() {
      return yield* f(yield* Settlement)
    })
  const watch = (id: string, invoice: IssuedInvoice) => run(settlement((s) => s.watch(id, invoice)))
  return { answers, asked, logs, self, incoming, runtime, run, issue, advance, payment, settlement, watch }
}

describe("Settlement", () => {
  let h: ReturnType<typeof makeHarness>
  beforeEach(() => {
    h = makeHarness()
  })
  afterEach(async () => {
    await h.runtime.dispose()
  })

  it("never expires an invoice whose payment is in flight, and counts it once the wallet says paid", async () => {
    const invoice = await h.issue("inflight", 60)
    h.answers.set(invoice.id, "pending")
    await h.watch("inflight", invoice)
    await h.advance(60 + EXPIRY_GRACE_S + 300)
    assert.equal(await h.payment("inflight"), "unpaid", "still watched, long past expiry and grace")
    assert.ok(h.asked.filter((id) => id === invoice.id).length > 10, "and still asked about")
    h.answers.set(invoice.id, "paid")
    await h.advance(40)
    assert.equal(await h.payment("inflight"), "paid")
  })

  it("expires an unpaid invoice only after the grace past its expiry, ending a pay-first wait", async () => {
    const invoice = await h.issue("late", 60)
    const outcome = await h.runtime.runPromise(Effect.forkDetach(h.settlement((s) => s.awaitOutcome("late", invoice))))
    await h.advance(60 + EXPIRY_GRACE_S - 5)
    assert.equal(await h.payment("late"), "unpaid", "within the grace a payment may still land")
    assert.equal(outcome.pollUnsafe(), undefined, "the pay-first job is still waiting")
    await h.advance(40)
    assert.equal(await h.payment("late"), "expired")
    assert.equal(await h.runtime.runPromise(Fiber.join(outcome)), "expired" satisfies Settled)
  })

  it("a payment landing within the grace is counted", async () => {
    const invoice = await h.issue("grace", 60)
    await h.watch("grace", invoice)
    await h.advance(60 + 30)
    h.answers.set(invoice.id, "paid")
    await h.advance(40)
    assert.equal(await h.payment("grace"), "paid")
  })

  it("expires an invoice the wallet cannot be asked about once past expiry and grace, with a warning, never paid", async () => {
    const failing = await h.issue("failing", 60)
    const hanging = await h.issue("hanging", 60)
    h.answers.set(failing.id, "fail")
    h.answers.set(hanging.id, "hang")
    await h.watch("failing", failing)
    await h.watch("hanging", hanging)
    await h.advance(60 + EXPIRY_GRACE_S - 5)
    assert.equal(await h.payment("failing"), "unpaid")
    assert.equal(await h.payment("hanging"), "unpaid")
    await h.advance(120 + 3 * CHECK_TIMEOUT_MS / 1000)
    assert.equal(await h.payment("failing"), "expired")
    assert.equal(await h.payment("hanging"), "expired", "a wallet that never answers times out")
    assert.ok(h.logs.some((l) => /^WARN.*failing.*could not be verified.*wallet unreachable/i.test(l)), h.logs.join("\n"))
    assert.ok(h.logs.some((l) => /^WARN.*hanging.*could not be verified.*no answer within 20 s/i.test(l)), h.logs.join("\n"))
  })

  it("keeps watching a payment in flight when the wallet then goes unreachable", async () => {
    const invoice = await h.issue("flaky", 60)
    h.answers.set(invoice.id, "pending")
    await h.watch("flaky", invoice)
    await h.advance(10)
    h.answers.set(invoice.id, "fail")
    await h.advance(60 + EXPIRY_GRACE_S + 300)
    assert.equal(await h.payment("flaky"), "unpaid")
  })

  it("on resume, leaves an invoice from another wallet backend unchecked until that backend is selected again", async () => {
    const other = await h.issue("other", 60, "nwc")
    const same = await h.issue("same", 60, "spark")
    const legacy = await h.issue("legacy", 60) // older history: no backend recorded
    h.answers.set(same.id, "paid")
    h.answers.set(legacy.id, "paid")
    h.answers.set(other.id, "paid")
    await h.run(h.settlement((s) => s.resume))
    await h.advance(60 + EXPIRY_GRACE_S + 120)
    assert.equal(await h.payment("same"), "paid")
    assert.equal(await h.payment("legacy"), "paid", "a record without a backend is the current backend's")
    assert.equal(await h.payment("other"), "unpaid", "not expired either: it could not be verified")
    assert.equal(h.asked.filter((id) => id === other.id).length, 0, "never asked the current wallet about it")
    assert.equal(h.logs.filter((l) => /^INFO.*from the nwc wallet.*verified when the nwc wallet is selected again/i.test(l)).length, 1, h.logs.join("\n"))

    h.self.backend = "nwc"
    await h.advance(5)
    assert.equal(await h.payment("other"), "paid", "verified once its wallet is selected again")
  })

  it("a wallet cue checks the youngest invoices first", async () => {
    for (let i = 0; i < 8; i++) await h.watch(`old${i}`, await h.issue(`old${i}`, 100_000))
    await h.advance(120)
    const young = await h.issue("young", 100_000)
    await h.watch("young", young)
    h.asked.length = 0
    await h.runtime.runPromise(PubSub.publish(h.incoming, {}))
    await h.advance(1)
    assert.equal(h.asked[0], young.id, h.asked.join(" "))
  })
})

describe("NWC lookup_invoice answers", () => {
  it("settled_at 0 is not a payment; a positive settled_at or state settled is", () => {
    assert.equal(invoiceStatusOf({ state: "pending", settled_at: 0 }), "unpaid")
    assert.equal(invoiceStatusOf({ settled_at: 0 }), "unpaid")
    assert.equal(invoiceStatusOf({ settled_at: 1_700_000_000 }), "paid")
    assert.equal(invoiceStatusOf({ state: "settled" }), "paid")
  })

  it("a held payment (accepted) is in flight; expired is the wallet's word; pending and failed are not paid", () => {
    assert.equal(invoiceStatusOf({ state: "accepted" }), "pending")
    assert.equal(invoiceStatusOf({ state: "expired" }), "expired")
    assert.equal(invoiceStatusOf({ state: "pending" }), "unpaid")
    assert.equal(invoiceStatusOf({ state: "failed" }), "unpaid")
  })
})
