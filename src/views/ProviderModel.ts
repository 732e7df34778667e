/**
 * What the status bar and the panel show, as one plain snapshot: the core's refs and streams are
 * mirrored into it for as long as the runtime lives, and the checks (Ollama, wallet, identity) put
 * their answers in it. Free of `vscode`, so the host's getters and tests read it without Effect.
 */
import { Effect, Stream, SubscriptionRef } from "effect"
import { type Config, defaultConfig } from "../dvm/config"
import { Identity } from "../dvm/services/Identity"
import { Inference, type InferenceStatus } from "../dvm/services/Inference"
import { type Earnings, type JobRecord, JobStore } from "../dvm/services/JobStore"
import type { DvmStatus } from "../dvm/services/Kind5050DVM"
import { Kind5050DVM } from "../dvm/services/Kind5050DVM"
import { normalizeRelayUrl, Nostr, type RelayState } from "../dvm/services/Nostr"
import { Settings } from "../dvm/services/Settings"
import { Wallet, type WalletStatus } from "../dvm/services/Wallet"

/** How many jobs the panel lists. */
export const RECENT_JOBS_LIMIT = 50
const JOB_REFRESH_INTERVAL = "150 millis"

export interface ProviderSnapshot {
  readonly status: DvmStatus
  readonly config: Config
  readonly relays: ReadonlyArray<RelayState>
  readonly recentJobs: ReadonlyArray<JobRecord>
  readonly earnings: Earnings
  /** Undefined until checked (checks are never made at activation: they may touch the network). */
  readonly ollama?: InferenceStatus
  readonly wallet?: WalletStatus
  readonly npub?: string
  readonly identityError?: string
  readonly checking: boolean
  readonly checkedAt?: number
  /** Why the job history cannot be written right now (its changes are kept and retried). */
  readonly historyProblem?: string
  /** Whether the selected wallet backend has its secret stored (a local look, no network); undefined until looked. */
  readonly walletSecret?: boolean
  /** The self-test (Test My Provider): running, or its last report. */
  readonly selfTest?: SelfTestView
}

/** The self-test for the dashboard: a line per relay, ok once passed, false once failed. */
export interface SelfTestView {
  readonly running: boolean
  /** When it ended (ms). */
  readonly finishedAt?: number
  readonly relays: ReadonlyArray<{ readonly url: string; readonly ok?: boolean; readonly text: string }>
}

export const initialSnapshot: ProviderSnapshot = {
  status: { state: "offline", activeJobs: 0 },
  config: defaultConfig,
  relays: [],
  recentJobs: [],
  earnings: { jobsToday: 0, satsEarnedToday: 0, satsEarnedTotal: 0 },
  checking: false
}

export class ProviderModel {
  #snapshot: ProviderSnapshot = initialSnapshot
  readonly #listeners = new Set<(snapshot: ProviderSnapshot) => void>()

  get snapshot(): ProviderSnapshot {
    return this.#snapshot
  }

  update(patch: Partial<ProviderSnapshot>): void {
    this.#snapshot = { ...this.#snapshot, ...patch }
    for (const listener of [...this.#listeners]) listener(this.#snapshot)
  }

  onDidChange(listener: (snapshot: ProviderSnapshot) => void): { dispose(): void } {
    this.#listeners.add(listener)
    return { dispose: () => void this.#listeners.delete(listener) }
  }
}

/** Keeps the model in step with the core until the surrounding scope closes. */
export const mirrorProvider = (model: ProviderModel) =>
  Effect.gen(function*() {
    const dvm = yield* Kind5050DVM
    const nostr = yield* Nostr
    const store = yield* JobStore
    const settings = yield* Settings

    const readJobs = Effect.gen(function*() {
      model.update({ recentJobs: yield* store.recent(RECENT_JOBS_LIMIT), earnings: yield* store.earnings })
    })
    // Started at once, so each stream is subscribed before the first read below: no change falls between.
    const follow = <A>(changes: Stream.Stream<A>, apply: (value: A) => Effect.Effect<void>) =>
      changes.pipe(Stream.runForEach(apply), Effect.forkScoped({ startImmediately: true }))

    // The identity in use while online; a key changed meanwhile (already in the model) wins.
    yield* follow(SubscriptionRef.changes(dvm.status), (status) =>
      Effect.sync(() => model.update({ status, npub: model.snapshot.npub ?? status.npub })))
    yield* follow(SubscriptionRef.changes(nostr.relayStates), (relays) => Effect.sync(() => model.update({ relays })))
    yield* follow(settings.changes, (config) => Effect.sync(() => model.update({ config })))
    yield* follow(SubscriptionRef.changes(store.writeProblem), (historyProblem) => Effect.sync(() => model.update({ historyProblem })))
    // A flood of jobs changes the store thousands of times a second: the first change of a quiet
    // spell schedules one re-read a moment later, which covers every change until then.
    const scope = yield* Effect.scope
    let rereadScheduled = false
    const scheduleReread = Effect.suspend(() => {
      if (rereadScheduled) return Effect.void
      rereadScheduled = true
      return Effect.sleep(JOB_REFRESH_INTERVAL).pipe(
        Effect.andThen(Effect.sync(() => (rereadScheduled = false))),
        Effect.andThen(readJobs),
        Effect.forkIn(scope),
        Effect.asVoid
      )
    })
    yield* follow(store.changes, () => scheduleReread)
    yield* readJobs
  })

/** Asks Ollama, the wallet and the identity how they are, each answer into the model as it comes. */
export const checkProvider = (model: ProviderModel) =>
  Effect.gen(function*() {
    const inference = yield* Inference
    const wallet = yield* Wallet
    const identity = yield* Identity
    const store = yield* JobStore
    const config = yield* (yield* Settings).current
    model.update({ checking: true })

    const checkOllama = Effect.map(inference.status, (ollama) => model.update({ ollama }))
    // In free mode the wallet is not used: don't connect it (a Spark wallet loads its SDK and goes online).
    const checkWallet = config["payment.mode"] === "free"
      ? Effect.sync(() => model.update({ wallet: undefined }))
      : Effect.map(wallet.status, (status) => model.update({ wallet: status }))
    const checkIdentity = identity.keys.pipe(
      Effect.map((keys) => model.update({ npub: keys.npub, identityError: undefined })),
      Effect.catch((e) => Effect.sync(() => model.update({ identityError: e.message })))
    )
    const checkEarnings = Effect.map(store.earnings, (earnings) => model.update({ earnings }))

    yield* Effect.all([checkOllama, checkWallet, checkIdentity, checkEarnings], { concurrency: "unbounded", discard: true })
  }).pipe(Effect.ensuring(Effect.sync(() => model.update({ checking: false, checkedAt: Date.now() }))))

/** The configured relays, each with its connection state ("offline" when we are not connecting it). */
export type RelayView = Omit<RelayState, "status"> & { readonly status: RelayState["status"] | "offline" }

export const relayView = (snapshot: ProviderSnapshot): ReadonlyArray<RelayView> => {
  const byUrl = new Map(snapshot.relays.map((r) => [r.url, r]))
  const configured = snapshot.config.relays.map(normalizeRelayUrl)
  return [...new Set(configured)].map((url) => byUrl.get(url) ?? { url, status: "offline" as const })
}
