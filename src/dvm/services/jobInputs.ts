/**
 * Inputs a job names by reference, fetched before it runs. An `event` input is a note by id (its
 * content is the input), asked of the tag's relay hint (public `wss://` hosts only, dialled at
 * public addresses only) and our relays at once. A `job` input is another job's result: an event of
 * kind 6000–6999 tagging that job whose `request` tag holds the authentic request with that id (so a
 * stranger cannot pass off a result for a job that never was). Every fetch has a deadline, frames
 * and contents have size limits, and what cannot be fetched becomes a reason for the customer.
 */
import { Effect } from "effect"
import type { Filter } from "nostr-tools/filter"
import { checkEvent } from "../protocol/authentic"
import type { JobInput, JobRequest } from "../protocol/jobRequest"
import type { NostrEvent } from "../protocol/nostrEvent"
import { promptFor } from "../protocol/prompts"
import { publicOnlyLookup, whyNotPublicRelay } from "../publicRelay"
import { normalizeRelayUrl } from "./Nostr"
import { RelayConnection, type RelayConnectionEvents } from "./relayConnection"
import { printable } from "../printable"

/** All of a job's fetches end within this, found or not. */
export const INPUT_FETCH_TIMEOUT_MS = 10_000
/** A relay sending a frame larger than this while we fetch an input is cut off (relays cap events far lower). */
export const INPUT_FRAME_BYTES = 1024 * 1024
/** Results of other jobs looked at per `job` input. */
const RESULTS_LIMIT = 20

const RESULT_KINDS = Array.from({ length: 1000 }, (_, i) => 6000 + i)

/** An input that could not be had: `reason` goes to the customer. */
export class InputUnavailable {
  readonly _tag = "InputUnavailable"
  constructor(readonly reason: string) {}
}

export interface InputFetchOptions {
  /** Our relays (the seller's own: dialled as configured). */
  readonly ourRelays: ReadonlyArray<string>
  /** The prompt, inputs and template together, may not be longer (characters). */
  readonly maxPromptChars: number
  readonly timeoutMs?: number
}

interface Target {
  readonly url: string
  readonly customer: boolean
}

/** Nothing a relay we only fetch from sends wrong is worth a log line: it just does not count. */
const quietEvents: RelayConnectionEvents = {
  alreadyHave: () => false,
  forged: () => {},
  badFrame: () => {},
  closed: () => {},
  authenticated: () => {}
}

const customerLookup = publicOnlyLookup()

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 120)

interface Fetched {
  readonly event?: NostrEvent
  /** Why each relay gave nothing usable, for the customer when none did. */
  readonly notes: ReadonlyArray<string>
}

/**
 * Asks every target at once; the first event `accept` takes (undefined: taken; a string: why not)
 * wins and every connection is closed. Ends when one is found, every relay has said all it has, or
 * `timeoutMs` passed.
 */
const fetchFirst = (targets: ReadonlyArray<Target>, filter: Filter, accept: (event: NostrEvent) => string | undefined, timeoutMs: number, abort: AbortSignal) =>
  new Promise<Fetched>((resolve) => {
    const connections: Array<RelayConnection> = []
    const notes: Array<string> = []
    const waiting = new Set(targets.map((t) => t.url))
    let settled = false
    const finish = (event?: NostrEvent) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      abort.removeEventListener("abort", onAbort)
      for (const connection of connections) connection.close()
      resolve(event ? { event, notes } : { notes })
    }
    const relayDone = (url: string, note?: string) => {
      if (note) notes.push(`${url}: ${note}`)
      waiting.delete(url)
      if (waiting.size === 0) finish()
    }
    const timer = setTimeout(() => {
      for (const url of waiting) notes.push(`${url}: no answer within ${timeoutMs / 1000} s`)
      finish()
    }, timeoutMs)
    const onAbort = () => finish()
    abort.addEventListener("abort", onAbort, { once: true })
    if (targets.length === 0) return finish()
    for (const target of targets) {
      const relay = new RelayConnection(target.url, {
        events: quietEvents,
        signer: () => undefined,
        maxFrameBytes: INPUT_FRAME_BYTES,
        ...(target.customer ? { lookup: customerLookup } : {})
      })
      connections.push(relay)
      relay.connect({ timeout: timeoutMs }).then(
        () => {
          if (settled) return relay.close()
          let ended = false
          relay.subscribe([filter], {
            // Our deadline decides, not nostr-tools' own wait for EOSE.
            eoseTimeout: timeoutMs * 2,
            onevent: (raw) => {
              if (settled || ended) return
              const event = raw as unknown as NostrEvent & { malformed?: string }
              const why = event.malformed !== undefined ? `a malformed event (${event.malformed})` : accept(event)
              if (why === undefined) return finish(event)
              notes.push(`${target.url}: ${why}`)
            },
            oneose: () => {
              if (ended) return
              ended = true
              relayDone(target.url)
            },
            onclose: (reason) => {
              if (ended) return
              ended = true
              const socket = relay.socketError
              relayDone(target.url, socket && /payload/i.test(socket) ? `sent a frame over ${INPUT_FRAME_BYTES} bytes` : reason || "closed")
            }
          })
        },
        (error: unknown) => relayDone(target.url, `not reachable (${reasonOf(error)})`)
      )
    }
  })

