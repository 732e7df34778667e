/**
 * The whole provider as one layer, for both hosts: each host brings its own Settings and Secrets
 * (and a log sink); everything else is the same code.
 */
import { Effect, Layer } from "effect"
import { Fleet } from "./fleet/Fleet"
import { Identity } from "./services/Identity"
import { Inference } from "./services/Inference"
import { JobPipeline } from "./services/JobPipeline"
import { JobStore } from "./services/JobStore"
import { Kind5050DVM } from "./services/Kind5050DVM"
import { Nostr } from "./services/Nostr"
import { OnlineLock } from "./services/OnlineLock"
import { Settlement } from "./services/Settlement"
import type { Secrets } from "./services/Secrets"
import type { Settings } from "./services/Settings"
import { Wallet } from "./services/Wallet"
import { type WalletDeadlines, withDeadlines } from "./services/walletDeadlines"
import { walletLayer } from "./services/walletLayer"

export interface ProviderOptions {
  /** Where the job history lives; undefined keeps it in memory. */
  readonly dataDir: string | undefined
  /** Replaces the wallet chosen by settings (tests use a stand-in at this boundary); its calls get deadlines too. */
  readonly wallet?: Layer.Layer<Wallet, never, Secrets | Settings>
  /** The deadlines put on that wallet (default WALLET_DEADLINES; tests shorten them). */
  readonly walletDeadlines?: WalletDeadlines
  /**
   * A fleet of hosts sharing the key (fleet/PostgresFleet.ts: its JobStore and Fleet on PostgreSQL),
   * given by the headless host; without it the host is alone, its history in the data dir.
   */
  readonly fleet?: Layer.Layer<Fleet | JobStore>
}

export const providerLayer = (options: ProviderOptions) => {
  const services = Layer.mergeAll(
    Nostr.layer,
    Inference.layer,
    Identity.layer,
    options.fleet ?? Layer.provideMerge(Fleet.solo, JobStore.layer(options.dataDir)),
    // Fleet hosts share the key and the database, not a data dir: the per-dir lock is not theirs.
    OnlineLock.layer(options.fleet ? undefined : options.dataDir),
    options.wallet ? boundedWallet(options.wallet, options.walletDeadlines) : walletLayer()
  )
  return Kind5050DVM.layer.pipe(
    Layer.provideMerge(JobPipeline.layer),
    Layer.provideMerge(Settlement.layer),
    Layer.provideMerge(services)
  )
}

/** Any wallet, stand-ins included, answers within the deadlines, so nothing waits on it forever. */
const boundedWallet = (wallet: Layer.Layer<Wallet, never, Secrets | Settings>, deadlines?: WalletDeadlines) =>
  Layer.effect(Wallet, Effect.map(Effect.service(Wallet), (w) => withDeadlines(w, deadlines))).pipe(Layer.provide(wallet))
