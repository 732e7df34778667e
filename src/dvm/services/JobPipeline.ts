/**
 * One job, start to end: the door's verdict read (malformed, not ours, too old), the request parsed,
 * admitted or refused (within the reply budget), quoted, billed (pay-first or pay-after), run on
 * Ollama (at most maxConcurrentJobs at once), answered with its result and feedback, and every state
 * recorded. A job's customer may withdraw it (kind 5). Never fails: every failure becomes an error to
 * the customer. The online session (Kind5050DVM.ts) owns the job fibers and hands each request here.
 * See "The job pipeline" in DESIGN.md.
 */
import { Cause, Context, Deferred, Effect, Fiber, Layer, Queue, Schedule, Semaphore, SubscriptionRef } from "effect"
import { Admission, type AdmissionLimits } from "../admission"
import { offeredModels } from "../catalogue"
import { Fleet, openInvoiceOf } from "../fleet/Fleet"
import type { Config } from "../config"
import type { RelayError, WalletError } from "../errors"
import { encryptFor, type EncryptionScheme } from "../protocol/encryption"
import { feedbackEvent, type FeedbackStatus, type Invoice, refOf, type RequestRef, resultEvent } from "../protocol/events"
import { hexPubkey, type Keys } from "../protocol/identity"
import { generationOptions, type GenerationOptions, type JobRequest, parseJobRequest } from "../protocol/jobRequest"
import { type IncomingEvent, type NostrEvent, tagValues } from "../protocol/nostrEvent"
import { priceSats, satsToMsats } from "../pricing"
import { serverAddress } from "../modelServer"
import { preview } from "../printable"
import { isPublicRelayUrl } from "../publicRelay"
import { PromptTokens, utf8Bytes } from "../promptTokens"
import { pricingOf, quoteFor } from "../quote"
import { ReplyBudget } from "../replyBudget"
import { selfTestPubkey } from "../selfTestCustomer"
import { Inference } from "./Inference"
import { withFetchedInputs } from "./jobInputs"
import { JobStore } from "./JobStore"
import { Nostr } from "./Nostr"
import { OFFLINE_PUBLISH_TIMEOUT_MS, publisher } from "./publisher"
import { Settings } from "./Settings"
import { Settlement } from "./Settlement"
import { Wallet } from "./Wallet"

export class JobPipeline extends Context.Service<JobPipeline, {
  /** One request, start to end, in the caller's fiber (interrupting it stops the job). */
  readonly handle: (keys: Keys, event: IncomingEvent) => Effect.Effect<void>
  /**
   * A kind 5 deletion: remembered (a job not started yet never runs), and the ids of running jobs
   * it stops, those of its own author only, returned for the caller to interrupt.
   */
  readonly withdraw: (deletion: NostrEvent) => Effect.Effect<ReadonlyArray<string>>
  /** Ends a job with an error to its customer (a job a crash cut off). */
  readonly fail: (keys: Keys, request: RequestRef, reason: string) => Effect.Effect<void>
  /** Concurrency and admission limits follow the settings. */
  readonly configure: (config: Config) => Effect.Effect<void>
  /** Jobs admitted and not ended. */
  readonly activeJobs: SubscriptionRef.SubscriptionRef<number>
}>()("sellCompute/JobPipeline") {
  static readonly layer = Layer.effect(JobPipeline, makeJobPipeline())
}

/** Installed models are re-read at most this often while jobs arrive. */
const MODELS_CACHE_MS = 30_000
/** Deleted request ids remembered, oldest forgotten first. */
const WITHDRAWN_LIMIT = 10_000
/** Requests dropped for want of reply budget are reported at most this often. */
const DROPPED_REPORT_MS = 60_000
/** A job still running after this long tells its customer `processing` (sooner with its first partial). */
const PROCESSING_AFTER_MS = 100
/** On start, prompt-token estimates learn from this many of the latest jobs in the history. */
const LEARN_FROM_JOBS = 500
/** Partial results stop past this much text (relays refuse large events); the result has it all. */
export const MAX_PARTIAL_CHARS = 32_000