/** The hint first (when it is a public relay and not one of ours), then our relays. */
const targetsFor = (input: { readonly relay?: string }, ourRelays: ReadonlyArray<string>): ReadonlyArray<Target> => {
  const ours = ourRelays.map((url) => ({ url, customer: false }))
  const hint = input.relay === undefined ? undefined : normalizeRelayUrl(input.relay)
  if (hint === undefined || ourRelays.some((url) => normalizeRelayUrl(url) === hint) || whyNotPublicRelay(hint) !== undefined) return ours
  return [{ url: hint, customer: true }, ...ours]
}

/** A job result whose `request` tag is the authentic request `jobId`; else why not. */
const resultOf = (jobId: string) => (event: NostrEvent): string | undefined => {
  if (event.kind < 6000 || event.kind > 6999) return `kind ${event.kind} is not a job result`
  if (!event.tags.some((t) => t[0] === "e" && t[1] === jobId)) return "a result for another job"
  const request = event.tags.find((t) => t[0] === "request")?.[1]
  if (request === undefined) return "a result without its request"
  let parsed: unknown
  try {
    parsed = JSON.parse(request)
  } catch {
    return "a result whose request tag is not JSON"
  }
  const check = checkEvent(parsed)
  if (check._tag !== "Authentic" || check.event.id !== jobId) return "a result whose request is not the job's authentic request"
  if (event.tags.some((t) => t[0] === "encrypted")) return "the job's result is encrypted to its customer"
  return undefined
}

const describeInput = (input: { readonly type: string; readonly id: string }) => `the ${input.type} input ${input.id.slice(0, 12)}…`

/** One `event` or `job` input's text, within the deadline and size limit. */
const fetchInput = (input: Exclude<JobInput, { type: "text" }>, options: InputFetchOptions, timeoutMs: number) =>
  Effect.gen(function*() {
    const targets = targetsFor(input, options.ourRelays)
    const [filter, accept]: [Filter, (e: NostrEvent) => string | undefined] = input.type === "event"
      ? [{ ids: [input.id] }, (e) => (e.id === input.id ? undefined : "another event than the one asked for")]
      : [{ kinds: RESULT_KINDS, "#e": [input.id], limit: RESULTS_LIMIT }, resultOf(input.id)]
    const fetched = yield* Effect.promise((signal) => fetchFirst(targets, filter, accept, timeoutMs, signal))
    if (!fetched.event) {
      const what = input.type === "event" ? "was not found" : "has no result we could verify"
      const why = fetched.notes.length > 0 ? ` (${fetched.notes.slice(0, 4).map((n) => printable(n, 160)).join("; ")})` : ""
      return yield* Effect.fail(new InputUnavailable(`${describeInput(input)} ${what} on ${targets.map((t) => t.url).join(", ") || "no relay"}${why}`))
    }
    const content = fetched.event.content
    if (content.length > options.maxPromptChars) {
      return yield* Effect.fail(new InputUnavailable(`${describeInput(input)} is too long (${content.length} characters, limit ${options.maxPromptChars})`))
    }
    if (content.trim() === "") return yield* Effect.fail(new InputUnavailable(`${describeInput(input)} is empty`))
    return content
  })

/**
 * The job with its prompt made from every input (fetched ones concurrently), in the kind's
 * template; a job with text inputs only is returned as it is.
 */
export const withFetchedInputs = (job: JobRequest, options: InputFetchOptions): Effect.Effect<JobRequest, InputUnavailable> =>
  Effect.gen(function*() {
    if (job.inputs.every((i) => i.type === "text")) return job
    const timeoutMs = options.timeoutMs ?? INPUT_FETCH_TIMEOUT_MS
    const texts = yield* Effect.forEach(
      job.inputs,
      (input) => (input.type === "text" ? Effect.succeed(input.text) : fetchInput(input, options, timeoutMs)),
      { concurrency: "unbounded" }
    )
    const text = texts.join("\n\n")
    if (text.length > options.maxPromptChars) {
      return yield* Effect.fail(new InputUnavailable(`the inputs together are too long (${text.length} characters, limit ${options.maxPromptChars})`))
    }
    return { ...job, prompt: promptFor(job.kind, text, job.params) }
  })
