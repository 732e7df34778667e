/**
 * The Wallet the provider uses: Spark or NWC, as `sellCompute.wallet.backend` says at each call,
 * so switching the setting takes effect for the next job without a restart. Each backend bounds its
 * own calls (walletDeadlines.ts).
 */
import { Effect, Layer, Stream } from "effect"
import { makeNwcWallet } from "./NwcWallet"
import { Settings } from "./Settings"
import { makeSparkWallet, type SparkSdk } from "./SparkWallet"
import { Wallet, type WalletBackend } from "./Wallet"
import { WALLET_DEADLINES, type WalletDeadlines } from "./walletDeadlines"

export interface WalletLayerOptions {
  readonly loadSparkSdk?: () => Promise<SparkSdk>
  /** How long each wallet call may take; WALLET_DEADLINES unless a test or the headless host says otherwise. */
  readonly deadlines?: WalletDeadlines
  /** How a person sets each wallet up on this host, named when none is (default: VS Code's commands). */
  readonly setUpHint?: WalletSetUpHint
}

export interface WalletSetUpHint {
  readonly spark: string
  readonly nwc: string
}

export const VSCODE_SET_UP_HINT: WalletSetUpHint = {
  spark: "run \"Sell Compute: Set Up Wallet\"",
  nwc: "run \"Sell Compute: Connect NWC Wallet\""
}

export const walletLayer = (options: WalletLayerOptions = {}) =>
  Layer.effect(
    Wallet,
    Effect.gen(function*() {
      const settings = yield* Settings
      const deadlines = options.deadlines ?? WALLET_DEADLINES
      const hint = options.setUpHint ?? VSCODE_SET_UP_HINT
      const spark = yield* makeSparkWallet(options.loadSparkSdk, deadlines, hint.spark)
      const nwc = yield* makeNwcWallet(deadlines, hint.nwc)
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
