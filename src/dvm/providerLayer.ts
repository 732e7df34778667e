/**
 * The whole provider as one layer, for both hosts: each host brings its own Settings and Secrets
 * (and a log sink); everything else is the same code.
 */
import { Layer } from "effect"
import { Identity } from "./services/Identity"
import { Inference } from "./services/Inference"
import { JobStore } from "./services/JobStore"
import { Kind5050DVM } from "./services/Kind5050DVM"
import { Nostr } from "./services/Nostr"
import type { Secrets } from "./services/Secrets"
import type { Settings } from "./services/Settings"
import { sparkWalletLayer } from "./services/SparkWallet"
import type { Wallet } from "./services/Wallet"

export interface ProviderOptions {
  /** Where the job history lives; undefined keeps it in memory. */
  readonly dataDir: string | undefined
  /** Replaces the Spark wallet (tests use a stand-in at this boundary). */
  readonly wallet?: Layer.Layer<Wallet, never, Secrets | Settings>
}

export const providerLayer = (options: ProviderOptions) => {
  const services = Layer.mergeAll(
    Nostr.layer,
    Inference.layer,
    Identity.layer,
    JobStore.layer(options.dataDir),
    options.wallet ?? sparkWalletLayer()
  )
  return Kind5050DVM.layer.pipe(Layer.provideMerge(services))
}
