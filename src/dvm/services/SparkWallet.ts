/**
 * The Spark wallet behind the Wallet interface. The SDK is loaded lazily on first use; the wallet
 * is created from the mnemonic in Secrets with the network from settings and an explicit account
 * number (the SDK's default differs by network, so a restore would otherwise yield another wallet).
 */
import { Effect, PubSub, Stream } from "effect"
import { WalletError } from "../errors"
import { Secrets } from "./Secrets"
import { Settings } from "./Settings"
import { type InvoiceStatus, type IssuedInvoice, Wallet, type WalletCue, type WalletStatus } from "./Wallet"
import { arriveWithin, secondsOf, WALLET_DEADLINES, type WalletDeadlines, withDeadlines } from "./walletDeadlines"

/** The part of the Spark SDK we use; tests inject a double of exactly this. */
export interface SparkWalletLike {
  createLightningInvoice(params: { amountSats: number; memo: string; expirySeconds: number }): Promise<{
    id: string
    invoice: { encodedInvoice: string; expiresAt: string }
  }>
  getLightningReceiveRequest(id: string): Promise<{ status: string } | null>
  getBalance(): Promise<{ balance: bigint }>
  getSparkAddress(): Promise<string>
  on(event: "transfer:claimed", listener: (...args: Array<unknown>) => void): unknown
  cleanup(): Promise<void>
}

export interface SparkSdk {
  initialize(props: {
    mnemonicOrSeed: string
    accountNumber: number
    options: { network: "MAINNET" | "REGTEST" }
  }): Promise<{ wallet: SparkWalletLike }>
}

export const SPARK_ACCOUNT_NUMBER = 1

const loadSparkSdk = async (): Promise<SparkSdk> => {
  // Kept out of the main bundle by esbuild (see esbuild.mjs); resolved next to this file at run time.
  const module = (await import("./sparkSdk.js")) as { SparkWallet: unknown }
  return module.SparkWallet as SparkSdk
}

/**
 * Spark's LightningReceiveRequestStatus (SDK 0.8), in order: the SSP recovers the preimage, the
 * Lightning payment settles with it, then a Spark transfer to us is created and claimed.
 */
const SPARK_IN_FLIGHT = new Set(["PAYMENT_PREIMAGE_RECOVERED", "LIGHTNING_PAYMENT_RECEIVED", "TRANSFER_CREATED"])
const SPARK_FAILED = new Set([
  "REFUND_SIGNING_COMMITMENTS_QUERYING_FAILED",
  "REFUND_SIGNING_FAILED",
  "PAYMENT_PREIMAGE_RECOVERING_FAILED",
  "TRANSFER_CREATION_FAILED",
  "TRANSFER_FAILED"
])

/**
 * Paid only when the transfer reached the wallet. A failed attempt is not a payment (the invoice
 * expires as if unpaid); no request found is unpaid; a status this code does not know (the SDK's
 * FUTURE_VALUE) is taken for a payment in flight, so a payment is never lost to a new status.
 */
export const sparkInvoiceStatus = (status: string | undefined): InvoiceStatus =>
  status === "TRANSFER_COMPLETED"
    ? "paid"
    : status === undefined || status === "INVOICE_CREATED" || SPARK_FAILED.has(status)
    ? "unpaid"
    : "pending"

const reasonOf = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause)).slice(0, 300)

/** How long disposing waits for a wallet's cleanup (it goes on in the background past that). */
const CLEANUP_WAIT_MS = 3000

/**
 * The Spark implementation of Wallet; `loadSdk` is replaced by a double in tests. Every call is
 * bounded by `deadlines`: the SDK's own calls can hang forever, and its initialize cannot be
 * aborted, so one given up is cleaned up whenever it arrives.
 */
