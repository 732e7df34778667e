// Deadlines on every wallet call: a Spark SDK double whose calls hang until the test lets them go
// (as the real SDK's can, forever), and any Wallet wrapped by withDeadlines. A hung call ends at its
// deadline with a readable reason, an initialize given up is cleaned up when it arrives, nothing
// rejects without an owner, and the next call with a healthy wallet succeeds.
import assert from "node:assert/strict"
import { Effect, Exit, Layer, ManagedRuntime, Stream } from "effect"
import { defaultConfig } from "../../src/dvm/config"
import { Secrets } from "../../src/dvm/services/Secrets"
import { Settings } from "../../src/dvm/services/Settings"
import type { SparkSdk, SparkWalletLike } from "../../src/dvm/services/SparkWallet"
import { Wallet } from "../../src/dvm/services/Wallet"
import { type WalletDeadlines, withDeadlines } from "../../src/dvm/services/walletDeadlines"
import { walletLayer } from "../../src/dvm/services/walletLayer"

const MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
const DEADLINES: WalletDeadlines = { connectMs: 1000, statusMs: 200, createInvoiceMs: 200, invoiceStatusMs: 200 }

/** A promise the test settles when it likes; until then, the call hangs. */
const gate = <A>() => {
  let open!: (value: A) => void
  let fail!: (error: Error) => void
  const promise = new Promise<A>((resolve, reject) => {
    open = resolve
    fail = reject
  })
  return { promise, open, fail }
}

type Hang = "initialize" | "createLightningInvoice" | "getLightningReceiveRequest" | "getBalance"

/** An SDK double: each wallet it makes counts its cleanups; a method in `hang` waits on a gate. */
const makeSdk = () => {
  const hang = new Set<Hang>()
  const gates: Array<ReturnType<typeof gate<unknown>>> = []
  const wallets: Array<{ cleanedUp: number }> = []
  const held = <A>(method: Hang, answer: () => A): Promise<A> => {
    if (!hang.has(method)) return Promise.resolve(answer())
    const g = gate<unknown>()
    gates.push(g)
    return g.promise.then(() => answer())
  }
  const makeWallet = (): SparkWalletLike => {
    const record = { cleanedUp: 0 }
    wallets.push(record)
    return {
      createLightningInvoice: (params) =>
        held("createLightningInvoice", () => ({
          id: "receive-1",
          invoice: { encodedInvoice: "lnbc50n1double", expiresAt: new Date(Date.now() + params.expirySeconds * 1000).toISOString() }
        })),
      getLightningReceiveRequest: () => held("getLightningReceiveRequest", () => ({ status: "INVOICE_CREATED" })),
      getBalance: () => held("getBalance", () => ({ balance: 21n })),
      getSparkAddress: async () => "sp1double",
      on: () => undefined,
      cleanup: async () => {
        record.cleanedUp++
      }
    }
  }
  const sdk: SparkSdk = { initialize: () => held("initialize", () => ({ wallet: makeWallet() })) }
  /** Lets every hung call go (they answer late, after their callers gave up). */
  const release = () => gates.splice(0).forEach((g) => g.open(undefined))
  return { sdk, hang, wallets, release }
}

const sparkRuntime = (sdk: SparkSdk) =>
  ManagedRuntime.make(walletLayer({ loadSparkSdk: async () => sdk, deadlines: DEADLINES }).pipe(
    Layer.provide(Layer.mergeAll(Settings.fixed({ ...defaultConfig, "spark.network": "REGTEST" }), Secrets.inMemory({ sparkMnemonic: MNEMONIC })))
  ))

