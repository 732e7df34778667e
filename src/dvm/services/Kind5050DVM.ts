/**
 * The provider: going online (checks, relays, NIP-89 announcement, subscription), the job pipeline
 * (one fiber per job, at most maxConcurrentJobs on Ollama at once) and going offline (jobs stopped
 * with feedback, announcement withdrawn). See "The job pipeline" in DESIGN.md.
 */
import { Cause, Context, Effect, Exit, Fiber, FiberMap, Layer, Schedule, Scope, Semaphore, Stream, SubscriptionRef } from "effect"
import { Admission, type AdmissionLimits } from "../admission"
import type { Config } from "../config"
import { GoOnlineError, RelayError, WalletError } from "../errors"
import { encryptFor, type EncryptionScheme } from "../protocol/encryption"
import {
  DELETION_KIND,
  feedbackEvent,
  type FeedbackStatus,
  handlerDeletionEvent,
  handlerInfoEvent,
  heartbeatEvent,
  HEARTBEAT_INTERVAL_S,
  type Invoice,
  refOf,
  type RequestRef,
  resultEvent
} from "../protocol/events"
import { hexPubkey, type Keys } from "../protocol/identity"
import { generationOptions, type GenerationOptions, type JobRequest, parseJobRequest } from "../protocol/jobRequest"
import { type EventTemplate, type IncomingEvent, type NostrEvent, nowSeconds, tagValues } from "../protocol/nostrEvent"
import { signEvent } from "../protocol/signing"
import { priceSats, satsToMsats } from "../pricing"
import { isPublicRelayUrl } from "../publicRelay"
import { pricingOf, quoteFor } from "../quote"
import { ReplyBudget } from "../replyBudget"
import { Identity } from "./Identity"
import { Inference, type InferenceStatus } from "./Inference"
import { JobStore } from "./JobStore"
import { Nostr } from "./Nostr"
import { OnlineLock } from "./OnlineLock"
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

export const PROVIDER_PROFILE = {
  name: "Sell Compute",
  about: "Text generation (NIP-90 kind 5050) on a local Ollama, billed per token over Lightning."
}
/** On going online, requests this recent are still served; older ones are assumed taken elsewhere. */
export const RECENT_REQUEST_WINDOW_S = 120
/** Installed models are re-read at most this often while jobs arrive. */
const MODELS_CACHE_MS = 30_000
/** Going offline waits this long for the deletion of our announcement to be acknowledged. */
const OFFLINE_PUBLISH_TIMEOUT_MS = 3000
/** Deleted request ids remembered, oldest forgotten first. */
const WITHDRAWN_LIMIT = 10_000
/** The checks before going online (Ollama, the wallet) end within this, whatever hangs. */
export const READINESS_TIMEOUT_MS = 30_000
/** Requests dropped for want of reply budget are reported at most this often. */
const DROPPED_REPORT_MS = 60_000

interface Online {
  readonly scope: Scope.Closeable
  readonly keys: Keys
  announcementId?: string
}

/**
 * A failure on the job path: `reason` goes to the customer and the log. `aboutRequest`: the reason
 * quotes what the request said (a bid, a param, its length), so for an encrypted request it goes
 * to the customer encrypted only.
 */
class JobFailure {
  readonly _tag = "JobFailure"
  /** `quoteMsats`: our price, sent with the error when the customer offered too little. */
  constructor(readonly reason: string, readonly quoteMsats?: number, readonly aboutRequest = false) {}
}

/** Who an error goes to, and how: in the scheme of the request when it was encrypted. */
type Addressee = RequestRef & { readonly encryption?: EncryptionScheme | undefined }