export const makeSparkWallet = (
  loadSdk: () => Promise<SparkSdk> = loadSparkSdk,
  deadlines: WalletDeadlines = WALLET_DEADLINES,
  /** How to set one up on this host (its words: a command, or an environment variable; walletLayer.ts). */
  setUpHint: string
) =>
    Effect.gen(function*() {
      const secrets = yield* Secrets
      const settings = yield* Settings
      let wallet: Promise<SparkWalletLike> | undefined
      /** The mnemonic and network `wallet` was made from: a change to either means another wallet. */
      let madeFrom: string | undefined
      const incoming = yield* PubSub.unbounded<WalletCue>()
      /** Invoice and status pairs already logged. */
      const noted = new Set<string>()

      const reset = Effect.suspend(() => {
        const pending = wallet
        wallet = undefined
        if (!pending) return Effect.void
        // One still initializing is cleaned up when it arrives; disposing does not wait for that.
        const cleaned = pending.then((w) => w.cleanup()).catch(() => undefined)
        return Effect.promise(() => cleaned).pipe(Effect.timeoutOption(CLEANUP_WAIT_MS), Effect.asVoid)
      })

      const start = (mnemonic: string, network: "MAINNET" | "REGTEST") => {
        const initialized = loadSdk().then((sdk) =>
          sdk.initialize({ mnemonicOrSeed: mnemonic, accountNumber: SPARK_ACCOUNT_NUMBER, options: { network } })
        ).then((r) => r.wallet)
        const started = arriveWithin(
          initialized,
          deadlines.connectMs,
          `no answer from Spark within ${secondsOf(deadlines.connectMs)}`,
          (late) => void late.cleanup().catch(() => undefined)
        ).then((w) => {
          w.on("transfer:claimed", () => PubSub.publishUnsafe(incoming, {}))
          return w
        })
        // The one owner of a failed start: forgotten, so the next call starts afresh.
        started.catch(() => {
          if (wallet === started) wallet = undefined
        })
        return started
      }

      const connect = Effect.gen(function*() {
        const mnemonic = yield* secrets.get("sparkMnemonic")
        if (!mnemonic) {
          return yield* new WalletError({ message: `No Spark wallet is set up yet (${setUpHint})` })
        }
        const network = (yield* settings.current)["spark.network"]
        if (wallet && madeFrom !== `${network} ${mnemonic}`) yield* reset
        madeFrom = `${network} ${mnemonic}`
        const current = wallet ??= start(mnemonic, network)
        return yield* Effect.tryPromise({
          try: () => current,
          catch: (cause) => new WalletError({ message: `Spark wallet could not connect: ${reasonOf(cause)}` })
        })
      })

      const status = connect.pipe(
        Effect.flatMap((w) =>
          Effect.tryPromise({
            try: () => Promise.all([w.getBalance(), w.getSparkAddress()]),
            catch: (cause) => new WalletError({ message: reasonOf(cause) })
          })),
        Effect.map(([b, address]): WalletStatus => ({ backend: "spark", ready: true, balanceSats: Number(b.balance), address })),
        Effect.catch((e) => Effect.succeed<WalletStatus>({ backend: "spark", ready: false, error: e.message }))
      )

      const createInvoice = (request: { amountSats: number; memo: string; expirySeconds: number }) =>
        Effect.gen(function*() {
          const w = yield* connect
          const created = yield* Effect.tryPromise({
            try: () => w.createLightningInvoice({ amountSats: request.amountSats, memo: request.memo, expirySeconds: request.expirySeconds }),
            catch: (cause) => new WalletError({ message: `Spark could not create an invoice: ${reasonOf(cause)}` })
          })
          return {
            id: created.id,
            bolt11: created.invoice.encodedInvoice,
            amountSats: request.amountSats,
            expiresAt: Math.floor(new Date(created.invoice.expiresAt).getTime() / 1000),
            backend: "spark"
          } satisfies IssuedInvoice
        })

      const invoiceStatus = (invoice: IssuedInvoice) =>
        Effect.gen(function*() {
          const w = yield* connect
          const request = yield* Effect.tryPromise({
            try: () => w.getLightningReceiveRequest(invoice.id),
            catch: (cause) => new WalletError({ message: `Spark could not look up invoice: ${reasonOf(cause)}` })
          })
          const status = request?.status
          const failed = status !== undefined && SPARK_FAILED.has(status)
          const unknown = status !== undefined && sparkInvoiceStatus(status) === "pending" && !SPARK_IN_FLIGHT.has(status)
          // Said once per invoice and status: a failure may be a payment that never reached us.
          if ((failed || unknown) && !noted.has(`${invoice.id} ${status}`)) {
            noted.add(`${invoice.id} ${status}`)
            yield* Effect.logWarning(
              failed
                ? `Spark reports ${status} for invoice ${invoice.id}: not counted as paid`
                : `Spark reports an unknown status ${status} for invoice ${invoice.id}: taken for a payment in flight`
            )
          }
          // Spark has no EXPIRED status: Settlement expires an unpaid invoice by its clock.
          return sparkInvoiceStatus(status)
        })

      yield* Effect.addFinalizer(() => reset)

      return Wallet.of(withDeadlines({ status, createInvoice, invoiceStatus, backend: Effect.succeed("spark"), incoming: Stream.fromPubSub(incoming), reset }, deadlines))
    })
