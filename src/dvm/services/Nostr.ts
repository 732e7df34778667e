/**
 * Nostr relays: one connection per relay, each kept alive by its own fiber (reconnect with backoff,
 * resubscribe from the last event seen), subscriptions deduplicated by event id across relays, and
 * publishing that reports each relay's OK or failure without letting a dead or slow relay hold it up.
 */
import { Context, Effect, FiberMap, Layer, Queue, Stream, SubscriptionRef } from "effect"
import { AbstractRelay } from "nostr-tools/abstract-relay"
import type { Filter } from "nostr-tools/filter"
import WebSocket from "ws"
import { RelayError } from "../errors"
import type { NostrEvent } from "../protocol/nostrEvent"
import { verifySignature } from "../protocol/signing"

export type RelayStatus = "connecting" | "connected" | "disconnected"

export interface RelayState {
  readonly url: string
  readonly status: RelayStatus
  readonly lastError?: string
}

export interface PublishOutcome {
  readonly eventId: string
  readonly accepted: ReadonlyArray<string>
  readonly failed: ReadonlyArray<{ readonly url: string; readonly reason: string }>
}

export class Nostr extends Context.Service<Nostr, {
  /** Connects relays not yet connected and disconnects those no longer listed. */
  readonly setRelays: (urls: ReadonlyArray<string>) => Effect.Effect<void>
  /** Events matching the filter from every relay, each id once; survives reconnects. */
  readonly subscribe: (filter: Filter) => Stream.Stream<NostrEvent>
  /** Publishes to our relays (plus `extraRelays`); fails only when no relay accepted the event. */
  readonly publish: (event: NostrEvent, extraRelays?: ReadonlyArray<string>) => Effect.Effect<PublishOutcome, RelayError>
  readonly relayStates: SubscriptionRef.SubscriptionRef<ReadonlyArray<RelayState>>
}>()("sellCompute/Nostr") {
  static readonly layer = Layer.effect(Nostr, makeNostr())
}

/** How long a publish waits for a relay's OK, and a connection attempt for the socket to open. */
export const RELAY_TIMEOUT_MS = 8000
/**
 * Once one relay has accepted an event, how much longer a publish waits for the others. A relay still
 * silent then is reported failed (its attempt goes on in the background), so a dead or hung relay
 * costs each result and feedback at most this, not RELAY_TIMEOUT_MS.
 */
export const PUBLISH_GRACE_MS = 1000
const MAX_BACKOFF_MS = 30_000
/** Resubscribing after a reconnect asks for a little before the last event seen, for clock skew. */
const RESUBSCRIBE_OVERLAP_S = 60
const SEEN_IDS_LIMIT = 50_000

interface Listener {
  readonly filter: Filter
  readonly emit: (event: NostrEvent) => void
  lastCreatedAt: number | undefined
}

const normalize = (url: string) => url.replace(/\/+$/, "")

const reasonOf = (cause: unknown): string => {
  const text = cause instanceof Error ? cause.message : String(cause)
  return text.slice(0, 200)
}

/**
 * Waits until every attempt has settled, or until PUBLISH_GRACE_MS after the first one succeeded,
 * whichever comes first. Attempts still pending then are `undefined`; they run on in the background
 * with their outcome handled here, so they never become unhandled rejections.
 */
const settleWithGrace = <A>(attempts: ReadonlyArray<Promise<A>>) =>
  Effect.callback<Array<PromiseSettledResult<A> | undefined>>((resume) => {
    const results = new Array<PromiseSettledResult<A> | undefined>(attempts.length).fill(undefined)
    let remaining = attempts.length
    let grace: ReturnType<typeof setTimeout> | undefined
    let done = false
    const finish = () => {
      if (done) return
      done = true
      clearTimeout(grace)
      resume(Effect.succeed([...results]))
    }
    if (remaining === 0) finish()
    attempts.forEach((attempt, i) => {
      attempt.then(
        (value) => {
          results[i] = { status: "fulfilled", value }
          if (grace === undefined && !done) grace = setTimeout(finish, PUBLISH_GRACE_MS)
        },
        (reason: unknown) => {
          results[i] = { status: "rejected", reason }
        }
      ).finally(() => {
        if (--remaining === 0) finish()
      })
    })
    return Effect.sync(() => {
      done = true
      clearTimeout(grace)
    })
  })

