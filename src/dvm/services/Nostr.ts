/**
 * Nostr relays: one connection per relay, each kept alive by its own fiber (reconnect with backoff,
 * resubscribe from the last event seen, and again after the relay CLOSED a subscription),
 * subscriptions deduplicated by event id across relays, and publishing that reports each relay's OK
 * or failure without letting a dead or slow relay hold it up. Every event passes the door
 * (relayConnection.ts) first; relays that ask (NIP-42) get an AUTH signed with our key; relays a
 * customer names are dialled only at public addresses (publicRelay.ts).
 */
import { Context, Effect, FiberMap, Layer, Queue, Stream, SubscriptionRef } from "effect"
import type { Filter } from "nostr-tools/filter"
import { RelayError } from "../errors"
import { HANDLER_INFO_KIND } from "../protocol/events"
import type { IncomingEvent, NostrEvent } from "../protocol/nostrEvent"
import { publicOnlyLookup, type Resolver, whyNotPublicRelay } from "../publicRelay"
import { type AuthSigner, RelayConnection, type RelayConnectionEvents } from "./relayConnection"
import { quoted, throttledWarning } from "./relayLog"

export type { AuthSigner } from "./relayConnection"

export type RelayStatus = "connecting" | "connected" | "disconnected"

export interface RelayState {
  readonly url: string
  readonly status: RelayStatus
  /**
   * Our subscriptions are live here: each one's REQ sent on this open connection and not CLOSED by
   * the relay since. Only a relay connected and subscribed brings us requests. Absent: false.
   */
  readonly subscribed?: boolean
  /**
   * Whether the relay accepted our last announcement (kind 31990), as its OK said; absent until one
   * was published while the relay was ours. Kept across reconnects (the relay still holds it).
   */
  readonly announced?: boolean
  /**
   * What last went wrong with this relay (a failed or lost connection, a refused announcement). Kept
   * while it retries and after it recovers, so it can be shown; a relay connecting with no
   * `lastError` is on its first attempt.
   */
  readonly lastError?: string
}

export interface PublishOutcome {
  readonly eventId: string
  readonly accepted: ReadonlyArray<string>
  readonly failed: ReadonlyArray<{ readonly url: string; readonly reason: string }>
}

/** What the door turned away since the service started, over all relays. */
export interface DroppedCounts {
  /** Events whose shape, id or signature did not hold. */
  readonly forged: number
  /** Frames that were not JSON, not a known message or of the wrong shape. */
  readonly badFrames: number
}

export interface NostrOptions {
  /** Resolves the names of relays a customer names (default: the system's); tests inject one. */
  readonly resolver?: Resolver
}

