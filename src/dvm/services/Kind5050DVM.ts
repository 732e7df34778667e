/**
 * The provider online: going online (checks, the lock, relays, NIP-89 announcement, subscriptions,
 * heartbeat, settings followed while online), each request handed to the job pipeline in a fiber of
 * its own (JobPipeline.ts), and going offline (jobs stopped with feedback, announcement withdrawn).
 */
import { Cause, Context, Effect, Exit, FiberMap, Layer, Schedule, Scope, Stream, SubscriptionRef } from "effect"
import { catalogueOf, offeredModels } from "../catalogue"
import type { Config } from "../config"
import { Fleet } from "../fleet/Fleet"
import { GoOnlineError, type RelayError } from "../errors"
import { serverName } from "../modelServer"
import { DELETION_KIND, handlerDeletionEvent, handlerInfoEvent, heartbeatEvent, HEARTBEAT_INTERVAL_S } from "../protocol/events"
import type { Keys } from "../protocol/identity"
import { nowSeconds } from "../protocol/nostrEvent"
import { signEvent } from "../protocol/signing"
import { Identity } from "./Identity"
import { Inference, type InferenceStatus } from "./Inference"
import { JobPipeline } from "./JobPipeline"
import { JobStore } from "./JobStore"
import { makeModelDetails, type ModelDetails } from "./ollamaModels"
import { Nostr, type RelayState } from "./Nostr"
import { OnlineLock } from "./OnlineLock"
import { OFFLINE_PUBLISH_TIMEOUT_MS, publisher } from "./publisher"
import { Settings } from "./Settings"
import { Settlement } from "./Settlement"
import { Wallet } from "./Wallet"

export type DvmState = "offline" | "going-online" | "online" | "going-offline"

export interface DvmStatus {
  readonly state: DvmState
  /** Why the last attempt to go online failed, for a person. */
  readonly error?: string
  readonly npub?: string
  readonly onlineSince?: number
  readonly activeJobs: number
  /**
   * While online: why no customer can reach the provider (no relay connected with our subscriptions
   * live), or undefined when one is. The provider stays online, retrying its relays.
   */
  readonly unreachable?: string
}

/** A relay on its first connection attempt: nothing has failed there yet. */
const firstAttempt = (r: RelayState) => r.status === "connecting" && r.lastError === undefined

/** Relays that bring us requests: connected, with our subscriptions live. */
export const reachable = (r: RelayState) => r.status === "connected" && r.subscribed === true

/** Every relay has been tried at least once (connected, or its first attempt failed). */
export const relaysSettled = (states: ReadonlyArray<RelayState>) => !states.some(firstAttempt)

/**
 * Why no customer can reach us through these relays, or undefined when one is connected and
 * subscribed, or while one is still on its first attempt (no verdict yet).
 */
export const unreachableReason = (states: ReadonlyArray<RelayState>): string | undefined => {
  if (states.length === 0) return "no relay is configured, so no customer can reach this provider"
  if (states.some(reachable) || !relaysSettled(states)) return undefined
  const why = states.map((r) => `${r.url}: ${r.status === "connected" ? "subscription not open" : r.lastError ?? r.status}`).join("; ")
  return states.some((r) => r.status === "connected")
    ? `no relay has our subscription open (${why}), so no request reaches this provider`
    : `no relay is connected (${why}), so no customer can reach this provider`
}

/** One relay for a person: connected or failed, subscribed, whether it took our announcement, its last error. */
export const relaySummary = (r: RelayState): string => {
  const announced = r.announced === undefined ? "" : r.announced ? ", announcement accepted" : ", announcement not accepted"
  const state = r.status === "connected"
    ? `connected, ${r.subscribed ? "subscribed" : "not subscribed"}${announced}`
    : r.status === "connecting"
    ? (r.lastError === undefined ? "connecting" : `failed, retrying${announced}`)
    : `failed${announced}`
  return r.lastError === undefined ? state : `${state} (last error: ${r.lastError})`
}

export class Kind5050DVM extends Context.Service<Kind5050DVM, {
  readonly goOnline: Effect.Effect<void, GoOnlineError>
  readonly goOffline: Effect.Effect<void>
  readonly status: SubscriptionRef.SubscriptionRef<DvmStatus>
  /** The reason the provider cannot serve right now, or undefined when it can. */
  readonly readiness: Effect.Effect<string | undefined>
}>()("sellCompute/Kind5050DVM") {
  static readonly layer = Layer.effect(Kind5050DVM, makeKind5050DVM())
}