function makeNostr() {
  return Effect.gen(function*() {
    const relayStates = yield* SubscriptionRef.make<ReadonlyArray<RelayState>>([])
    const connections = new Map<string, AbstractRelay>()
    const listeners = new Set<Listener>()
    const seenIds = new Set<string>()
    /** Publishes waiting for a relay that is still connecting. */
    const connectWaiters = new Map<string, Set<() => void>>()
    /** Relays whose last connection attempt failed: in backoff, a publish does not wait for them. */
    const lastAttemptFailed = new Set<string>()
    const supervisors = yield* FiberMap.make<string>()
    let wanted: ReadonlyArray<string> = []

    const setState = (state: RelayState) =>
      SubscriptionRef.update(relayStates, (states) =>
        wanted.includes(state.url)
          ? wanted.map((url) => (url === state.url ? state : states.find((s) => s.url === url) ?? { url, status: "connecting" as const }))
          : states)

    const deliver = (listener: Listener, event: NostrEvent) => {
      // Capped at now: one event dated in the future must not make a resubscribe skip what comes next.
      const createdAt = Math.min(event.created_at, Math.floor(Date.now() / 1000))
      if (listener.lastCreatedAt === undefined || createdAt > listener.lastCreatedAt) {
        listener.lastCreatedAt = createdAt
      }
      if (seenIds.has(event.id)) return
      seenIds.add(event.id)
      if (seenIds.size > SEEN_IDS_LIMIT) {
        // Sets iterate in insertion order: drop the oldest id.
        seenIds.delete(seenIds.values().next().value as string)
      }
      listener.emit(event)
    }

    const openSubscription = (relay: AbstractRelay, listener: Listener) => {
      const since = listener.lastCreatedAt === undefined
        ? listener.filter.since
        : Math.max(listener.filter.since ?? 0, listener.lastCreatedAt - RESUBSCRIBE_OVERLAP_S)
      relay.subscribe([since === undefined ? listener.filter : { ...listener.filter, since }], {
        onevent: (event) => deliver(listener, event as NostrEvent),
        eoseTimeout: RELAY_TIMEOUT_MS
      })
    }

    /** Keeps one relay connected for as long as its fiber lives. */
    const superviseRelay = (url: string) =>
      Effect.gen(function*() {
        let attempt = 0
        while (true) {
          yield* setState({ url, status: "connecting" })
          const relay = new AbstractRelay(url, {
            verifyEvent: (event) => verifySignature(event as NostrEvent),
            websocketImplementation: WebSocket as unknown as typeof globalThis.WebSocket,
            enablePing: true
          })
          relay.onnotice = () => {}
          const closed = new Promise<void>((resolve) => {
            relay.onclose = () => resolve()
          })
          const connected = yield* Effect.tryPromise({
            try: () => relay.connect({ timeout: RELAY_TIMEOUT_MS }),
            catch: reasonOf
          }).pipe(Effect.result)
          if (connected._tag === "Success") {
            attempt = 0
            lastAttemptFailed.delete(url)
            connections.set(url, relay)
            yield* setState({ url, status: "connected" })
            for (const wake of connectWaiters.get(url) ?? []) wake()
            for (const listener of listeners) openSubscription(relay, listener)
            yield* Effect.promise(() => closed).pipe(
              Effect.onInterrupt(() => Effect.sync(() => relay.close()))
            )
            connections.delete(url)
            yield* setState({ url, status: "disconnected", lastError: "connection lost" })
          } else {
            relay.close()
            lastAttemptFailed.add(url)
            // Publishes waiting for this relay give up now rather than at their timeout.
            for (const wake of connectWaiters.get(url) ?? []) wake()
            yield* setState({ url, status: "disconnected", lastError: connected.failure })
          }
          const backoff = Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempt)
          attempt++
          yield* Effect.sleep(backoff)
        }
      }).pipe(Effect.ensuring(Effect.sync(() => {
        connections.get(url)?.close()
        connections.delete(url)
        lastAttemptFailed.delete(url)
      })))

    const setRelays = (urls: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const next = [...new Set(urls.map(normalize))]
        const removed = wanted.filter((url) => !next.includes(url))
        wanted = next
        for (const url of removed) yield* FiberMap.remove(supervisors, url)
        yield* SubscriptionRef.update(relayStates, (states) =>
          next.map((url) => states.find((s) => s.url === url) ?? { url, status: "connecting" as const }))
        for (const url of next) {
          yield* FiberMap.run(supervisors, url, superviseRelay(url), { onlyIfMissing: true })
        }
      })

    const subscribe = (filter: Filter): Stream.Stream<NostrEvent> =>
      Stream.callback<NostrEvent>((queue) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            const listener: Listener = {
              filter,
              emit: (event) => {
                Queue.offerUnsafe(queue, event)
              },
              lastCreatedAt: undefined
            }
            listeners.add(listener)
            for (const relay of connections.values()) openSubscription(relay, listener)
            return listener
          }),
          (listener) => Effect.sync(() => listeners.delete(listener))
        ))

    const connectedRelay = (url: string): Promise<AbstractRelay | undefined> => {
      const connection = connections.get(url)
      if (connection) return Promise.resolve(connection)
      // In backoff after a failed attempt: not worth waiting for. A first connection (a relay just
      // added, as when going online) or a reconnect after a lost connection is waited for.
      if (lastAttemptFailed.has(url)) return Promise.resolve(undefined)
      return new Promise((resolve) => {
        const waiters = connectWaiters.get(url) ?? new Set()
        connectWaiters.set(url, waiters)
        const done = () => {
          clearTimeout(timer)
          waiters.delete(done)
          resolve(connections.get(url))
        }
        const timer = setTimeout(done, RELAY_TIMEOUT_MS)
        waiters.add(done)
      })
    }

    const publishTo = async (url: string, signed: NostrEvent): Promise<string> => {
      const event = { ...signed, tags: signed.tags.map((t) => [...t]) }
      if (wanted.includes(url)) {
        const connection = await connectedRelay(url)
        if (!connection) throw new Error("not connected")
        return connection.publish(event)
      }
      // A relay the customer asked for: connect for this one event.
      const relay = new AbstractRelay(url, {
        verifyEvent: () => true,
        websocketImplementation: WebSocket as unknown as typeof globalThis.WebSocket
      })
      try {
        await relay.connect({ timeout: RELAY_TIMEOUT_MS })
        return await relay.publish(event)
      } finally {
        relay.close()
      }
    }

    const publish = (event: NostrEvent, extraRelays: ReadonlyArray<string> = []) =>
      Effect.gen(function*() {
        const targets = [...new Set([...wanted, ...extraRelays.map(normalize)])]
        const settled = yield* settleWithGrace(targets.map((url) => publishTo(url, event)))
        const accepted: Array<string> = []
        const failed: Array<{ url: string; reason: string }> = []
        settled.forEach((outcome, i) => {
          const url = targets[i] as string
          if (outcome === undefined) {
            failed.push({ url, reason: `no OK within the grace (${PUBLISH_GRACE_MS} ms) after another relay accepted` })
          } else if (outcome.status === "fulfilled") accepted.push(url)
          else failed.push({ url, reason: reasonOf(outcome.reason) })
        })
        if (accepted.length === 0) {
          const why = failed.map((f) => `${f.url}: ${f.reason}`).join("; ") || "no relays configured"
          return yield* new RelayError({ message: `no relay accepted event ${event.id.slice(0, 8)} (${why})` })
        }
        return { eventId: event.id, accepted, failed }
      })

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const relay of connections.values()) relay.close()
        connections.clear()
      }))

    return Nostr.of({ setRelays, subscribe, publish, relayStates })
  })
}