/** Points a job passes on its way, in order; the relay's OK for the result comes last. */
export type JobStage = "received" | "admitted" | "model-request" | "first-byte" | "last-byte" | "result-signed" | "result-ok"

/** Told each stage a job reaches, as it reaches it (a bench installs one; production has none). */
export type JobStageRecorder = (jobId: string, stage: JobStage) => void

let stageRecorder: JobStageRecorder | undefined

/** Installs (or, with undefined, removes) the recorder of job stages for this process. */
export const recordJobStages = (recorder: JobStageRecorder | undefined): void => {
  stageRecorder = recorder
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

function makeJobPipeline() {
  return Effect.gen(function*() {
    const settings = yield* Settings
    const nostr = yield* Nostr
    const inference = yield* Inference
    const wallet = yield* Wallet
    const store = yield* JobStore
    const settlement = yield* Settlement
    const fleet = yield* Fleet
    const { sign, publishSigned, publishLogged } = publisher(nostr)

    const permits = yield* Semaphore.make(1)
    /** Prompt tokens expected per model, learned from what Ollama counted (the history's last jobs first). */
    const promptTokens = new PromptTokens()
    for (const job of [...yield* store.recent(LEARN_FROM_JOBS)].reverse()) {
      if (job.model && job.promptBytes !== undefined && job.promptTokens !== undefined) promptTokens.observe(job.model, job.promptBytes, job.promptTokens)
    }
    /** The models of the server at `address` (another server, or backend, is asked afresh). */
    let models: { readonly at: number; readonly address: string; readonly names: ReadonlyArray<string> } | undefined
    const admission = new Admission(admissionLimits(yield* settings.current))
    /** The self-test's customer for the key we serve with, once a request came in. */
    let selfTestAllowed: string | undefined
    /** Jobs admitted and not ended: id → customer (only the customer may cancel). */
    const activeJobs = new Map<string, string>()
    const activeCount = yield* SubscriptionRef.make(0)
    const cancelled = new Set<string>()
    /** Jobs another host of the fleet took over while this one stalled: ended here without a word. */
    const lost = new Set<string>()
    /** Request ids deleted by their author (kind 5) lately: a job not started yet is then never run. */
    const withdrawn = new Map<string, string>()
    /** Every refusal (malformed, denied, rate limited, busy) draws on one budget, so floods get no flood back. */
    const replyBudget = new ReplyBudget()
    let droppedReported = 0
    let droppedAt = 0

    /** The count follows `activeJobs`, read from the map itself. */
    const showActiveJobs = SubscriptionRef.set(activeCount, activeJobs.size).pipe(Effect.asVoid)

    const sendFeedback = (keys: Keys, request: RequestRef, state: FeedbackStatus, options: Parameters<typeof feedbackEvent>[2] = {}) =>
      publishLogged(keys, feedbackEvent(request, state, options), `feedback ${state} for ${request.id.slice(0, 8)}`).pipe(
        Effect.catch((e: RelayError) => Effect.logWarning(e.message)),
        Effect.asVoid
      )

    const installedModels = (config: Config) => Effect.gen(function*() {
      const address = `${config["inference.backend"]} ${serverAddress(config)}`
      if (models && models.address === address && Date.now() - models.at < MODELS_CACHE_MS) return models.names
      const current = yield* inference.status
      if (!current.reachable) return yield* Effect.fail(new JobFailure(current.error ?? "the model server is not reachable"))
      models = { at: Date.now(), address, names: current.models }
      return current.models
    })

    /** The job's `model` when offered (installed and allowed), else ours, else the first offered model. */
    const chooseModel = (job: JobRequest, config: Config) =>
      Effect.gen(function*() {
        const names = offeredModels(yield* installedModels(config), config)
        const wanted = [job.params.model, config["textGeneration.model"]].filter((m): m is string => !!m)
        const chosen = wanted.find((m) => names.includes(m) || names.includes(`${m}:latest`)) ?? names[0]
        if (!chosen) return yield* Effect.fail(new JobFailure("none of the models this provider offers is available on its model server"))
        return chosen
      })

    /**
     * Partial results while the model writes: the text so far as `partial` feedback (encrypted like
     * the request), the first as soon as there is text, then at most one per interval, always the
     * newest, `processing` going out first. Each is handed to the relays' connections before `stop` can
     * return, so none ever follows the result; `stop` does not wait for its OK.
     */
    const streamPartials = (keys: Keys, job: JobRequest, intervalMs: number, processingFirst: Effect.Effect<void>) =>
      Effect.gen(function*() {
        const newest = yield* Queue.sliding<string>(1)
        const sender = yield* Effect.gen(function*() {
          let first = true
          while (true) {
            const text = yield* Queue.take(newest)
            if (first) {
              first = false
              yield* processingFirst
            }
            // Past this the partial would be refused by relays; the result carries the whole text.
            if (text.length > MAX_PARTIAL_CHARS) return
            const content = job.encryption ? encryptFor(job.encryption, keys.secretKey, job.customer, text) : text
            // Started at once: handed to every connection before the fork returns (see processing).
            const sent = yield* Effect.forkChild(
              sendFeedback(keys, job, "partial", { content, ...(job.encryption ? { encrypted: true } : {}) }),
              { startImmediately: true }
            )
            yield* Fiber.await(sent)
            yield* Effect.sleep(intervalMs)
          }
        }).pipe(Effect.forkChild)
        return {
          onText: (text: string) => void Queue.offerUnsafe(newest, text),
          stop: Fiber.interrupt(sender)
        }
      })

    /** The model's answer, stopped (and Ollama aborted) when it runs past the job timeout. */
    const generate = (keys: Keys, job: JobRequest, config: Config, options: GenerationOptions, model: string, processingFirst: Effect.Effect<void>) =>
      Effect.gen(function*() {
        const timeoutSeconds = config["limits.jobTimeoutSeconds"]
        const intervalMs = config["streaming.intervalMs"]
        const partials = intervalMs > 0 ? yield* streamPartials(keys, job, intervalMs, processingFirst) : undefined
        const recorder = stageRecorder
        let firstByte = recorder !== undefined
        const onText = recorder || partials
          ? (text: string) => {
            if (firstByte) {
              firstByte = false
              recorder?.(job.id, "first-byte")
            }
            partials?.onText(text)
          }
          : undefined
        const generation = yield* permits.withPermit(
          Effect.suspend(() => {
            recorder?.(job.id, "model-request")
            return inference.generate({ model, prompt: job.prompt, options, ...(onText ? { onText } : {}) })
          }).pipe(
            Effect.timeout(`${timeoutSeconds} seconds`)
          )
        ).pipe(
          Effect.mapError((e) => new JobFailure(Cause.isTimeoutError(e) ? `the job ran longer than ${timeoutSeconds} s and was stopped` : e.message)),
          Effect.ensuring(partials ? partials.stop : Effect.void)
        )
        recorder?.(job.id, "last-byte")
        const promptBytes = utf8Bytes(job.prompt)
        promptTokens.observe(model, promptBytes, generation.promptTokens)
        yield* store.record({
          id: job.id,
          model,
          promptBytes,
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

    /** Handed to the relays at once, ahead of the job's later replies (as `processing` is); its OK is not waited for. */
    const reportQueued = (keys: Keys, request: RequestRef, position: number) =>
      position > 0
        ? Effect.forkChild(sendFeedback(keys, request, "processing", { extra: `queued: position ${position}, waiting for the model` }), { startImmediately: true })
        : Effect.void

    /** `slot.queued` says whether the job holds its place in the admission queue (taken here once a pay-first job is paid). */
    const runJob = (keys: Keys, request: JobRequest, slot: { queued: boolean }) =>
      Effect.gen(function*() {
        const config = yield* settings.current
        // Notes and other jobs' results named as inputs are fetched first (deadline, size limit).
        const job = yield* withFetchedInputs(request, { ourRelays: config.relays, maxPromptChars: config["limits.maxPromptChars"] }).pipe(
          Effect.mapError((e) => new JobFailure(e.reason, undefined, true))
        )
        // The seller's own self-test is served free and kept out of earnings.
        const mode = isSelfTest(keys, job.customer) ? "free" : config["payment.mode"]
        // The model first: what the prompt is expected to cost depends on its tokenizer.
        const model = yield* chooseModel(job, config)
        const quote = mode === "free" ? undefined : quoteFor(job, config, promptTokens.estimate(model, job.prompt), model)
        if (quote && "refused" in quote) return yield* Effect.fail(new JobFailure(quote.refused, quote.priceMsats, true))
        const options = { ...generationOptions(job.params, config), ...(quote ? { maxTokens: quote.maxTokens } : {}) }

        let prepaidSats: number | undefined
        if (mode === "pay-first" && quote) {
          // A job taken over from a fleet host that died keeps its invoice, paid or not: never a second one.
          const earlier = yield* store.get(job.id)
          let prepaid = earlier?.payment === "paid" ? earlier.priceSats ?? quote.worstSats : undefined
          if (prepaid === undefined) {
            const issued = openInvoiceOf(earlier) ?? (yield* issueInvoice(job, config, quote.worstSats, "prepaid"))
            yield* sendFeedback(keys, job, "payment-required", {
              invoice: { amountMsats: satsToMsats(issued.amountSats), bolt11: issued.bolt11 },
              extra: `pay ${issued.amountSats} sats to start this job`
            })
            const outcome = yield* settlement.awaitOutcome(job.id, issued)
            if (outcome === "expired") return yield* Effect.fail(new JobFailure("the invoice expired unpaid; no work was done"))
            prepaid = issued.amountSats
          }
          prepaidSats = prepaid
          if (!slot.queued) {
            slot.queued = true
            yield* reportQueued(keys, job, admission.enqueue({ paid: true }))
          }
        }

        yield* store.record({ id: job.id, status: "processing", startedAt: Date.now() })
        // `processing` is said once there is something to wait for: when the job has run for
        // PROCESSING_AFTER_MS, or just before its first partial. A job answered sooner goes straight
        // to its result: a feedback then would only cost the customer time (the relay takes it first).
        // Once the model is done, a `processing` not yet handed to the connections never goes; one
        // handed over is on every relay's connection before anything later for the job (relays take a
        // connection's messages in order). Nothing waits for its OK, a round trip. Feedback goes to
        // our relays only.
        const startProcessing = yield* Deferred.make<void>()
        const processingOut = yield* Deferred.make<void>()
        let processingHandedOver = false
        const processing = yield* Effect.forkChild(Effect.gen(function*() {
          yield* Effect.raceFirst(Effect.sleep(PROCESSING_AFTER_MS), Deferred.await(startProcessing))
          processingHandedOver = true
          // Started at once: handed to every connection before the fork returns.
          // Every feedback says something: nostrdvm-style clients pass its text on to their user.
          const sent = yield* Effect.forkChild(sendFeedback(keys, job, "processing", { extra: `running on ${model}` }), { startImmediately: true })
          yield* Deferred.succeed(processingOut, undefined)
          yield* Fiber.await(sent)
        }))
        const processingFirst = Deferred.succeed(startProcessing, undefined).pipe(Effect.andThen(Deferred.await(processingOut)))
        const processingSettled = Effect.suspend(() => processingHandedOver ? Deferred.await(processingOut) : Fiber.interrupt(processing))
        const generating = yield* Effect.forkChild(generate(keys, job, config, options, model, processingFirst), { startImmediately: true })
        const { generation, price, invoice } = yield* Effect.gen(function*() {
          // A job stopped while the model works stops the model (and its partials) before anything else.
          const generation = yield* Fiber.join(generating).pipe(
            Effect.onInterrupt(() => Fiber.interrupt(generating)),
            Effect.ensuring(processingSettled)
          )
          if (mode === "free") {
            yield* store.record({ id: job.id, priceSats: 0, payment: "free" })
            return { generation, price: 0, invoice: undefined }
          }
          if (prepaidSats !== undefined) {
            return { generation, price: prepaidSats, invoice: undefined }
          }
          const measured = priceSats(generation, pricingOf(config, model))
          // Never above the customer's bid; max_tokens was capped so this only trims rounding.
          const price = job.bidMsats === undefined ? measured : Math.min(measured, Math.floor(job.bidMsats / 1000))
          const issued = yield* issueInvoice(job, config, price, `${generation.promptTokens + generation.completionTokens} tokens`)
          yield* settlement.watch(job.id, issued)
          const owed: Invoice = { amountMsats: satsToMsats(price), bolt11: issued.bolt11 }
          return { generation, price, invoice: owed }
        })

        const content = job.encryption ? encryptFor(job.encryption, keys.secretKey, job.customer, generation.text) : generation.text
        const signed = yield* sign(keys, resultEvent(job, content, invoice, config.relays[0]))
        // In a fleet: a host that stalled past its lease lost the job to another host, which answers;
        // else the signed result is kept, so a host taking the job over sends this one, not a second.
        if (!(yield* fleet.stillOurs(job.id, signed))) {
          lost.add(job.id)
          return yield* Effect.interrupt
        }
        yield* Effect.succeed(signed).pipe(
          Effect.flatMap((result) => {
            stageRecorder?.(job.id, "result-signed")
            // One attempt runs to its end even when going offline interrupts the job: once a relay
            // may have the result, the job is recorded a success, never failed after the fact. The
            // same signed result is retried, so a customer never sees two different results.
            return publishSigned(result, `result for ${job.id.slice(0, 8)}`, secureRelays(job.replyRelays)).pipe(
              Effect.tap(() => Effect.sync(() => stageRecorder?.(job.id, "result-ok"))),
              Effect.andThen(Effect.suspend(() => store.record({ id: job.id, status: "success", finishedAt: Date.now(), resultId: result.id }))),
              Effect.uninterruptible,
              Effect.retry(RESULT_RETRY)
            )
          }),
          Effect.mapError((e) => new JobFailure(`the result could not be delivered: ${e.message}`))
        )
        // The result asks for money only when money is owed (pay-after); what was paid is said here.
        const tokens = generation.promptTokens + generation.completionTokens
        const paid = mode === "free" ? "free" : prepaidSats !== undefined ? `${prepaidSats} sats paid in advance` : `${price} sats`
        yield* sendFeedback(keys, job, "success", { extra: `done: ${tokens} tokens, ${paid}`, ...(invoice ? { invoice } : {}) })
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

    /** `prompt`: a plain job's, whose start the dashboard shows (an encrypted job's is never kept). */
    const recordReceived = (event: NostrEvent, encrypted: boolean, prompt?: string) =>
      store.record({
        id: event.id,
        customer: event.pubkey,
        kind: event.kind,
        requestedAt: event.created_at,
        receivedAt: Date.now(),
        status: "received",
        encrypted,
        ...(prompt !== undefined && !encrypted ? { promptPreview: preview(prompt) } : {})
      })

    /**
     * Ends a job whose fiber was interrupted: cancelled by its customer, or cut off by going offline.
     * A job already recorded as ended (its result delivered, say, with only the success feedback
     * still on its way) keeps that ending: it is not turned into an error after the fact.
     */
    const interrupted = (keys: Keys, request: RequestRef) =>
      Effect.gen(function*() {
        if (lost.delete(request.id)) return yield* Effect.logWarning(`Job ${request.id.slice(0, 8)} was taken over by another host of the fleet`)
        const byCustomer = cancelled.delete(request.id)
        const status = (yield* store.get(request.id))?.status
        if (status === "success" || status === "error") return
        if (byCustomer) {
          yield* store.record({ id: request.id, status: "error", error: "cancelled by the customer" })
          return yield* Effect.logInfo(`Job ${request.id.slice(0, 8)} cancelled by the customer`)
        }
        if (yield* fleet.handingOver) return yield* Effect.logInfo(`Job ${request.id.slice(0, 8)} left to the other hosts of the fleet`)
        yield* failJob(keys, request, "the provider went offline before the job finished").pipe(
          Effect.timeout(OFFLINE_PUBLISH_TIMEOUT_MS),
          Effect.ignore
        )
      })

    /**
     * A job taken over from a fleet host that died after signing its result (it may have reached a
     * relay): that same result is sent, so the customer never gets two.
     */
    const resendResult = (keys: Keys, request: Addressee, result: NostrEvent) =>
      publishSigned(result, `result for ${request.id.slice(0, 8)} (signed by the host that died)`).pipe(
        Effect.retry(RESULT_RETRY),
        Effect.andThen(store.record({ id: request.id, status: "success", resultId: result.id, finishedAt: Date.now() })),
        Effect.andThen(Effect.logInfo(`Job ${request.id.slice(0, 8)}: the result its first host signed is sent again`)),
        Effect.catch((e: RelayError) => failJob(keys, request, `the result could not be delivered: ${e.message}`))
      )

    /** One request, start to end. Never fails: every failure becomes error feedback. */
    const handleRequest = (keys: Keys, event: IncomingEvent) =>
      Effect.gen(function*() {
        stageRecorder?.(event.id, "received")
        const config = yield* settings.current
        const selfTest = selfTestPubkeyOf(keys)
        if (selfTest !== selfTestAllowed) {
          selfTestAllowed = selfTest
          admission.setLimits(admissionLimits(config, selfTest))
        }
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
        // Ours to answer unless handled before (another relay, a restart) or, in a fleet, claimed by another host.
        const counted = parsed._tag === "Job" && event.malformed === undefined
        const claim = yield* fleet.claim(event, {
          room: () => config.maxConcurrentJobs - admission.size,
          ...(counted
            ? {
              limits: {
                perMinute: config["limits.jobsPerMinutePerCustomer"],
                inFlight: config["limits.jobsInFlightPerCustomer"],
                queued: config["limits.maxQueuedJobs"],
                maxAgeSeconds: config["limits.maxRequestAgeSeconds"]
              }
            }
            : {})
        })
        if (claim._tag === "Taken") return
        if (claim._tag === "Refused") return yield* refuse(keys, event, request, claim.reason, false)
        if (claim._tag === "Claimed" && claim.result) return yield* resendResult(keys, request, claim.result)
        if (parsed._tag === "Invalid" || event.malformed !== undefined) {
          // The deny list and the per-minute rate apply to malformed requests too (they count toward
          // it), and are answered the same way as for any request.
          const screened = admission.screen(event.pubkey, Date.now())
          if (screened._tag === "Refused") return yield* refuse(keys, event, request, screened.reason, false)
          const reason = parsed._tag === "Invalid" ? parsed.reason : `malformed request: ${event.malformed}`
          return yield* refuse(keys, event, request, reason, parsed._tag === "Invalid" && parsed.decrypted === true)
        }
        // A pay-first job waits for payment outside the queue, and takes its place once paid.
        const slot = { queued: config["payment.mode"] !== "pay-first" || isSelfTest(keys, event.pubkey) }
        const admitted = admission.admit(event.pubkey, Date.now(), { queue: slot.queued })
        if (admitted._tag === "Refused") return yield* refuse(keys, event, request, admitted.reason, false)
        yield* recordReceived(event, encryption !== undefined, parsed.job.prompt)
        activeJobs.set(event.id, event.pubkey)
        yield* showActiveJobs
        yield* Effect.gen(function*() {
          if (withdrawn.get(event.id) === event.pubkey) {
            // Its customer deleted it before we got to it (seen while catching up on going online).
            cancelled.add(event.id)
            return yield* Effect.interrupt
          }
          stageRecorder?.(event.id, "admitted")
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
          Cause.hasInterruptsOnly(cause) ? Effect.interrupt : Effect.logError(`Request ${event.id.slice(0, 8)} could not be handled`, cause))
      )

    /** A kind 5 deletion by a job's own customer stops that job: Ollama is aborted, no result is sent. */
    const withdraw = (deletion: NostrEvent) =>
      Effect.sync(() => {
        const stopped: Array<string> = []
        for (const id of tagValues(deletion.tags, "e")) {
          withdrawn.set(id, deletion.pubkey)
          if (withdrawn.size > WITHDRAWN_LIMIT) withdrawn.delete(withdrawn.keys().next().value as string)
          if (activeJobs.get(id) !== deletion.pubkey) continue
          cancelled.add(id)
          stopped.push(id)
        }
        return stopped
      })

    const configure = (config: Config) =>
      Effect.gen(function*() {
        yield* permits.resize(config.maxConcurrentJobs)
        admission.setLimits(admissionLimits(config, selfTestAllowed))
      })

    return JobPipeline.of({
      handle: handleRequest,
      withdraw,
      fail: (keys, request, reason) => failJob(keys, request, reason),
      configure,
      activeJobs: activeCount
    })
  })
}

/** A wallet that failed to make an invoice is asked twice more, a second and then two later. */
const INVOICE_RETRY = Schedule.exponential("1 second").pipe(Schedule.upTo({ times: 2 }))

/** A result no relay accepted is sent again a few times, backing off, before the job is failed. */
const RESULT_RETRY = Schedule.exponential("500 millis").pipe(Schedule.upTo({ times: 4 }))

const selfTestCustomers = new WeakMap<Uint8Array, string>()

/** The self-test's customer for our key (selfTestCustomer.ts), derived once per key. */
const selfTestPubkeyOf = (keys: Keys): string => {
  let pubkey = selfTestCustomers.get(keys.secretKey)
  if (pubkey === undefined) {
    pubkey = selfTestPubkey(keys.secretKey)
    selfTestCustomers.set(keys.secretKey, pubkey)
  }
  return pubkey
}

const isSelfTest = (keys: Keys, customer: string): boolean => selfTestPubkeyOf(keys) === customer

/** `selfTest`: the self-test's customer, let in by an allow-list too (it is the seller testing). */
const admissionLimits = (config: Config, selfTest?: string): AdmissionLimits => ({
  maxRunning: config.maxConcurrentJobs,
  maxQueued: config["limits.maxQueuedJobs"],
  perCustomerPerMinute: config["limits.jobsPerMinutePerCustomer"],
  perCustomerInFlight: config["limits.jobsInFlightPerCustomer"],
  allow: config["access.allowList"].length > 0 && selfTest ? [...config["access.allowList"].map(hexPubkey), selfTest] : config["access.allowList"].map(hexPubkey),
  deny: config["access.denyList"].map(hexPubkey)
})

/**
 * Customer-named reply relays are used only over TLS at public hosts, so a stranger cannot point us
 * at this machine's or its network's services (Nostr also checks the address each name resolves to).
 */
const secureRelays = (urls: ReadonlyArray<string>) => urls.filter(isPublicRelayUrl).slice(0, 5)