/** While online, Ollama's models are read this often; a change in the catalogue is announced. */
export const MODEL_POLL_MS = 60_000
let modelPollMs = MODEL_POLL_MS

/** How often the models are read while online (tests shorten it; the product keeps MODEL_POLL_MS). */
export const pollModelsEvery = (ms: number): void => {
  modelPollMs = ms
}
/** On going online, requests this recent are still served; older ones are assumed taken elsewhere. */
export const RECENT_REQUEST_WINDOW_S = 120
/** The checks before going online (the model server, the wallet) end within this, whatever hangs. */
export const READINESS_TIMEOUT_MS = 30_000
/** What the door dropped is reported at most this often. */
const DROPPED_REPORT_MS = 60_000

interface Online {
  readonly scope: Scope.Closeable
  readonly keys: Keys
  announcementId?: string
  /** The job kinds our request subscription asks for. */
  requestKinds: string
  /** (Re)subscribes to requests of these kinds from `since`, replacing the subscription before. */
  readonly listen: (kinds: ReadonlyArray<number>, since: number) => Effect.Effect<void>
}

function makeKind5050DVM() {
  return Effect.gen(function*() {
    const settings = yield* Settings
    const identity = yield* Identity
    const nostr = yield* Nostr
    const inference = yield* Inference
    const wallet = yield* Wallet
    const store = yield* JobStore
    const settlement = yield* Settlement
    const lock = yield* OnlineLock
    const pipeline = yield* JobPipeline
    const fleet = yield* Fleet

    const status = yield* SubscriptionRef.make<DvmStatus>({ state: "offline", activeJobs: 0 })
    let online: Online | undefined
    /** created_at of our last NIP-89 announcement. */
    let lastAnnouncedAt = 0

    const setStatus = (patch: Partial<DvmStatus>) => SubscriptionRef.update(status, (s) => ({ ...s, ...patch }))
    // The status shows how many jobs the pipeline has in hand.
    yield* SubscriptionRef.changes(pipeline.activeJobs).pipe(
      Stream.runForEach((activeJobs) => setStatus({ activeJobs })),
      Effect.forkScoped
    )

    const { publishLogged } = publisher(nostr)

    /** Why the wallet cannot bill in the configured payment mode, or undefined when it can (or need not). */
    const walletProblem = (config: Config) =>
      Effect.gen(function*() {
        if (config["payment.mode"] === "free") return undefined
        const w = yield* wallet.status
        return w.ready ? undefined : w.error ?? "unknown reason"
      })

    const checkReadiness = Effect.gen(function*() {
      const config = yield* settings.current
      const server: InferenceStatus = yield* inference.status
      const name = serverName(server.backend)
      if (!server.reachable) return server.error ?? `${name} is not reachable at ${server.host}`
      if (server.models.length === 0) {
        return server.backend === "ollama"
          ? `Ollama at ${server.host} has no models installed (try \`ollama pull llama3.2\`)`
          : `${name} at ${server.host} lists no models (is the base URL right, ending in /v1?)`
      }
      if (offeredModels(server.models, config).length === 0) {
        const where = server.backend === "ollama" ? "installed in Ollama" : `offered by the ${name} at ${server.host}`
        return `none of the models in sellCompute.textGeneration.models (${config["textGeneration.models"].join(", ")}) is ${where} (it has: ${server.models.join(", ")})`
      }
      const model = config["textGeneration.model"]
      if (model && !server.models.includes(model) && !server.models.includes(`${model}:latest`)) {
        return `the model "${model}" set in sellCompute.textGeneration.model is not ${server.backend === "ollama" ? "installed in Ollama" : `offered by the ${name} at ${server.host}`}`
      }
      const walletWhy = yield* walletProblem(config)
      return walletWhy === undefined ? undefined : `the wallet is not ready: ${walletWhy}`
    })

    /** Ends, ready or with a reason, even when Ollama or the wallet never answers. */
    const readiness = checkReadiness.pipe(Effect.timeoutOrElse({
      duration: READINESS_TIMEOUT_MS,
      orElse: () => Effect.succeed(`the checks of the model server and the wallet did not finish within ${READINESS_TIMEOUT_MS / 1000} s`)
    }))

    /** What the door dropped (forged events, unusable frames), said when it grew, at most once a minute. */
    let doorReported = { forged: 0, badFrames: 0 }
    const reportDropped = Effect.gen(function*() {
      const now = yield* nostr.dropped
      if (now.forged === doorReported.forged && now.badFrames === doorReported.badFrames) return
      yield* Effect.logWarning(
        `Dropped at the door: ${now.forged - doorReported.forged} forged events and ${now.badFrames - doorReported.badFrames} unusable frames ` +
          `in the last minute (${now.forged} and ${now.badFrames} since start)`
      )
      doorReported = now
    })

    const modelDetails = makeModelDetails()
    /** What Ollama last said it has installed (kept when it cannot be read, so the catalogue stays). */
    let installed: ReadonlyArray<ModelDetails> = []
    let modelsUnreadable = false

    /** The models the server in use has: Ollama's with their sizes; an OpenAI-compatible server's by name. */
    const serverModels = (config: Config): Effect.Effect<ReadonlyArray<ModelDetails>, string> =>
      config["inference.backend"] === "ollama"
        ? modelDetails.details(config["ollama.host"])
        : inference.status.pipe(
          Effect.flatMap((status) =>
            status.reachable ? Effect.succeed(status.models.map((name) => ({ name }))) : Effect.fail(status.error ?? "not reachable")
          )
        )

    /** Reads the installed models again; false (said once until it recovers) when the server cannot be read. */
    const refreshModels = (config: Config) =>
      serverModels(config).pipe(
        Effect.flatMap((models) =>
          Effect.sync(() => {
            installed = models
            modelsUnreadable = false
            return true
          })),
        Effect.catch((why: string) =>
          Effect.gen(function*() {
            if (!modelsUnreadable) yield* Effect.logWarning(`The model catalogue could not be read (${why}); the last one known is announced`)
            modelsUnreadable = true
            return false
          }))
      )

    /** `refresh`: read the models first (the poll has just read them). */
    const announce = (state: Online, refresh = true) =>
      Effect.gen(function*() {
        if (!(yield* fleet.leading)) return // another host of the fleet speaks for the provider
        const config = yield* settings.current
        if (refresh) yield* refreshModels(config)
        // Each version strictly newer than the last: of two with the same created_at, relays keep the
        // lower id, so a second change within a second would otherwise be lost.
        const template = handlerInfoEvent(config, catalogueOf(installed, config))
        const createdAt = Math.max(template.created_at, lastAnnouncedAt + 1)
        lastAnnouncedAt = createdAt
        const outcome = yield* publishLogged(state.keys, { ...template, created_at: createdAt }, "announcement")
        state.announcementId = outcome.eventId
      }).pipe(Effect.catch((e: RelayError) => Effect.logWarning(`Announcement not published: ${e.message}`)))

    /** "Still online" (kind 11998, replaceable: a beat sent again only replaces the last). */
    /** The heartbeat; in a fleet only the leader sends it, counting the fleet's running jobs. */
    const beat = (keys: Keys) =>
      Effect.gen(function*() {
        if (!(yield* fleet.leading)) return
        const activeJobs = (yield* fleet.activeJobs) ?? (yield* SubscriptionRef.get(status)).activeJobs
        yield* publishLogged(keys, heartbeatEvent(keys.pubkey, activeJobs), "heartbeat").pipe(Effect.ignore)
      })

    /** The kind 5 of our announcement; never older than it, or an `a` deletion would not reach it. */
    const withdrawal = (state: Online) => {
      const template = handlerDeletionEvent(state.keys.pubkey, state.announcementId)
      return { ...template, created_at: Math.max(template.created_at, lastAnnouncedAt) }
    }

    /** While online: the models read once a minute, and the catalogue announced again when they changed. */
    const followModels = (state: Online) =>
      Effect.gen(function*() {
        yield* Effect.sleep(modelPollMs)
        const before = JSON.stringify(installed)
        if (!(yield* refreshModels(yield* settings.current))) return
        if (JSON.stringify(installed) === before) return
        yield* Effect.logInfo(`Installed models changed (${installed.map((m) => m.name).join(", ") || "none"}); announcing the new catalogue`)
        yield* announce(state, false)
      }).pipe(Effect.forever)

    /**
     * Going online checks the wallet; a setting changed while online (free to a paid mode, another
     * wallet) is checked here, and a wallet that cannot bill shows as a problem until it can.
     */
    const checkWalletWhileOnline = (config: Config) =>
      Effect.gen(function*() {
        const walletWhy = yield* walletProblem(config)
        if (walletWhy === undefined) return yield* setStatus({ error: undefined })
        const problem = `the wallet is not ready (${walletWhy}); paid jobs fail until it is`
        yield* setStatus({ error: problem })
        yield* Effect.logWarning(`While online: ${problem}`)
      })

    /** While online: relays, concurrency, the kinds served and the announcement follow the settings. */
    const followSettings = (state: Online) =>
      settings.changes.pipe(
        Stream.drop(1),
        Stream.runForEach((config) =>
          Effect.gen(function*() {
            yield* nostr.setRelays(config.relays)
            yield* pipeline.configure(config)
            // Kinds added while online are served from now (and the recent window), without going offline.
            if (String(config.supportedJobKinds) !== state.requestKinds) {
              yield* state.listen(config.supportedJobKinds, nowSeconds() - RECENT_REQUEST_WINDOW_S)
              yield* Effect.logInfo(`Now serving kinds ${config.supportedJobKinds.join(", ")}`)
            }
            yield* announce(state)
            yield* checkWalletWhileOnline(config)
          }))
      )

    /**
     * While online: whether any relay reaches customers (said in the status, and in the log when it
     * changes), and our announcement sent again when a relay that did not take it comes back.
     */
    const followRelays = (state: Online, initially: string | undefined) => {
      let said = initially
      let subscribedBefore: ReadonlySet<string> | undefined
      return SubscriptionRef.changes(nostr.relayStates).pipe(
        Stream.runForEach((states) =>
          Effect.gen(function*() {
            const now = unreachableReason(states)
            if (now !== said) {
              yield* setStatus({ unreachable: now })
              if (now) yield* Effect.logWarning(`No customer can reach this provider: ${now}; retrying its relays`)
              else if (said) yield* Effect.logInfo(`Reachable again: ${states.filter(reachable).map((r) => r.url).join(", ")} connected and subscribed`)
              said = now
            }
            const subscribed = new Set(states.filter(reachable).map((r) => r.url))
            const fresh = subscribedBefore === undefined ? [] : states.filter((r) => subscribed.has(r.url) && !subscribedBefore?.has(r.url))
            subscribedBefore = subscribed
            if (fresh.some((r) => r.announced === false)) yield* announce(state)
            // A relay added while online, or back after failing, hears we are alive now, not at the next beat.
            if (fresh.length > 0) yield* beat(state.keys)
          })
        )
      )
    }

    const goOnline = Effect.gen(function*() {
      const current = yield* SubscriptionRef.get(status)
      if (current.state === "online" || current.state === "going-online") return
      yield* setStatus({ state: "going-online" })
      yield* comeOnline.pipe(
        // Whatever stops us (not ready, no usable key, interrupted) leaves the provider offline, saying why.
        Effect.onError((cause) => {
          const failure = Cause.findErrorOption(cause)
          const error = failure._tag === "Some" ? failure.value.message : "going online was interrupted"
          return Effect.andThen(lock.release, setStatus({ state: "offline", error }))
        })
      )
    })

    const comeOnline = Effect.gen(function*() {
      const notReady = yield* readiness
      if (notReady) return yield* new GoOnlineError({ message: `Cannot go online: ${notReady}` })
      yield* lock.acquire
      yield* fleet.join
      // What another window or process sharing the data dir served since we read the history.
      yield* store.refresh
      // Read before the subscription starts: requests it replays are this session's, not cut off.
      const cutOff = yield* store.unfinished
      const keys = yield* identity.keys.pipe(Effect.mapError((e) => new GoOnlineError({ message: `Cannot go online: ${e.message}` })))
      const config = yield* settings.current
      yield* pipeline.configure(config)
      // Relays that ask (NIP-42) are answered with our key, so they serve us.
      yield* nostr.setAuthSigner((template) => signEvent(template, keys.secretKey))
      yield* nostr.setRelays(config.relays)

      const scope = yield* Scope.make()
      const jobs = yield* FiberMap.make<string>().pipe(Scope.provide(scope))
      const listening = yield* FiberMap.make<string>().pipe(Scope.provide(scope))
      const state: Online = {
        scope,
        keys,
        requestKinds: "",
        listen: (kinds, from) =>
          Effect.gen(function*() {
            state.requestKinds = String(kinds)
            // Running under the same key interrupts the subscription before; a request seen by both is run once.
            yield* FiberMap.run(
              listening,
              "requests",
              nostr.subscribe({ kinds: [...kinds], since: from }).pipe(
                Stream.runForEach((event) => FiberMap.run(jobs, event.id, pipeline.handle(keys, event), { onlyIfMissing: true }))
              )
            )
          })
      }
      online = state
      const since = nowSeconds() - RECENT_REQUEST_WINDOW_S
      yield* state.listen(config.supportedJobKinds, since)
      // Deletions from the same window as the requests, so one made before we came online is honoured.
      yield* nostr.subscribe({ kinds: [DELETION_KIND], since }).pipe(
        Stream.runForEach((deletion) =>
          Effect.flatMap(pipeline.withdraw(deletion), (stopped) => Effect.forEach(stopped, (id) => FiberMap.remove(jobs, id), { discard: true }))),
        Effect.forkIn(scope)
      )
      yield* followSettings(state).pipe(Effect.forkIn(scope))
      yield* followModels(state).pipe(Effect.forkIn(scope))
      yield* beat(keys).pipe(Effect.repeat(Schedule.spaced(`${HEARTBEAT_INTERVAL_S} seconds`)), Effect.forkIn(scope))
      yield* reportDropped.pipe(Effect.repeat(Schedule.spaced(`${DROPPED_REPORT_MS} millis`)), Effect.forkIn(scope))
      yield* announce(state)
      yield* settlement.resume
      // In a fleet: the lease, the leadership, and the jobs and invoices of hosts that died.
      yield* fleet.serve({
        run: (request) => FiberMap.run(jobs, request.id, pipeline.handle(keys, request), { onlyIfMissing: true }).pipe(Effect.asVoid),
        fail: (request, reason) => pipeline.fail(keys, request, reason),
        watch: settlement.watch,
        lead: Effect.andThen(announce(state), beat(keys)),
        maxRequestAgeSeconds: Effect.map(settings.current, (c) => c["limits.maxRequestAgeSeconds"])
      }).pipe(Effect.forkIn(scope))
      // Jobs a crash cut off (the history says they started but never ended) get an answer now.
      for (const job of cutOff) {
        const unpaid = job.payment === "unpaid" ? " (do not pay its earlier invoice)" : ""
        yield* pipeline.fail(keys, { id: job.id, customer: job.customer }, `the provider stopped before finishing this job; please send it again${unpaid}`)
      }
      // The relays' first attempts have settled (the announcement waited for them), or nearly.
      const unreachable = unreachableReason(yield* SubscriptionRef.get(nostr.relayStates))
      yield* setStatus({ state: "online", npub: keys.npub, onlineSince: Date.now(), error: undefined, unreachable })
      yield* Effect.logInfo(`Online as ${keys.npub} on ${config.relays.join(", ")}`)
      if (unreachable) yield* Effect.logWarning(`Online, but ${unreachable}; its relays are retried in the background`)
      yield* followRelays(state, unreachable).pipe(Effect.forkIn(scope))
    })

    const goOffline = Effect.gen(function*() {
      const state = online
      if (!state) return
      online = undefined
      yield* setStatus({ state: "going-offline" })
      // In a fleet only the last host going offline withdraws the announcement.
      const last = yield* fleet.leave
      // The announcement is withdrawn while the jobs wind down, so a slow relay or a result still
      // being delivered cannot push it past a host's exit deadline. Closing the scope interrupts the
      // subscription and every job (each sends its own error feedback).
      yield* Effect.all([
        Scope.close(state.scope, Exit.void),
        last
          ? publishLogged(state.keys, withdrawal(state), "withdrawal").pipe(
            Effect.timeout(OFFLINE_PUBLISH_TIMEOUT_MS),
            Effect.catch((e) => Effect.logWarning(`Withdrawal of the announcement not confirmed: ${String((e as { message?: string }).message ?? e)}`))
          )
          : Effect.logInfo("Other hosts of the fleet stay online: the announcement stays up")
      ], { concurrency: "unbounded", discard: true })
      yield* reportDropped
      yield* nostr.setRelays([])
      yield* nostr.setAuthSigner(undefined)
      yield* lock.release
      yield* fleet.left
      yield* setStatus({ state: "offline", onlineSince: undefined, activeJobs: 0, unreachable: undefined })
      yield* Effect.logInfo("Offline")
    })

    yield* Effect.addFinalizer(() => goOffline)

    return Kind5050DVM.of({ goOnline, goOffline, status, readiness })
  })
}
