/**
 * "Can customers reach me?", answered as a customer would find out: through each configured relay
 * on its own, with the throwaway customer key derived from ours (selfTestCustomer.ts; the provider
 * serves it free, so no sats move), find our announcement by a `#k` query, find our heartbeat,
 * publish a small job, and receive and check the provider's feedback and result. Per relay: ok with
 * the round-trip time, or the step that failed and why. Every step has a deadline; the provider may
 * be online in this process or another. A provider that asks for payment anyway is not paid: the
 * test stops at the invoice and says so.
 */
import { randomBytes } from "node:crypto"
import { checkEvent } from "./protocol/authentic"
import { FEEDBACK_KIND, HANDLER_D_TAG, HANDLER_INFO_KIND, HEARTBEAT_KIND, resultKindFor } from "./protocol/events"
import type { NostrEvent } from "./protocol/nostrEvent"
import { TEXT_GENERATION_KIND } from "./protocol/prompts"
import { signEvent } from "./protocol/signing"
import { printable } from "./printable"
import { selfTestSecretKey } from "./selfTestCustomer"
import { RelayConnection, type RelayConnectionEvents } from "./services/relayConnection"
import type { Filter } from "nostr-tools/filter"
import { getPublicKey } from "nostr-tools/pure"

export type SelfTestStep = "connect" | "announcement" | "heartbeat" | "request" | "feedback" | "result"

export interface StepOutcome {
  readonly step: SelfTestStep
  readonly ok: boolean
  /** For a person: what was found, or why not. */
  readonly detail: string
}

export interface RelayVerdict {
  readonly url: string
  readonly ok: boolean
  readonly steps: ReadonlyArray<StepOutcome>
  /** From publishing the job to its result, when the result came. */
  readonly roundTripMs?: number
}

export interface SelfTestReport {
  readonly ok: boolean
  readonly relays: ReadonlyArray<RelayVerdict>
}

export interface SelfTestTimeouts {
  /** Connecting, each query, and the relay's OK to our job. */
  readonly relayMs: number
  /** From the job's publication to the provider's first feedback. */
  readonly feedbackMs: number
  /** From the job's publication to its result. */
  readonly resultMs: number
}

export const SELF_TEST_TIMEOUTS: SelfTestTimeouts = { relayMs: 8000, feedbackMs: 20_000, resultMs: 120_000 }

export interface SelfTestOptions {
  readonly relays: ReadonlyArray<string>
  readonly providerSecretKey: Uint8Array
  readonly timeouts?: Partial<SelfTestTimeouts>
  /** Told each step as it ends (for a live report). */
  readonly onStep?: (url: string, outcome: StepOutcome) => void
}

/**
 * What the test asks the model: small, so a real model answers it in moments. Each job carries a
 * fresh number: two relays tested within one second would otherwise get the very same event (same
 * key, tags and created_at), which the provider rightly serves once.
 */
export const selfTestPrompt = () =>
  `This is self-test ${randomBytes(4).toString("hex")} of a Nostr compute provider. Reply with one word: ready.`
const SELF_TEST_MAX_TOKENS = "16"

const quietEvents: RelayConnectionEvents = {
  alreadyHave: () => false,
  forged: () => {},
  badFrame: () => {},
  closed: () => {},
  authenticated: () => {}
}

class StepFailed extends Error {
  constructor(readonly step: SelfTestStep, readonly detail: string) {
    super(detail)
  }
}

const reasonOf = (error: unknown) => printable(error instanceof Error ? error.message : String(error), 200)

const within = <A>(promise: Promise<A>, ms: number, step: SelfTestStep, what: string): Promise<A> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StepFailed(step, `${what}: no answer within ${ms / 1000} s`)), ms)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

/** Every event the relay has for `filter`, up to its EOSE (authentic ones only: the door checked them). */
const query = (relay: RelayConnection, filter: Filter, ms: number, step: SelfTestStep, what: string) =>
  within(new Promise<Array<NostrEvent>>((resolve) => {
    const found: Array<NostrEvent> = []
    const sub = relay.subscribe([filter], {
      eoseTimeout: ms * 2,
      onevent: (event) => {
        if ((event as { malformed?: string }).malformed === undefined) found.push(event as unknown as NostrEvent)
      },
      oneose: () => {
        sub.close()
        resolve(found)
      },
      onclose: () => resolve(found)
    })
  }), ms, step, what)

const tagValue = (event: NostrEvent, name: string) => event.tags.find((t) => t[0] === name)?.[1]

const secondsAgo = (createdAt: number) => Math.max(0, Math.floor(Date.now() / 1000) - createdAt)