/** What the public 7000 says when the reason of an encrypted request's error is sent encrypted. */
const INVALID_ENCRYPTED = "invalid request"

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

    const status = yield* SubscriptionRef.make<DvmStatus>({ state: "offline", activeJobs: 0 })
    const permits = yield* Semaphore.make(1)
    let online: Online | undefined
    let models: { readonly at: number; readonly names: ReadonlyArray<string> } | undefined
    const admission = new Admission(admissionLimits(yield* settings.current))
    /** Jobs admitted and not ended: id → customer (only the customer may cancel). */
    const activeJobs = new Map<string, string>()
    const cancelled = new Set<string>()
    /** Request ids deleted by their author (kind 5) lately: a job not started yet is then never run. */
    const withdrawn = new Map<string, string>()
    /** created_at of our last NIP-89 announcement. */
    let lastAnnouncedAt = 0
    /** Every refusal (malformed, denied, rate limited, busy) draws on one budget, so floods get no flood back. */
    const replyBudget = new ReplyBudget()
    let droppedReported = 0
    let droppedAt = 0

    const setStatus = (patch: Partial<DvmStatus>) => SubscriptionRef.update(status, (s) => ({ ...s, ...patch }))
    /** The status shows how many jobs are in `activeJobs`, read from the map itself. */
    const showActiveJobs = SubscriptionRef.update(status, (s) => ({ ...s, activeJobs: activeJobs.size }))

    const sign = (keys: Keys, template: EventTemplate) => Effect.sync(() => signEvent(template, keys.secretKey))

    const publishSigned = (event: NostrEvent, what: string, extraRelays: ReadonlyArray<string> = []) =>
      nostr.publish(event, extraRelays).pipe(
        Effect.tap((outcome) =>
          outcome.failed.length > 0
            ? Effect.logWarning(`${what}: not accepted by ${outcome.failed.map((f) => `${f.url} (${f.reason})`).join(", ")}`)
            : Effect.void)
      )

    const publishLogged = (keys: Keys, template: EventTemplate, what: string, extraRelays: ReadonlyArray<string> = []) =>
      sign(keys, template).pipe(Effect.flatMap((event) => publishSigned(event, what, extraRelays)))

    const sendFeedback = (keys: Keys, request: RequestRef, state: FeedbackStatus, options: Parameters<typeof feedbackEvent>[2] = {}) =>
      publishLogged(keys, feedbackEvent(request, state, options), `feedback ${state} for ${request.id.slice(0, 8)}`).pipe(
        Effect.catch((e: RelayError) => Effect.logWarning(e.message)),
        Effect.asVoid
      )

    const installedModels = Effect.gen(function*() {
      if (models && Date.now() - models.at < MODELS_CACHE_MS) return models.names
      const current = yield* inference.status
      if (!current.reachable) return yield* Effect.fail(new JobFailure(current.error ?? "Ollama is not reachable"))
      models = { at: Date.now(), names: current.models }
      return current.models
    })

    /** The job's `model` when installed, else ours, else the first installed model. */
    const chooseModel = (job: JobRequest, config: Config) =>
      Effect.gen(function*() {
        const names = yield* installedModels
        const wanted = [job.params.model, config["textGeneration.model"]].filter((m): m is string => !!m)
        const chosen = wanted.find((m) => names.includes(m) || names.includes(`${m}:latest`)) ?? names[0]
        if (!chosen) return yield* Effect.fail(new JobFailure("no model is installed on this provider's Ollama"))
        return chosen
      })

    /** The model's answer, stopped (and Ollama aborted) when it runs past the job timeout. */
    const generate = (job: JobRequest, config: Config, options: GenerationOptions) =>
      Effect.gen(function*() {
        const model = yield* chooseModel(job, config)
        const timeoutSeconds = config["limits.jobTimeoutSeconds"]
        const generation = yield* permits.withPermit(
          inference.generate({ model, prompt: job.prompt, options }).pipe(Effect.timeout(`${timeoutSeconds} seconds`))
        ).pipe(Effect.mapError((e) =>
          new JobFailure(Cause.isTimeoutError(e) ? `the job ran longer than ${timeoutSeconds} s and was stopped` : e.message)
        ))
        yield* store.record({
          id: job.id,
          model,
          promptTokens: generation.promptTokens,
          completionTokens: generation.completionTokens
        })
        return generation
      })

    const issueInvoice = (job: JobRequest, config: Config, amountSats: number, what: string) =>
      Effect.gen(function*() {
        const issued = yield* wallet.createInvoice({
          amountSats,
          memo: `Sell Compute job ${job.id.slice(0, 12)} (${what})`,
          expirySeconds: config["payment.invoiceExpirySeconds"]
        }).pipe(
          // A wallet's passing hiccup must not waste a job that has already run.
          Effect.retry(INVOICE_RETRY),
          Effect.mapError((e: WalletError) => new JobFailure(`could not create an invoice: ${e.message}`))
        )
        yield* store.record({
          id: job.id,
          priceSats: amountSats,
          invoiceId: issued.id,
          bolt11: issued.bolt11,
          invoiceExpiresAt: issued.expiresAt,
          // Only the wallet that issued it can say whether it was paid (Settlement.resume).
          ...(issued.backend ? { invoiceBackend: issued.backend } : {}),
          payment: "unpaid"
        })
        return issued
      })

    const reportQueued = (keys: Keys, request: RequestRef, position: number) =>
      position > 0 ? sendFeedback(keys, request, "processing", { extra: `queued: position ${position}, waiting for Ollama` }) : Effect.void

    /** `slot.queued` says whether the job holds its place in the admission queue (taken here once a pay-first job is paid). */
    const runJob = (keys: Keys, job: JobRequest, slot: { queued: boolean }) =>
      Effect.gen(function*() {
        const config = yield* settings.current
        const mode = config["payment.mode"]
        const quote = mode === "free" ? undefined : quoteFor(job, config)
        if (quote && "refused" in quote) return yield* Effect.fail(new JobFailure(quote.refused, quote.priceMsats, true))
        const options = { ...generationOptions(job.params, config), ...(quote ? { maxTokens: quote.maxTokens } : {}) }

        let prepaidSats: number | undefined
        if (mode === "pay-first" && quote) {
          const issued = yield* issueInvoice(job, config, quote.worstSats, "prepaid")
          yield* sendFeedback(keys, job, "payment-required", {
            invoice: { amountMsats: satsToMsats(quote.worstSats), bolt11: issued.bolt11 },
            extra: `pay ${quote.worstSats} sats to start this job`
          })
          const outcome = yield* settlement.awaitOutcome(job.id, issued)
          if (outcome === "expired") return yield* Effect.fail(new JobFailure("the invoice expired unpaid; no work was done"))
          prepaidSats = quote.worstSats
          if (!slot.queued) {
            slot.queued = true
            yield* reportQueued(keys, job, admission.enqueue({ paid: true }))
          }
        }

        yield* store.record({ id: job.id, status: "processing" })
        // Sent while the model works; awaited before anything else goes out, so it always comes first.
        const processing = yield* Effect.forkChild(sendFeedback(keys, job, "processing"))
        const { generation, price, invoice } = yield* Effect.gen(function*() {
          const generation = yield* generate(job, config, options)
          if (mode === "free") {
            yield* store.record({ id: job.id, priceSats: 0, payment: "free" })
            return { generation, price: 0, invoice: { amountMsats: 0 } as Invoice }
          }
          if (prepaidSats !== undefined) {
            return { generation, price: prepaidSats, invoice: { amountMsats: satsToMsats(prepaidSats) } as Invoice }
          }
          const measured = priceSats(generation, pricingOf(config))
          // Never above the customer's bid; max_tokens was capped so this only trims rounding.
          const price = job.bidMsats === undefined ? measured : Math.min(measured, Math.floor(job.bidMsats / 1000))
          const issued = yield* issueInvoice(job, config, price, `${generation.promptTokens + generation.completionTokens} tokens`)
          yield* settlement.watch(job.id, issued)
          return { generation, price, invoice: { amountMsats: satsToMsats(price), bolt11: issued.bolt11 } as Invoice }
        }).pipe(Effect.ensuring(Fiber.await(processing)))

        const content = job.encryption ? encryptFor(job.encryption, keys.secretKey, job.customer, generation.text) : generation.text
        yield* sign(keys, resultEvent(job, content, invoice, config.relays[0])).pipe(
          Effect.flatMap((result) =>
            // One attempt runs to its end even when going offline interrupts the job: once a relay
            // may have the result, the job is recorded a success, never failed after the fact. The
            // same signed result is retried, so a customer never sees two different results.
            publishSigned(result, `result for ${job.id.slice(0, 8)}`, secureRelays(job.replyRelays)).pipe(
              Effect.andThen(store.record({ id: job.id, status: "success" })),
              Effect.uninterruptible,
              Effect.retry(RESULT_RETRY)
            )),
          Effect.mapError((e) => new JobFailure(`the result could not be delivered: ${e.message}`))
        )
        yield* sendFeedback(keys, job, "success", invoice.bolt11 ? { invoice } : {})
        yield* Effect.logInfo(
          `Job ${job.id.slice(0, 8)} done: ${generation.model}, ${generation.promptTokens}+${generation.completionTokens} tokens, ${price} sats`
        )
      })

    /**
     * Ends a job with an error to its customer. When the reason quotes an encrypted request
     * (`aboutRequest`), the public status says only "invalid request" and the reason, with our price,
     * goes encrypted in `content`; the history and the log do not repeat it.
     */
    const failJob = (keys: Keys, request: Addressee, reason: string, quoteMsats?: number, aboutRequest = false) =>
      Effect.gen(function*() {
        const secret = aboutRequest && request.encryption !== undefined ? request.encryption : undefined
        const recorded = secret ? `${INVALID_ENCRYPTED} (encrypted; the reason was sent to the customer encrypted)` : reason
        yield* store.record({ id: request.id, status: "error", error: recorded })
        if (secret) {
          const priced = quoteMsats !== undefined ? `${reason} (price: ${quoteMsats} msats)` : reason
          yield* sendFeedback(keys, request, "error", {
            extra: INVALID_ENCRYPTED,
            content: encryptFor(secret, keys.secretKey, request.customer, priced),
            encrypted: true
          })
        } else {
          yield* sendFeedback(keys, request, "error", { extra: reason, ...(quoteMsats !== undefined ? { invoice: { amountMsats: quoteMsats } } : {}) })
        }
        yield* Effect.logWarning(`Job ${request.id.slice(0, 8)} failed: ${recorded}`)
      })

    /**
     * Refuses a request before any work: answered with an error while the reply budget lasts, else
     * dropped unanswered (not recorded either, so a flood does not grow the history) and counted.
     */
    const refuse = (keys: Keys, event: IncomingEvent, request: Addressee, reason: string, aboutRequest: boolean) =>
      Effect.gen(function*() {
        const now = Date.now()
        if (!replyBudget.take(now)) {
          if (now - droppedAt >= DROPPED_REPORT_MS) {
            droppedAt = now
            yield* Effect.logWarning(
              `Reply budget spent: ${replyBudget.dropped - droppedReported} refused requests dropped unanswered since the last report ` +
                `(${replyBudget.dropped} in all)`
            )
            droppedReported = replyBudget.dropped
          }
          return
        }
        yield* recordReceived(event, request.encryption !== undefined)
        yield* failJob(keys, request, reason, undefined, aboutRequest)
      })

    const recordReceived = (event: NostrEvent, encrypted: boolean) =>
      store.record({
        id: event.id,
        customer: event.pubkey,
        kind: event.kind,
        requestedAt: event.created_at,
        receivedAt: Date.now(),
        status: "received",
        encrypted
      })

    /**
     * Ends a job whose fiber was interrupted: cancelled by its customer, or cut off by going offline.
     * A job already recorded as ended (its result delivered, say, with only the success feedback
     * still on its way) keeps that ending: it is not turned into an error after the fact.
     */
    const interrupted = (keys: Keys, request: RequestRef) =>
      Effect.gen(function*() {
        const byCustomer = cancelled.delete(request.id)
        const status = (yield* store.get(request.id))?.status
        if (status === "success" || status === "error") return
        if (byCustomer) {
          yield* store.record({ id: request.id, status: "error", error: "cancelled by the customer" })
          return yield* Effect.logInfo(`Job ${request.id.slice(0, 8)} cancelled by the customer`)
        }
        yield* failJob(keys, request, "the provider went offline before the job finished").pipe(
          Effect.timeout(OFFLINE_PUBLISH_TIMEOUT_MS),
          Effect.ignore
        )
      })

    /** One request, start to end. Never fails: every failure becomes error feedback. */
    const handleRequest = (keys: Keys, event: IncomingEvent) =>
      Effect.gen(function*() {
        if (yield* store.get(event.id)) return // handled before (another relay, or before a restart)
        const config = yield* settings.current
        const parsed = parseJobRequest(event, {
          ourPubkey: keys.pubkey,
          ourSecretKey: keys.secretKey,
          supportedKinds: config.supportedJobKinds,
          limits: {
            maxPromptChars: config["limits.maxPromptChars"],
            maxEventBytes: config["limits.maxEventBytes"],
            maxRequestAgeSeconds: config["limits.maxRequestAgeSeconds"]
          }
        })
        if (parsed._tag === "NotForUs") return
        if (parsed._tag === "Ignored") {
          return yield* Effect.logDebug(`Request ${event.id.slice(0, 8)} ignored: ${parsed.reason}`)
        }
        const encryption = parsed._tag === "Job" ? parsed.job.encryption : parsed.encryption
        const request: Addressee = { ...refOf(event), encryption }
        if (parsed._tag === "Invalid" || event.malformed !== undefined) {
          // The deny list and the per-minute rate apply to malformed requests too (they count toward
          // it), and are answered the same way as for any request.
          const screened = admission.screen(event.pubkey, Date.now())
          if (screened._tag === "Refused") return yield* refuse(keys, event, request, screened.reason, false)
          const reason = parsed._tag === "Invalid" ? parsed.reason : `malformed request: ${event.malformed}`
          return yield* refuse(keys, event, request, reason, parsed._tag === "Invalid" && parsed.decrypted === true)
        }
        // A pay-first job waits for payment outside the queue, and takes its place once paid.
        const slot = { queued: config["payment.mode"] !== "pay-first" }
        const admitted = admission.admit(event.pubkey, Date.now(), { queue: slot.queued })
        if (admitted._tag === "Refused") return yield* refuse(keys, event, request, admitted.reason, false)
        yield* recordReceived(event, encryption !== undefined)
        activeJobs.set(event.id, event.pubkey)
        yield* showActiveJobs
        yield* Effect.gen(function*() {
          if (withdrawn.get(event.id) === event.pubkey) {
            // Its customer deleted it before we got to it (seen while catching up on going online).
            cancelled.add(event.id)
            return yield* Effect.interrupt
          }
          yield* reportQueued(keys, request, admitted.queuePosition)
          yield* runJob(keys, parsed.job, slot)
        }).pipe(
          Effect.catchCause((cause) => {
            if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause)
            const failure = Cause.squash(cause)
            if (failure instanceof JobFailure) return failJob(keys, request, failure.reason, failure.quoteMsats, failure.aboutRequest)
            return failJob(keys, request, `internal error: ${String(failure).slice(0, 200)}`)
          }),
          Effect.onInterrupt(() => interrupted(keys, request)),
          Effect.ensuring(Effect.andThen(
            Effect.sync(() => {
              activeJobs.delete(event.id)
              admission.release(event.pubkey, slot)
            }),
            showActiveJobs
          ))
        )
      }).pipe(
        Effect.catchCause((cause) =>
          Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : Effect.logError(`Request ${event.id.slice(0, 8)} could not be handled`, cause))
      )

    /** A kind 5 deletion by a job's own customer stops that job: Ollama is aborted, no result is sent. */
    const cancelJobs = (jobs: FiberMap.FiberMap<string>, deletion: NostrEvent) =>
      Effect.gen(function*() {
        for (const id of tagValues(deletion.tags, "e")) {
          withdrawn.set(id, deletion.pubkey)
          if (withdrawn.size > WITHDRAWN_LIMIT) withdrawn.delete(withdrawn.keys().next().value as string)
          if (activeJobs.get(id) !== deletion.pubkey) continue
          cancelled.add(id)
          yield* FiberMap.remove(jobs, id)
        }
      })

    /** Why the wallet cannot bill in the configured payment mode, or undefined when it can (or need not). */
    const walletProblem = (config: Config) =>
      Effect.gen(function*() {
        if (config["payment.mode"] === "free") return undefined
        const w = yield* wallet.status
        return w.ready ? undefined : w.error ?? "unknown reason"
      })

    const checkReadiness = Effect.gen(function*() {
      const config = yield* settings.current
      const ollama: InferenceStatus = yield* inference.status
      if (!ollama.reachable) return ollama.error ?? `Ollama is not reachable at ${ollama.host}`
      if (ollama.models.length === 0) return `Ollama at ${ollama.host} has no models installed (try \`ollama pull llama3.2\`)`
      const model = config["textGeneration.model"]
      if (model && !ollama.models.includes(model) && !ollama.models.includes(`${model}:latest`)) {
        return `the model "${model}" set in sellCompute.textGeneration.model is not installed in Ollama`
      }
      const walletWhy = yield* walletProblem(config)
      return walletWhy === undefined ? undefined : `the wallet is not ready: ${walletWhy}`
    })

    /** Ends, ready or with a reason, even when Ollama or the wallet never answers. */
    const readiness = checkReadiness.pipe(Effect.timeoutOrElse({
      duration: READINESS_TIMEOUT_MS,
      orElse: () => Effect.succeed(`the checks of Ollama and the wallet did not finish within ${READINESS_TIMEOUT_MS / 1000} s`)
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

    const announce = (state: Online) =>
      Effect.gen(function*() {
        const config = yield* settings.current
        // Each version strictly newer than the last: of two with the same created_at, relays keep the
        // lower id, so a second change within a second would otherwise be lost.
        const template = handlerInfoEvent(config, PROVIDER_PROFILE)
        const createdAt = Math.max(template.created_at, lastAnnouncedAt + 1)
        lastAnnouncedAt = createdAt
        const outcome = yield* publishLogged(state.keys, { ...template, created_at: createdAt }, "announcement")
        state.announcementId = outcome.eventId
      }).pipe(Effect.catch((e: RelayError) => Effect.logWarning(`Announcement not published: ${e.message}`)))

    /** The kind 5 of our announcement; never older than it, or an `a` deletion would not reach it. */
    const withdrawal = (state: Online) => {
      const template = handlerDeletionEvent(state.keys.pubkey, state.announcementId)
      return { ...template, created_at: Math.max(template.created_at, lastAnnouncedAt) }
    }

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

    /** While online: relays, concurrency and the announcement follow the settings. */
    const followSettings = (state: Online) =>
      settings.changes.pipe(
        Stream.drop(1),
        Stream.runForEach((config) =>
          Effect.gen(function*() {
            yield* nostr.setRelays(config.relays)
            yield* permits.resize(config.maxConcurrentJobs)
            admission.setLimits(admissionLimits(config))
            yield* announce(state)
            yield* checkWalletWhileOnline(config)
          }))
      )

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
      // What another window or process sharing the data dir served since we read the history.
      yield* store.refresh
      // Read before the subscription starts: requests it replays are this session's, not cut off.
      const cutOff = yield* store.unfinished
      const keys = yield* identity.keys.pipe(Effect.mapError((e) => new GoOnlineError({ message: `Cannot go online: ${e.message}` })))
      const config = yield* settings.current
      yield* permits.resize(config.maxConcurrentJobs)
      admission.setLimits(admissionLimits(config))
      // Relays that ask (NIP-42) are answered with our key, so they serve us.
      yield* nostr.setAuthSigner((template) => signEvent(template, keys.secretKey))
      yield* nostr.setRelays(config.relays)

      const scope = yield* Scope.make()
      const state: Online = { scope, keys }
      online = state
      const jobs = yield* FiberMap.make<string>().pipe(Scope.provide(scope))
      const since = nowSeconds() - RECENT_REQUEST_WINDOW_S
      yield* nostr.subscribe({ kinds: [...config.supportedJobKinds], since }).pipe(
        Stream.runForEach((event) => FiberMap.run(jobs, event.id, handleRequest(keys, event), { onlyIfMissing: true })),
        Effect.forkIn(scope)
      )
      // Deletions from the same window as the requests, so one made before we came online is honoured.
      yield* nostr.subscribe({ kinds: [DELETION_KIND], since }).pipe(
        Stream.runForEach((deletion) => cancelJobs(jobs, deletion)),
        Effect.forkIn(scope)
      )
      yield* followSettings(state).pipe(Effect.forkIn(scope))
      yield* Effect.gen(function*() {
        const { activeJobs } = yield* SubscriptionRef.get(status)
        yield* publishLogged(keys, heartbeatEvent(keys.pubkey, activeJobs), "heartbeat").pipe(Effect.ignore)
      }).pipe(Effect.repeat(Schedule.spaced(`${HEARTBEAT_INTERVAL_S} seconds`)), Effect.forkIn(scope))
      yield* reportDropped.pipe(Effect.repeat(Schedule.spaced(`${DROPPED_REPORT_MS} millis`)), Effect.forkIn(scope))
      yield* announce(state)
      yield* settlement.resume
      // Jobs a crash cut off (the history says they started but never ended) get an answer now.
      for (const job of cutOff) {
        const unpaid = job.payment === "unpaid" ? " (do not pay its earlier invoice)" : ""
        yield* failJob(keys, { id: job.id, customer: job.customer }, `the provider stopped before finishing this job; please send it again${unpaid}`)
      }
      yield* setStatus({ state: "online", npub: keys.npub, onlineSince: Date.now(), error: undefined })
      yield* Effect.logInfo(`Online as ${keys.npub} on ${config.relays.join(", ")}`)
    })

    const goOffline = Effect.gen(function*() {
      const state = online
      if (!state) return
      online = undefined
      yield* setStatus({ state: "going-offline" })
      // The announcement is withdrawn while the jobs wind down, so a slow relay or a result still
      // being delivered cannot push it past a host's exit deadline. Closing the scope interrupts the
      // subscription and every job (each sends its own error feedback).
      yield* Effect.all([
        Scope.close(state.scope, Exit.void),
        publishLogged(state.keys, withdrawal(state), "withdrawal").pipe(
          Effect.timeout(OFFLINE_PUBLISH_TIMEOUT_MS),
          Effect.catch((e) => Effect.logWarning(`Withdrawal of the announcement not confirmed: ${String((e as { message?: string }).message ?? e)}`))
        )
      ], { concurrency: "unbounded", discard: true })
      yield* reportDropped
      yield* nostr.setRelays([])
      yield* nostr.setAuthSigner(undefined)
      yield* lock.release
      yield* setStatus({ state: "offline", onlineSince: undefined, activeJobs: 0 })
      yield* Effect.logInfo("Offline")
    })

    yield* Effect.addFinalizer(() => goOffline)

    return Kind5050DVM.of({ goOnline, goOffline, status, readiness })
  })
}

/** A wallet that failed to make an invoice is asked twice more, a second and then two later. */
const INVOICE_RETRY = Schedule.exponential("1 second").pipe(Schedule.upTo({ times: 2 }))

/** A result no relay accepted is sent again a few times, backing off, before the job is failed. */
const RESULT_RETRY = Schedule.exponential("500 millis").pipe(Schedule.upTo({ times: 4 }))

const admissionLimits = (config: Config): AdmissionLimits => ({
  maxRunning: config.maxConcurrentJobs,
  maxQueued: config["limits.maxQueuedJobs"],
  perCustomerPerMinute: config["limits.jobsPerMinutePerCustomer"],
  perCustomerInFlight: config["limits.jobsInFlightPerCustomer"],
  allow: config["access.allowList"].map(hexPubkey),
  deny: config["access.denyList"].map(hexPubkey)
})

/**
 * Customer-named reply relays are used only over TLS at public hosts, so a stranger cannot point us
 * at this machine's or its network's services (Nostr also checks the address each name resolves to).
 */
const secureRelays = (urls: ReadonlyArray<string>) => urls.filter(isPublicRelayUrl).slice(0, 5)
