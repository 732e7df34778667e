/**
 * The Wallet the provider uses: Spark or NWC, as `sellCompute.wallet.backend` says at each call,
 * so switching the setting takes effect for the next job without a restart.
 */
import { Effect, Layer, Stream } from "effect"
import { makeNwcWallet } from "./NwcWallet"
import { Settings } from "./Settings"
import { makeSparkWallet, type SparkSdk } from "./SparkWallet"
import { Wallet, type WalletBackend } from "./Wallet"

export const walletLayer = (options: { readonly loadSparkSdk?: () => Promise<SparkSdk> } = {}) =>
  Layer.effect(
    Wallet,
    Effect.gen(function*() {
      const settings = yield* Settings
      const spark = yield* makeSparkWallet(options.loadSparkSdk)
      const nwc = yield* makeNwcWallet
      const backend = Effect.map(settings.current, (config): WalletBackend => (config["wallet.backend"] === "nwc" ? "nwc" : "spark"))
      const current = Effect.map(backend, (b) => (b === "nwc" ? nwc : spark))
      return Wallet.of({
        backend,
        status: Effect.flatMap(current, (w) => w.status),
        createInvoice: (request) => Effect.flatMap(current, (w) => w.createInvoice(request)),
        invoiceStatus: (invoice) => Effect.flatMap(current, (w) => w.invoiceStatus(invoice)),
        incoming: Stream.merge(spark.incoming, nwc.incoming),
        reset: Effect.andThen(spark.reset, nwc.reset)
      })
    })
  )
