// The Spark wallet at the SDK boundary: an injected double records the calls we make and answers
// as the SDK does (no Spark network exists here).
import assert from "node:assert/strict"
import { Effect, Fiber, Layer, ManagedRuntime, Stream, SubscriptionRef } from "effect"
import { type Config, defaultConfig } from "../../src/dvm/config"
import { Secrets } from "../../src/dvm/services/Secrets"
import { Settings } from "../../src/dvm/services/Settings"
import { SPARK_ACCOUNT_NUMBER, type SparkSdk, type SparkWalletLike } from "../../src/dvm/services/SparkWallet"
import { walletLayer } from "../../src/dvm/services/walletLayer"
import { Wallet } from "../../src/dvm/services/Wallet"

const MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"

const makeDouble = () => {
  const calls: Array<{ method: string; args: unknown }> = []
  let status: string | null = "INVOICE_CREATED"
  let cleanedUp = 0
  let claimed: ((...args: Array<unknown>) => void) | undefined
  const wallet: SparkWalletLike = {
    createLightningInvoice: async (params) => {
      calls.push({ method: "createLightningInvoice", args: params })
      return { id: "receive-1", invoice: { encodedInvoice: "lnbc30n1double", expiresAt: new Date(Date.now() + params.expirySeconds * 1000).toISOString() } }
    },
    getLightningReceiveRequest: async (id) => {
      calls.push({ method: "getLightningReceiveRequest", args: id })
      return status === null ? null : { status }
    },
    getBalance: async () => ({ balance: 1234n }),
    getSparkAddress: async () => "sp1double",
    on: (event, listener) => {
      calls.push({ method: "on", args: event })
      claimed = listener
    },
    cleanup: async () => {
      cleanedUp++
    }
  }
  const sdk: SparkSdk = {
    initialize: async (props) => {
      calls.push({ method: "initialize", args: props })
      return { wallet }
    }
  }
  return { sdk, calls, setStatus: (s: string | null) => (status = s), cleanedUp: () => cleanedUp, claim: () => claimed?.("transfer-1", 1234n) }
}

const runtimeWith = (sdk: SparkSdk, secrets: Record<string, string>, network: "MAINNET" | "REGTEST" = "MAINNET") =>
  ManagedRuntime.make(
    walletLayer({ loadSparkSdk: async () => sdk }).pipe(
      Layer.provide(Layer.mergeAll(Settings.fixed({ ...defaultConfig, "spark.network": network }), Secrets.inMemory(secrets)))
    )
  )