const testRelay = async (url: string, options: SelfTestOptions, timeouts: SelfTestTimeouts): Promise<RelayVerdict> => {
  const steps: Array<StepOutcome> = []
  const pass = (step: SelfTestStep, detail: string) => {
    const outcome = { step, ok: true, detail }
    steps.push(outcome)
    options.onStep?.(url, outcome)
  }
  const providerPubkey = getPublicKey(options.providerSecretKey)
  const customerKey = selfTestSecretKey(options.providerSecretKey)
  const customer = getPublicKey(customerKey)
  // A relay that asks (NIP-42) is answered with the throwaway customer key.
  const relay = new RelayConnection(url, { events: quietEvents, signer: () => (template) => signEvent(template, customerKey) })
  let roundTripMs: number | undefined
  try {
    await within(relay.connect({ timeout: timeouts.relayMs }), timeouts.relayMs + 500, "connect", "connecting").catch((error: unknown) => {
      throw error instanceof StepFailed ? error : new StepFailed("connect", `could not connect (${reasonOf(error)})`)
    })
    pass("connect", "connected")

    const announcements = await query(relay, { kinds: [HANDLER_INFO_KIND], "#k": [String(TEXT_GENERATION_KIND)], authors: [providerPubkey] }, timeouts.relayMs, "announcement", "looking for our announcement")
    const announcement = announcements.filter((e) => tagValue(e, "d") === HANDLER_D_TAG).sort((a, b) => b.created_at - a.created_at)[0]
    if (!announcement) throw new StepFailed("announcement", `no announcement (kind ${HANDLER_INFO_KIND} with #k ${TEXT_GENERATION_KIND}) of ours on this relay: customers searching here cannot find this provider`)
    const kinds = announcement.tags.filter((t) => t[0] === "k").map((t) => t[1]).join(", ")
    pass("announcement", `found by a #k query (kinds ${kinds}), published ${secondsAgo(announcement.created_at)} s ago`)

    const beats = await query(relay, { kinds: [HEARTBEAT_KIND], authors: [providerPubkey], limit: 5 }, timeouts.relayMs, "heartbeat", "looking for our heartbeat")
    const beat = beats.sort((a, b) => b.created_at - a.created_at)[0]
    if (!beat) throw new StepFailed("heartbeat", `no heartbeat (kind ${HEARTBEAT_KIND}) of ours on this relay: clients that check liveness think this provider is offline`)
    const expires = Number(tagValue(beat, "expiration"))
    if (Number.isFinite(expires) && expires <= Math.floor(Date.now() / 1000)) {
      throw new StepFailed("heartbeat", `the latest heartbeat expired ${secondsAgo(expires)} s ago: is the provider online?`)
    }
    pass("heartbeat", `last beat ${secondsAgo(beat.created_at)} s ago`)

    const job = signEvent({
      kind: TEXT_GENERATION_KIND,
      created_at: Math.floor(Date.now() / 1000),
      tags: [["i", selfTestPrompt(), "text"], ["param", "max_tokens", SELF_TEST_MAX_TOKENS], ["p", providerPubkey]],
      content: ""
    }, customerKey)
    const outcome = await new Promise<RelayVerdict>((resolve) => {
      let sentAt = 0
      let firstFeedback: string | undefined
      let heldResult: string | undefined
      let settled = false
      const timers: Array<ReturnType<typeof setTimeout>> = []
      const finish = (failure?: StepFailed) => {
        if (settled) return
        settled = true
        for (const timer of timers) clearTimeout(timer)
        sub.close()
        if (failure) {
          steps.push({ step: failure.step, ok: false, detail: failure.detail })
          options.onStep?.(url, steps.at(-1) as StepOutcome)
          return resolve({ url, ok: false, steps })
        }
        resolve({ url, ok: true, steps, ...(roundTripMs !== undefined ? { roundTripMs } : {}) })
      }
      /** A reply is ours only when the provider signed it, about this job, to this customer. */
      const misaddressed = (event: NostrEvent) =>
        event.pubkey !== providerPubkey ? "signed by another key" : tagValue(event, "e") !== job.id ? "about another job" : tagValue(event, "p") !== customer ? "addressed to another customer" : undefined
      const sub = relay.subscribe([{ kinds: [FEEDBACK_KIND, resultKindFor(TEXT_GENERATION_KIND)], "#e": [job.id] }], {
        eoseTimeout: timeouts.resultMs * 2,
        onevent: (raw) => {
          if (settled) return
          const event = raw as unknown as NostrEvent & { malformed?: string }
          if (event.malformed !== undefined) return finish(new StepFailed(firstFeedback ? "result" : "feedback", `a malformed reply (${event.malformed})`))
          const wrong = misaddressed(event)
          if (wrong !== undefined) return
          if (event.kind === FEEDBACK_KIND) {
            const status = tagValue(event, "status") ?? "(none)"
            const extra = event.tags.find((t) => t[0] === "status")?.[2]
            const said = `${status}${extra ? `: ${printable(extra, 200)}` : ""}`
            if (status === "payment-required") {
              return finish(new StepFailed("feedback", `the provider asked for payment (${said}); the self-test pays nothing and stops at the invoice. Is this provider a version that serves its self-test free?`))
            }
            if (status === "error") return finish(new StepFailed(firstFeedback ? "result" : "feedback", `the provider answered with an error: ${said}`))
            if (firstFeedback === undefined) {
              firstFeedback = said
              pass("request", "the job request was seen by the provider")
              pass("feedback", `feedback received and checked (${said})`)
              // A result that overtook every feedback (relays may reorder) was held for this.
              if (heldResult !== undefined) {
                pass("result", heldResult)
                finish()
              }
            }
            return
          }
          // The result: its request tag must be our job, intact.
          const request = tagValue(event, "request")
          let carried: unknown
          try {
            carried = request === undefined ? undefined : JSON.parse(request)
          } catch {
            carried = undefined
          }
          const check = checkEvent(carried)
          if (check._tag !== "Authentic" || check.event.id !== job.id) return finish(new StepFailed("result", "a result whose request tag is not our job"))
          if (event.content.trim() === "") return finish(new StepFailed("result", "an empty result"))
          if (roundTripMs !== undefined) return // a copy of the result already held
          roundTripMs = Date.now() - sentAt
          const checked = `result received and checked in ${(roundTripMs / 1000).toFixed(1)} s: "${printable(event.content.trim(), 60)}"`
          if (firstFeedback === undefined) {
            // The result came first: the feedback (at least the success that follows) is waited for a little.
            heldResult = checked
            timers.push(setTimeout(() => finish(new StepFailed("feedback", `the result came, but no feedback within ${timeouts.relayMs / 1000} s after it`)), timeouts.relayMs))
            return
          }
          pass("result", checked)
          finish()
        },
        onclose: (reason) => finish(new StepFailed(firstFeedback ? "result" : "request", `the relay closed our subscription (${printable(reason, 120)})`))
      })
      sentAt = Date.now()
      within(relay.publish(job as unknown as Parameters<RelayConnection["publish"]>[0]), timeouts.relayMs, "request", "publishing the job").then(
        () => {
          timers.push(setTimeout(() => {
            if (firstFeedback === undefined) finish(new StepFailed("request", `the provider did not answer the job within ${timeouts.feedbackMs / 1000} s: it is not online, or not subscribed on this relay`))
          }, timeouts.feedbackMs))
          timers.push(setTimeout(() => finish(new StepFailed("result", `no result within ${timeouts.resultMs / 1000} s (feedback said: ${firstFeedback ?? "nothing"})`)), timeouts.resultMs))
        },
        (error: unknown) => finish(error instanceof StepFailed ? error : new StepFailed("request", `the relay refused the job (${reasonOf(error)})`))
      )
    })
    return outcome
  } catch (error) {
    const failure = error instanceof StepFailed ? error : new StepFailed("connect", reasonOf(error))
    const outcome = { step: failure.step, ok: false, detail: failure.detail }
    steps.push(outcome)
    options.onStep?.(url, outcome)
    return { url, ok: false, steps }
  } finally {
    relay.close()
  }
}

/** Tests every relay, one after another (the provider's per-customer limits would refuse a burst). */
export const runSelfTest = async (options: SelfTestOptions): Promise<SelfTestReport> => {
  const timeouts = { ...SELF_TEST_TIMEOUTS, ...options.timeouts }
  const relays: Array<RelayVerdict> = []
  for (const url of options.relays) relays.push(await testRelay(url, options, timeouts))
  return { ok: relays.length > 0 && relays.every((r) => r.ok), relays }
}

/** What a relay's test found, for a person: all checked with the round trip, or the step that failed and why. */
export const verdictText = (verdict: RelayVerdict): string => {
  if (verdict.ok) return `announcement, heartbeat, feedback and result all checked; round trip ${((verdict.roundTripMs ?? 0) / 1000).toFixed(1)} s`
  const failed = verdict.steps.find((s) => !s.ok)
  return `${failed?.step ?? "connect"} failed: ${failed?.detail ?? "unknown"}`
}

/** One line per relay: PASS or FAIL, the relay, what its test found. */
export const verdictLine = (verdict: RelayVerdict): string => `${verdict.ok ? "PASS" : "FAIL"} ${verdict.url}: ${verdictText(verdict)}`