export class Nostr extends Context.Service<Nostr, {
  /** Connects relays not yet connected and disconnects those no longer listed. */
  readonly setRelays: (urls: ReadonlyArray<string>) => Effect.Effect<void>
  /** Events matching the filter from every relay, each id once, authentic; survives reconnects and CLOSED. */
  readonly subscribe: (filter: Filter) => Stream.Stream<IncomingEvent>
  /**
   * Publishes to our relays plus `extraRelays` (a customer's: only public `wss://` ones are dialled);
   * fails only when no relay accepted the event.
   */
  readonly publish: (event: NostrEvent, extraRelays?: ReadonlyArray<string>) => Effect.Effect<PublishOutcome, RelayError>
  /** Signs our answers to relays' NIP-42 AUTH challenges (set when going online; undefined: do not answer). */
  readonly setAuthSigner: (signer: AuthSigner | undefined) => Effect.Effect<void>
  readonly dropped: Effect.Effect<DroppedCounts>
  readonly relayStates: SubscriptionRef.SubscriptionRef<ReadonlyArray<RelayState>>
}>()("sellCompute/Nostr") {
  static readonly layer = Layer.effect(Nostr, makeNostr({}))
  static readonly layerWith = (options: NostrOptions) => Layer.effect(Nostr, makeNostr(options))
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
/** After a relay CLOSED a subscription: resubscribe in 1 s, doubling per CLOSED up to 60 s. */
export const CLOSED_BACKOFF_FIRST_MS = 1000
const CLOSED_BACKOFF_MAX_MS = 60_000
/** A subscription that lived this long before its CLOSED starts the backoff afresh. */
const CLOSED_BACKOFF_RESET_MS = 5 * 60_000

interface Listener {
  readonly filter: Filter
  readonly emit: (event: IncomingEvent) => void
  lastCreatedAt: number | undefined
}

/** One live connection to one of our relays and our subscriptions on it. */
interface Link {
  readonly url: string
  readonly relay: RelayConnection
  /** Relay subscription id → whose it is and when it was opened. */
  readonly subscriptions: Map<string, { readonly listener: Listener; readonly openedAt: number }>
  /** Closed by the relay with `auth-required:` before we were authenticated: re-sent once we are. */
  readonly awaitingAuth: Set<Listener>
  /** Resubscriptions waiting out their backoff. */
  readonly timers: Set<ReturnType<typeof setTimeout>>
}

const NOT_CONNECTED = "not connected"

/** A relay URL as relays are compared and shown: without trailing slashes. */
export const normalizeRelayUrl = (url: string) => url.replace(/\/+$/, "")

const reasonOf = (cause: unknown): string => {
  const text = cause instanceof Error ? cause.message : String(cause)
  return text.slice(0, 200)
}

/** A publish a relay refused until we authenticate is sent once more after the AUTH went through. */
const publishOn = async (relay: RelayConnection, event: Parameters<RelayConnection["publish"]>[0]): Promise<string> => {
  try {
    return await relay.publish(event)
  } catch (error) {
    if (!reasonOf(error).startsWith("auth-required:")) throw error
    if (!(await relay.whenAuthenticated(RELAY_TIMEOUT_MS))) throw error
    return await relay.publish(event)
  }
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

function makeNostr(options: NostrOptions) {
  return Effect.gen(function*() {
    const relayStates = yield* SubscriptionRef.make<ReadonlyArray<RelayState>>([])
    const connections = new Map<string, Link>()
    const listeners = new Set<Listener>()
    const seenIds = new Set<string>()
    /** Publishes waiting for a relay that is still connecting. */
    const connectWaiters = new Map<string, Set<() => void>>()
    /** Relays whose last connection attempt failed: in backoff, a publish does not wait for them. */
    const lastAttemptFailed = new Set<string>()
    const supervisors = yield* FiberMap.make<string>()
    const customerLookup = publicOnlyLookup(options.resolver)
    let wanted: ReadonlyArray<string> = []
    let authSigner: AuthSigner | undefined
    const signer = () => authSigner
    const dropped = { forged: 0, badFrames: 0 }

    /** Changes one of our relays' state (a relay no longer ours is left out). */
    const patchState = (url: string, patch: Partial<Omit<RelayState, "url">>) =>
      SubscriptionRef.update(relayStates, (states) =>
        wanted.includes(url)
          ? wanted.map((u) => {
            const state = states.find((s) => s.url === u) ?? { url: u, status: "connecting" as const }
            return u === url ? { ...state, ...patch } : state
          })
          : states)
    /** The same from a callback (the ref's update holds its permit only synchronously, so this never waits). */
    const patchStateNow = (url: string, patch: Partial<Omit<RelayState, "url">>) => Effect.runSync(patchState(url, patch))

    /** Every listener has a subscription open on this connection. */
    const noteSubscribed = (link: Link) => {
      if (connections.get(link.url) !== link) return
      const open = new Set([...link.subscriptions.values()].map((entry) => entry.listener))
      patchStateNow(link.url, { subscribed: listeners.size > 0 && [...listeners].every((l) => open.has(l)) })
    }
    /** Which of our announcements the per-relay `announced` follows: the latest only. */
    let announcementSeq = 0

    const deliver = (listener: Listener, event: IncomingEvent) => {
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

    const openSubscription = (link: Link, listener: Listener) => {
      const since = listener.lastCreatedAt === undefined
        ? listener.filter.since
        : Math.max(listener.filter.since ?? 0, listener.lastCreatedAt - RESUBSCRIBE_OVERLAP_S)
      const subscription = link.relay.subscribe([since === undefined ? listener.filter : { ...listener.filter, since }], {
        onevent: (event) => deliver(listener, event as IncomingEvent),
        eoseTimeout: RELAY_TIMEOUT_MS
      })
      link.subscriptions.set(subscription.id, { listener, openedAt: Date.now() })
      noteSubscribed(link)
    }

    const closeSubscriptions = (link: Link, listener: Listener) => {
      for (const [id, entry] of link.subscriptions) {
        if (entry.listener !== listener) continue
        link.subscriptions.delete(id)
        link.relay.openSubs.get(id)?.close()
      }
      link.awaitingAuth.delete(listener)
      noteSubscribed(link)
    }

    /** Keeps one relay connected for as long as its fiber lives. */
    const superviseRelay = (url: string) =>
      Effect.gen(function*() {
        // One warning a minute at most per relay and kind of trouble, with a count.
        const badFrames = yield* throttledWarning((count, latest) =>
          count === 1
            ? `Relay ${url} sent a frame we cannot use (${latest}); more are counted, reported at most once a minute`
            : `Relay ${url} sent ${count} frames we cannot use in the last minute (latest: ${latest})`)
        const closures = yield* throttledWarning((count, latest) =>
          count === 1
            ? `Relay ${url} closed our subscription: ${latest}; subscribing again`
            : `Relay ${url} closed our subscriptions ${count} times in the last minute (latest: ${latest}); subscribing again with backoff`)
        const authRefusals = yield* throttledWarning((count, latest) =>
          `Relay ${url} refused our AUTH${count > 1 ? ` ${count} times in the last minute` : ""}: ${latest}`)
        yield* Effect.forkChild(badFrames.run)
        yield* Effect.forkChild(closures.run)
        yield* Effect.forkChild(authRefusals.run)
        /** CLOSED in a row without a subscription living long: sets the resubscribe backoff. */
        let closedStreak = 0
        let attempt = 0
        while (true) {
          yield* patchState(url, { status: "connecting", subscribed: false })
          let link: Link | undefined
          const events: RelayConnectionEvents = {
            alreadyHave: (id) => seenIds.has(id),
            forged: () => {
              dropped.forged++
            },
            badFrame: (what) => {
              dropped.badFrames++
              badFrames.note(what)
            },
            closed: (subscriptionId, reason) => {
              const entry = link?.subscriptions.get(subscriptionId)
              if (!link || !entry) return
              link.subscriptions.delete(subscriptionId)
              noteSubscribed(link)
              if (!listeners.has(entry.listener)) return
              closures.note(quoted(reason, 100))
              if (reason.startsWith("auth-required:") && link.relay.authState !== "ok") {
                link.awaitingAuth.add(entry.listener)
                return
              }
              if (Date.now() - entry.openedAt >= CLOSED_BACKOFF_RESET_MS) closedStreak = 0
              const delay = Math.min(CLOSED_BACKOFF_MAX_MS, CLOSED_BACKOFF_FIRST_MS * 2 ** closedStreak)
              closedStreak++
              const current = link
              const timer = setTimeout(() => {
                current.timers.delete(timer)
                if (connections.get(url) === current && listeners.has(entry.listener)) openSubscription(current, entry.listener)
              }, delay)
              current.timers.add(timer)
            },
            authenticated: (ok, reason) => {
              if (!ok) return authRefusals.note(quoted(reason, 100))
              if (!link) return
              const waiting = [...link.awaitingAuth]
              link.awaitingAuth.clear()
              for (const listener of waiting) if (listeners.has(listener)) openSubscription(link, listener)
            }
          }
          const relay = new RelayConnection(url, { events, signer, enablePing: true })
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
            link = { url, relay, subscriptions: new Map(), awaitingAuth: new Set(), timers: new Set() }
            const live = link
            connections.set(url, live)
            // Before anything else can publish here: those waiting were first, and go first.
            for (const wake of connectWaiters.get(url) ?? []) wake()
            yield* patchState(url, { status: "connected", subscribed: false })
            for (const listener of listeners) openSubscription(live, listener)
            relay.answerChallenge() // a challenge that came with the connection, before we held it
            yield* Effect.promise(() => closed).pipe(
              Effect.onInterrupt(() => Effect.sync(() => relay.close())),
              Effect.ensuring(Effect.sync(() => {
                for (const timer of live.timers) clearTimeout(timer)
                live.timers.clear()
                if (connections.get(url) === live) connections.delete(url)
              }))
            )
            yield* patchState(url, { status: "disconnected", subscribed: false, lastError: "connection lost" })
          } else {
            relay.close()
            lastAttemptFailed.add(url)
            // Said before the publishes waiting for this relay give up (now rather than at their
            // timeout), so whoever they report to sees why.
            yield* patchState(url, { status: "disconnected", subscribed: false, lastError: connected.failure })
            for (const wake of connectWaiters.get(url) ?? []) wake()
          }
          const backoff = Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempt)
          attempt++
          yield* Effect.sleep(backoff)
        }
      }).pipe(Effect.ensuring(Effect.sync(() => {
        connections.get(url)?.relay.close()
        connections.delete(url)
        lastAttemptFailed.delete(url)
      })))

    const setRelays = (urls: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const next = [...new Set(urls.map(normalizeRelayUrl))]
        const removed = wanted.filter((url) => !next.includes(url))
        wanted = next
        for (const url of removed) yield* FiberMap.remove(supervisors, url)
        yield* SubscriptionRef.update(relayStates, (states) =>
          next.map((url) => states.find((s) => s.url === url) ?? { url, status: "connecting" as const }))
        for (const url of next) {
          yield* FiberMap.run(supervisors, url, superviseRelay(url), { onlyIfMissing: true })
        }
      })

    const subscribe = (filter: Filter): Stream.Stream<IncomingEvent> =>
      Stream.callback<IncomingEvent>((queue) =>
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
            for (const link of connections.values()) openSubscription(link, listener)
            return listener
          }),
          (listener) =>
            Effect.sync(() => {
              listeners.delete(listener)
              for (const link of connections.values()) closeSubscriptions(link, listener)
            })
        ))

    /**
     * Publishes on one of our relays, waiting for it when it is connecting. The event is handed to the
     * connection at once when connected, and waiters in the order they came, so events published one
     * after another reach a relay in that order.
     */
    const publishOnOurs = (url: string, event: Parameters<RelayConnection["publish"]>[0]): Promise<string> => {
      const connection = connections.get(url)
      if (connection) return publishOn(connection.relay, event)
      // In backoff after a failed attempt: not worth waiting for. A first connection (a relay just
      // added, as when going online) or a reconnect after a lost connection is waited for.
      if (lastAttemptFailed.has(url)) return Promise.reject(new Error(NOT_CONNECTED))
      return new Promise((resolve) => {
        const waiters = connectWaiters.get(url) ?? new Set()
        connectWaiters.set(url, waiters)
        const done = () => {
          clearTimeout(timer)
          waiters.delete(done)
          const relay = connections.get(url)?.relay
          resolve(relay ? publishOn(relay, event) : Promise.reject(new Error(NOT_CONNECTED)))
        }
        const timer = setTimeout(done, RELAY_TIMEOUT_MS)
        waiters.add(done)
      })
    }

    /** A customer's relay has no subscriptions; what it sends wrong is counted, not logged. */
    const customerRelayEvents: RelayConnectionEvents = {
      alreadyHave: () => false,
      forged: () => {
        dropped.forged++
      },
      badFrame: () => {
        dropped.badFrames++
      },
      closed: () => {},
      authenticated: () => {}
    }

    const publishTo = async (url: string, signed: NostrEvent): Promise<string> => {
      const event = { ...signed, tags: signed.tags.map((t) => [...t]) }
      if (wanted.includes(url)) return publishOnOurs(url, event)
      // A relay the customer asked for: only a public one, and only at a public address; connected for this one event.
      const notPublic = whyNotPublicRelay(url)
      if (notPublic !== undefined) throw new Error(`not a public relay (${notPublic}); not dialled`)
      const relay = new RelayConnection(url, { events: customerRelayEvents, signer, lookup: customerLookup })
      try {
        await relay.connect({ timeout: RELAY_TIMEOUT_MS })
        return await publishOn(relay, event)
      } finally {
        relay.close()
      }
    }

    /**
     * Each of our relays' answer to our latest announcement, as it comes (a relay slower than the
     * publish's grace still counts when its OK arrives). Handlers attached before the publish's own,
     * so what has settled is recorded by the time the publish returns.
     */
    const noteAnnouncement = (targets: ReadonlyArray<string>, attempts: ReadonlyArray<Promise<string>>) => {
      const seq = ++announcementSeq
      attempts.forEach((attempt, i) => {
        const url = targets[i] as string
        if (!wanted.includes(url)) return
        attempt.then(
          () => {
            if (seq === announcementSeq) patchStateNow(url, { announced: true })
          },
          (error: unknown) => {
            if (seq !== announcementSeq) return
            const reason = reasonOf(error)
            // A relay we are not connected to keeps the connection's error, which says more.
            patchStateNow(url, reason === NOT_CONNECTED ? { announced: false } : { announced: false, lastError: `announcement not accepted: ${reason}` })
          }
        )
      })
    }

    const publish = (event: NostrEvent, extraRelays: ReadonlyArray<string> = []) =>
      Effect.gen(function*() {
        const targets = [...new Set([...wanted, ...extraRelays.map(normalizeRelayUrl)])]
        const attempts = targets.map((url) => publishTo(url, event))
        if (event.kind === HANDLER_INFO_KIND) noteAnnouncement(targets, attempts)
        const settled = yield* settleWithGrace(attempts)
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

    const setAuthSigner = (next: AuthSigner | undefined) =>
      Effect.sync(() => {
        authSigner = next
        // A challenge that arrived before we had a key is answered now.
        for (const link of connections.values()) link.relay.answerChallenge()
      })

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const link of connections.values()) link.relay.close()
        connections.clear()
      }))

    return Nostr.of({
      setRelays,
      subscribe,
      publish,
      setAuthSigner,
      dropped: Effect.sync(() => ({ ...dropped })),
      relayStates
    })
  })
}
