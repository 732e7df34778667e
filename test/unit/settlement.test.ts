// Settlement driven by a Wallet written here (our own service interface) and the in-memory JobStore,
// on Effect's TestClock: expiry, the grace after it, payments in flight, an unreachable wallet, and
// invoices issued by a wallet that is no longer selected.
import assert from "node:assert/strict"
import { Clock, Context, Effect, Fiber, Layer, Logger, ManagedRuntime, PubSub, Stream } from "effect"
import { TestClock } from "effect/testing"
import { WalletError } from "../../src/dvm/errors"
import { JobStore } from "../../src/dvm/services/JobStore"
import { invoiceStatusOf } from "../../src/dvm/services/NwcWallet"
import {
  CHECK_TIMEOUT_MS,
  CHECKS_PER_TICK,
  EXPIRY_GRACE_S,
  MAX_CHECKS_IN_FLIGHT,
  pickChecks,
  type Settled,
  Settlement
} from "../../src/dvm/services/Settlement"
import { type InvoiceStatus, type IssuedInvoice, Wallet, type WalletBackend, type WalletCue } from "../../src/dvm/services/Wallet"

type Answer = InvoiceStatus | "fail" | "hang"

const makeHarness = () => {
  const answers = new Map<string, Answer>()
  const asked: Array<string> = []
  /** When (TestClock ms) each check started, in order. */
  const askedAt: Array<number> = []
  const logs: Array<string> = []
  const self = { backend: "spark" as WalletBackend }
  const incoming = Effect.runSync(PubSub.unbounded<WalletCue>())
  const wallet = Layer.succeed(Wallet, Wallet.of({
    status: Effect.sync(() => ({ backend: self.backend, ready: true })),
    createInvoice: () => Effect.die("not used here"),
    invoiceStatus: (invoice) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        asked.push(invoice.id)
        askedAt.push(now)
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
  return { answers, asked, askedAt, logs, self, incoming, runtime, run, issue, advance, payment, settlement, watch }
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

describe("Settlement: the cost of watching many invoices", () => {
  let h: ReturnType<typeof makeHarness>
  beforeEach(() => {
    h = makeHarness()
  })
  afterEach(async () => {
    await h.runtime.dispose()
  })

  /** Checks started at each TestClock instant. */
  const perTick = () => {
    const counts = new Map<number, number>()
    for (const at of h.askedAt) counts.set(at, (counts.get(at) ?? 0) + 1)
    return [...counts.values()]
  }
  const watchMany = async (count: number) => {
    const invoices: Array<IssuedInvoice> = []
    for (let i = 0; i < count; i++) {
      const invoice = await h.issue(`job${i}`, 100_000)
      await h.watch(`job${i}`, invoice)
      invoices.push(invoice)
    }
    return invoices
  }

  it("with 200 open invoices, never starts more than the cap per tick, and checks every one in time", async () => {
    const invoices = await watchMany(200)
    await h.advance(120)
    assert.ok(Math.max(...perTick()) <= CHECKS_PER_TICK, `per tick: ${perTick().join(" ")}`)
    assert.ok(h.asked.length <= 120 * CHECKS_PER_TICK)
    const checked = new Set(h.asked)
    assert.deepEqual(invoices.filter((i) => !checked.has(i.id)).map((i) => i.id), [], "none starved")
  })

  it("costs two invoices no more per tick than it costs 200 (the same cap), and polls them as before", async () => {
    await watchMany(2)
    await h.advance(60)
    assert.ok(Math.max(...perTick()) <= 2)
    assert.ok(h.asked.length >= 2 * 25, `young invoices polled about every 2 s: ${h.asked.length}`)
  })

  it("a cue naming one invoice checks it at the next tick, among 200, and a cue is not a payment", async () => {
    const invoices = await watchMany(200)
    await h.advance(120)
    // One just checked, so not due again for a while: only the cue can bring it forward.
    const target = invoices.find((i) => i.id === h.asked[h.asked.length - 1])!
    h.asked.length = 0
    await h.runtime.runPromise(PubSub.publish(h.incoming, { invoiceId: target.id }))
    await h.advance(1)
    assert.ok(h.asked.includes(target.id), h.asked.join(" "))
    assert.equal(await h.payment(target.id.replace("inv-", "")), "unpaid", "the wallet said unpaid: the cue changed nothing")

    h.answers.set(target.id, "paid")
    h.asked.length = 0
    await h.runtime.runPromise(PubSub.publish(h.incoming, { invoiceId: target.id.toUpperCase() }))
    await h.advance(1)
    assert.deepEqual(h.asked.filter((id) => id === target.id), [target.id])
    assert.equal(await h.payment(target.id.replace("inv-", "")), "paid")
    // A cue for an invoice nobody watches costs nothing.
    h.asked.length = 0
    h.askedAt.length = 0
    await h.runtime.runPromise(PubSub.publish(h.incoming, { invoiceId: "inv-unknown" }))
    await h.advance(1)
    assert.ok(!h.asked.includes("inv-unknown"))
  })

  it("a cue naming no invoice checks at most the cap at the next tick", async () => {
    await watchMany(200)
    await h.advance(120)
    h.asked.length = 0
    h.askedAt.length = 0
    for (let i = 0; i < 50; i++) await h.runtime.runPromise(PubSub.publish(h.incoming, {}))
    await h.advance(1)
    assert.ok(h.asked.length <= CHECKS_PER_TICK && h.asked.length > 0, `${h.asked.length} checks`)
  })

  it("a wallet that never answers is not piled on: at most MAX_CHECKS_IN_FLIGHT checks wait at once", async () => {
    const invoices = await watchMany(200)
    for (const invoice of invoices) h.answers.set(invoice.id, "hang")
    await h.advance(CHECK_TIMEOUT_MS / 1000 - 2)
    assert.equal(h.asked.length, MAX_CHECKS_IN_FLIGHT, "the first checks are still waiting: no more start")
    await h.advance(4)
    assert.ok(h.asked.length > MAX_CHECKS_IN_FLIGHT, "once they time out, others get their turn")
  })
})

describe("pickChecks", () => {
  const entry = (name: string, since: number, lastChecked: number) => ({ name, since, lastChecked })
  it("takes turns: the cued and newest, then the longest unchecked, up to the slots", () => {
    const old = entry("old", 0, 0)
    const mid = entry("mid", 50, 60)
    const young = entry("young", 100, 100)
    const cued = entry("cued", 10, 200)
    const names = (xs: Array<{ name: string }>) => xs.map((x) => x.name)
    assert.deepEqual(names(pickChecks([cued], [old, mid, young], 4)), ["cued", "old", "young", "mid"])
    assert.deepEqual(names(pickChecks([], [old, mid, young], 2)), ["young", "old"])
    assert.deepEqual(names(pickChecks([], [old], 4)), ["old"])
    assert.deepEqual(names(pickChecks([], [old, mid, young], 0)), [])
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