describe("Spark wallet (SDK double)", () => {
  it("initializes with the stored mnemonic, the configured network and an explicit account number", async () => {
    const double = makeDouble()
    const runtime = runtimeWith(double.sdk, { sparkMnemonic: MNEMONIC }, "REGTEST")
    const status = await runtime.runPromise(Effect.gen(function*() {
      return yield* (yield* Wallet).status
    }))
    assert.deepEqual(status, { backend: "spark", ready: true, balanceSats: 1234, address: "sp1double" })
    assert.deepEqual(double.calls[0], {
      method: "initialize",
      args: { mnemonicOrSeed: MNEMONIC, accountNumber: SPARK_ACCOUNT_NUMBER, options: { network: "REGTEST" } }
    })
    await runtime.dispose()
    assert.equal(double.cleanedUp(), 1, "cleanup() on dispose")
  })

  it("creates an invoice with the amount, memo and a short expiry, and maps its status", async () => {
    const double = makeDouble()
    const runtime = runtimeWith(double.sdk, { sparkMnemonic: MNEMONIC })
    const wallet = await runtime.runPromise(Effect.gen(function*() {
      return yield* Wallet
    }))
    const invoice = await runtime.runPromise(wallet.createInvoice({ amountSats: 3, memo: "job abc", expirySeconds: 600 }))
    assert.deepEqual(double.calls.find((c) => c.method === "createLightningInvoice")?.args, { amountSats: 3, memo: "job abc", expirySeconds: 600 })
    assert.equal(invoice.bolt11, "lnbc30n1double")
    assert.equal(invoice.id, "receive-1")
    assert.ok(Math.abs(invoice.expiresAt - (Date.now() / 1000 + 600)) < 5)

    assert.equal(invoice.backend, "spark", "the invoice names the backend that can verify it")
    assert.equal(await runtime.runPromise(wallet.invoiceStatus(invoice)), "unpaid")
    double.setStatus("TRANSFER_COMPLETED")
    assert.equal(await runtime.runPromise(wallet.invoiceStatus(invoice)), "paid")
    double.setStatus("INVOICE_CREATED")
    // Past its expiry it is still only unpaid: Settlement expires it, after a grace for a late payment.
    assert.equal(await runtime.runPromise(wallet.invoiceStatus({ ...invoice, expiresAt: Date.now() / 1000 - 1 })), "unpaid")
    await runtime.dispose()
  })

  it("maps Spark's receive statuses: in flight is pending (even past expiry), failed or not found is unpaid, unknown is pending", async () => {
    const double = makeDouble()
    const runtime = runtimeWith(double.sdk, { sparkMnemonic: MNEMONIC })
    const wallet = await runtime.runPromise(Effect.gen(function*() {
      return yield* Wallet
    }))
    const expired = { ...(await runtime.runPromise(wallet.createInvoice({ amountSats: 3, memo: "job", expirySeconds: 600 }))), expiresAt: Date.now() / 1000 - 1 }
    const statusFor = async (status: string | null) => {
      double.setStatus(status)
      return await runtime.runPromise(wallet.invoiceStatus(expired))
    }
    for (const inFlight of ["PAYMENT_PREIMAGE_RECOVERED", "LIGHTNING_PAYMENT_RECEIVED", "TRANSFER_CREATED"]) {
      assert.equal(await statusFor(inFlight), "pending", inFlight)
    }
    for (
      const failed of [
        "TRANSFER_CREATION_FAILED",
        "REFUND_SIGNING_COMMITMENTS_QUERYING_FAILED",
        "REFUND_SIGNING_FAILED",
        "PAYMENT_PREIMAGE_RECOVERING_FAILED",
        "TRANSFER_FAILED"
      ]
    ) {
      assert.equal(await statusFor(failed), "unpaid", failed)
    }
    assert.equal(await statusFor(null), "unpaid", "no such receive request")
    assert.equal(await statusFor("FUTURE_VALUE"), "pending", "a status added after SDK 0.8 is never taken for no payment")
    assert.equal(await statusFor("TRANSFER_COMPLETED"), "paid")
    await runtime.dispose()
  })

  it("is not ready, with a reason naming the fix, when no mnemonic is stored, and never loads the SDK", async () => {
    let loaded = false
    const runtime = ManagedRuntime.make(
      walletLayer({
        loadSparkSdk: async () => {
          loaded = true
          return makeDouble().sdk
        }
      }).pipe(Layer.provide(Layer.mergeAll(Settings.fixed(defaultConfig), Secrets.inMemory())))
    )
    const status = await runtime.runPromise(Effect.gen(function*() {
      return yield* (yield* Wallet).status
    }))
    assert.equal(status.ready, false)
    assert.match(status.error ?? "", /Set Up Wallet|SELL_COMPUTE_SPARK_MNEMONIC/)
    assert.equal(loaded, false)
    await runtime.dispose()
  })
})

describe("Spark wallet: a changed network or mnemonic", () => {
  it("cleans up the old wallet and initializes the one the settings now name", async () => {
    const double = makeDouble()
    const ref = await Effect.runPromise(SubscriptionRef.make<Config>({ ...defaultConfig, "spark.network": "REGTEST" }))
    const runtime = ManagedRuntime.make(
      walletLayer({ loadSparkSdk: async () => double.sdk }).pipe(
        Layer.provide(Layer.mergeAll(Settings.fromRef(ref), Secrets.inMemory({ sparkMnemonic: MNEMONIC })))
      )
    )
    const status = Effect.gen(function*() {
      return yield* (yield* Wallet).status
    })
    await runtime.runPromise(status)
    await Effect.runPromise(SubscriptionRef.update(ref, (c) => ({ ...c, "spark.network": "MAINNET" as const })))
    await runtime.runPromise(status)
    const networks = double.calls.filter((c) => c.method === "initialize").map((c) => (c.args as { options: { network: string } }).options.network)
    assert.deepEqual(networks, ["REGTEST", "MAINNET"])
    assert.equal(double.cleanedUp(), 1, "the REGTEST wallet was cleaned up")
    await runtime.dispose()
  })

  it("re-checks open invoices when the SDK reports funds claimed", async () => {
    const double = makeDouble()
    const runtime = runtimeWith(double.sdk, { sparkMnemonic: MNEMONIC })
    const cues = await runtime.runPromise(Effect.gen(function*() {
      const wallet = yield* Wallet
      yield* wallet.status // connects, which registers the listener
      const fiber = yield* Effect.forkChild(Stream.runHead(wallet.incoming))
      yield* Effect.sleep("10 millis")
      double.claim()
      return yield* Fiber.join(fiber)
    }))
    assert.equal(cues._tag, "Some")
    assert.ok(double.calls.some((c) => c.method === "on" && c.args === "transfer:claimed"))
    await runtime.dispose()
  })
})