const failureOf = async (exit: Exit.Exit<unknown, { message: string }>) => {
  assert.ok(Exit.isFailure(exit), "the call failed")
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  assert.ok(reason && reason._tag === "Fail", `a typed failure, not ${String(exit.cause)}`)
  assert.equal((reason.error as { _tag?: string })._tag, "WalletError")
  return (reason.error as { message: string }).message
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe("wallet deadlines: a Spark SDK that hangs", () => {
  const unhandled: Array<unknown> = []
  const onUnhandled = (reason: unknown) => void unhandled.push(reason)
  let runtime: ReturnType<typeof sparkRuntime> | undefined
  before(() => process.on("unhandledRejection", onUnhandled))
  after(() => process.off("unhandledRejection", onUnhandled))
  beforeEach(() => (unhandled.length = 0))
  afterEach(async () => {
    await runtime?.dispose()
    runtime = undefined
    assert.deepEqual(unhandled.map(String), [], "no promise rejected without a handler")
  })

  const start = () => {
    const double = makeSdk()
    runtime = sparkRuntime(double.sdk)
    const rt = runtime
    const wallet = rt.runPromise(Effect.gen(function*() {
      return yield* Wallet
    }))
    return { double, rt, wallet }
  }

  it("an initialize that never returns: status is not ready at its deadline, an invoice fails, and the late wallet is cleaned up", async () => {
    const { double, rt, wallet: w } = start()
    const wallet = await w
    double.hang.add("initialize")
    const status = await rt.runPromise(wallet.status)
    assert.deepEqual(status, { backend: "spark", ready: false, error: "no answer from the wallet within 0.2 s" })
    const message = await failureOf(await rt.runPromiseExit(wallet.createInvoice({ amountSats: 5, memo: "job", expirySeconds: 600 })))
    assert.equal(message, "no answer from the wallet within 0.2 s")
    assert.ok(!message.includes("abandon"), "no word of the phrase")

    // Past the connect deadline the start is given up: the next call starts afresh, and succeeds.
    await sleep(DEADLINES.connectMs)
    double.hang.delete("initialize")
    assert.deepEqual(await rt.runPromise(wallet.status), { backend: "spark", ready: true, balanceSats: 21, address: "sp1double" })

    // The initialize given up on answers at last: the wallet it makes is cleaned up, never used.
    double.release()
    await sleep(20)
    assert.equal(double.wallets.length, 2, "the healthy wallet, then the late one")
    assert.deepEqual(double.wallets.map((x) => x.cleanedUp), [0, 1])
    const invoice = await rt.runPromise(wallet.createInvoice({ amountSats: 5, memo: "job", expirySeconds: 600 }))
    assert.equal(invoice.bolt11, "lnbc50n1double")
  })

  it("an initialize slower than a status call but within the connect deadline is kept for the next call", async () => {
    const { double, rt, wallet: w } = start()
    const wallet = await w
    double.hang.add("initialize")
    assert.equal((await rt.runPromise(wallet.status)).ready, false)
    double.hang.delete("initialize")
    double.release()
    assert.equal((await rt.runPromise(wallet.status)).ready, true)
    assert.deepEqual(double.wallets.map((x) => x.cleanedUp), [0], "one wallet, initialized once, in use")
  })

  it("createLightningInvoice, getLightningReceiveRequest and getBalance that never return end at their deadlines", async () => {
    const { double, rt, wallet: w } = start()
    const wallet = await w
    const invoice = await rt.runPromise(wallet.createInvoice({ amountSats: 5, memo: "job", expirySeconds: 600 }))
    for (const method of ["createLightningInvoice", "getLightningReceiveRequest", "getBalance"] as const) double.hang.add(method)
    assert.equal(
      await failureOf(await rt.runPromiseExit(wallet.createInvoice({ amountSats: 5, memo: "job", expirySeconds: 600 }))),
      "no answer from the wallet within 0.2 s"
    )
    assert.equal(await failureOf(await rt.runPromiseExit(wallet.invoiceStatus(invoice))), "no answer from the wallet within 0.2 s")
    assert.deepEqual(await rt.runPromise(wallet.status), { backend: "spark", ready: false, error: "no answer from the wallet within 0.2 s" })

    double.hang.clear()
    double.release()
    assert.equal(await rt.runPromise(wallet.invoiceStatus(invoice)), "unpaid")
    assert.equal((await rt.runPromise(wallet.status)).ready, true)
  })

  it("disposing while initialize hangs does not wait for it, and cleans up the wallet when it arrives", async () => {
    const { double, rt, wallet: w } = start()
    const wallet = await w
    double.hang.add("initialize")
    assert.equal((await rt.runPromise(wallet.status)).ready, false)
    await rt.dispose() // would hang for ever if it waited for initialize
    runtime = undefined
    double.release()
    await sleep(20)
    assert.deepEqual(double.wallets.map((x) => x.cleanedUp), [1])
  })
})

describe("withDeadlines around any Wallet", () => {
  it("bounds a stand-in that never answers, then passes a healthy answer through", async () => {
    let hung = true
    const never = <A>(value: A) => Effect.suspend(() => (hung ? Effect.never : Effect.succeed(value)))
    const inner = Wallet.of({
      status: never({ backend: "stand-in", ready: true }),
      createInvoice: (r) => never({ id: "i", bolt11: "lnbc1", amountSats: r.amountSats, expiresAt: 0 }),
      invoiceStatus: () => never("paid" as const),
      incoming: Stream.empty,
      reset: Effect.void
    })
    const wallet = withDeadlines(inner, DEADLINES)
    assert.deepEqual(await Effect.runPromise(wallet.status), { backend: "wallet", ready: false, error: "no answer from the wallet within 0.2 s" })
    const exit = await Effect.runPromiseExit(wallet.createInvoice({ amountSats: 1, memo: "", expirySeconds: 60 }))
    assert.equal(await failureOf(exit), "no answer from the wallet within 0.2 s")
    const check = await Effect.runPromiseExit(wallet.invoiceStatus({ id: "i", bolt11: "lnbc1", amountSats: 1, expiresAt: 0 }))
    assert.equal(await failureOf(check), "no answer from the wallet within 0.2 s")
    hung = false
    assert.equal(await Effect.runPromise(wallet.invoiceStatus({ id: "i", bolt11: "lnbc1", amountSats: 1, expiresAt: 0 })), "paid")
    assert.equal((await Effect.runPromise(wallet.status)).ready, true)
  })
})
