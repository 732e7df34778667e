/**
 * One WebSocket connection to a relay, strict at the door: every frame is parsed and its shape
 * checked here, every event goes through `checkEvent` (authentic.ts) before a subscription sees it,
 * and nothing a relay sends can make nostr-tools throw or write to the console. It also answers the
 * relay's NIP-42 AUTH challenge with our key, and tells its owner when the relay CLOSED one of our
 * subscriptions. Sockets take at most MAX_FRAME_BYTES a frame; a `lookup` may restrict where they dial.
 */
import type * as net from "node:net"
import { AbstractRelay } from "nostr-tools/abstract-relay"
import { matchFilters } from "nostr-tools/filter"
import WebSocket from "ws"
import { checkEvent } from "../protocol/authentic"
import type { EventTemplate, IncomingEvent, NostrEvent } from "../protocol/nostrEvent"
import { quoted } from "./relayLog"

/** A frame larger than this ends the connection (ws closes it with 1009); relays cap events far lower. */
export const MAX_FRAME_BYTES = 5 * 1024 * 1024
/** NIP-42's client authentication event. */
export const CLIENT_AUTH_KIND = 22242
/** How long we wait for the relay's OK to our AUTH. */
export const AUTH_TIMEOUT_MS = 8000
/** A challenge is echoed into an event we sign: a longer one is not answered. */
const MAX_CHALLENGE_CHARS = 1024

/** Signs an event template with our key (for AUTH answers). */
export type AuthSigner = (template: EventTemplate) => NostrEvent

export type AuthState = "none" | "pending" | "ok" | "refused"

/** What the connection tells its owner; called from socket callbacks, so plain functions. */
export interface RelayConnectionEvents {
  /** True for an event id already delivered: a frame claiming it is skipped unchecked. */
  readonly alreadyHave: (id: string) => boolean
  /** An event failed the door (bad shape, id or signature) and was dropped. */
  readonly forged: (reason: string) => void
  /** A frame we could not use; `what` is short and escaped, safe to log. */
  readonly badFrame: (what: string) => void
  /** The relay ended one of our subscriptions with ["CLOSED", id, reason]. */
  readonly closed: (subscriptionId: string, reason: string) => void
  /** The relay answered our AUTH: accepted or refused (with its reason). */
  readonly authenticated: (ok: boolean, reason: string) => void
}

export interface RelayConnectionOptions {
  readonly events: RelayConnectionEvents
  /** Read whenever a challenge is to be answered, so a signer set later applies at once. */
  readonly signer: () => AuthSigner | undefined
  /** Replaces DNS resolution for this socket (customer relays: public addresses only). */
  readonly lookup?: net.LookupFunction
  readonly enablePing?: boolean
  /** A frame larger than this ends the connection (default MAX_FRAME_BYTES). */
  readonly maxFrameBytes?: number
}

/** `ws` with our socket options; it records why a connection failed and never leaves an error unhandled. */
const socketClass = (options: WebSocket.ClientOptions, sink: { error?: string }) =>
  class RelaySocket extends WebSocket {
    constructor(address: string | URL) {
      super(address, options)
      // nostr-tools drops its onerror on a hard close; a later error must not become an uncaught exception.
      this.on("error", (error: Error) => {
        sink.error = error.message
      })
    }
  }

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

export class RelayConnection extends AbstractRelay {
  private readonly events: RelayConnectionEvents
  private readonly signer: () => AuthSigner | undefined
  private readonly socket: { error?: string }
  private challengeText: string | undefined
  private answeredChallenge: string | undefined
  private pendingAuth: { readonly id: string; readonly timer: ReturnType<typeof setTimeout> } | undefined
  private readonly authWaiters: Set<(ok: boolean) => void>
  authState: AuthState

  constructor(url: string, options: RelayConnectionOptions) {
    const socket: { error?: string } = {}
    super(url, {
      verifyEvent: () => false, // never reached: EVENT frames are checked in _onmessage below
      websocketImplementation: socketClass(
        { maxPayload: options.maxFrameBytes ?? MAX_FRAME_BYTES, ...(options.lookup ? { lookup: options.lookup } : {}) },
        socket
      ) as unknown as typeof globalThis.WebSocket,
      enablePing: options.enablePing ?? false
    })
    this.events = options.events
    this.signer = options.signer
    this.socket = socket
    this.challengeText = undefined
    this.answeredChallenge = undefined
    this.pendingAuth = undefined
    this.authWaiters = new Set()
    this.authState = "none"
    this.onnotice = () => {}
  }

  /** What the socket last failed with (e.g. a frame over the size limit), if anything. */
  get socketError(): string | undefined {
    return this.socket.error
  }

  /** As nostr-tools' connect, but a failure says why (e.g. the address was refused), not just "connection failed". */
  override async connect(opts?: { timeout?: number; abort?: AbortSignal }): Promise<void> {
    try {
      await super.connect(opts)
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause)
      throw new Error(reason === "connection failed" && this.socket.error ? this.socket.error : reason)
    }
  }

  override _onmessage(ev: MessageEvent<unknown>): void {
    try {
      this.handleFrame(ev.data)
    } catch (error) {
      // Our own handlers should not throw; if one does, it costs a counted frame, not the connection.
      this.events.badFrame(`an error handling a frame: ${quoted(error instanceof Error ? error.message : String(error), 60)}`)
    }
  }

  private handleFrame(data: unknown): void {
    const bad = this.events.badFrame
    if (typeof data !== "string") return bad("a binary frame")
    let frame: unknown
    try {
      frame = JSON.parse(data)
    } catch {
      return bad(`not JSON: ${quoted(data, 24)}`)
    }
    if (!Array.isArray(frame) || typeof frame[0] !== "string") return bad(`not a [type, …] array: ${quoted(data, 24)}`)
    const [type, first, second, third] = frame as Array<unknown>
    switch (type) {
      case "EVENT":
        return this.onEvent(frame)
      case "CLOSED": {
        if (typeof first !== "string" || (second !== undefined && typeof second !== "string")) return bad("a CLOSED frame of the wrong shape")
        const subscription = this.openSubs.get(first)
        if (!subscription) return this.forward(data) // a COUNT request's, or one already gone
        subscription.closed = true // the relay has closed it: no CLOSE back
        subscription.close(second ?? "")
        return this.events.closed(first, second ?? "")
      }
      case "AUTH": {
        if (typeof first !== "string" || first.length > MAX_CHALLENGE_CHARS) return bad("an AUTH frame of the wrong shape")
        this.challengeText = first
        return this.answerChallenge()
      }
      case "OK": {
        if (typeof first !== "string" || typeof second !== "boolean" || (third !== undefined && typeof third !== "string")) return bad("an OK frame of the wrong shape")
        if (this.pendingAuth?.id === first) return this.settleAuth(first, second, third ?? "")
        return this.forward(data)
      }
      case "EOSE":
        return typeof first === "string" ? this.forward(data) : bad("an EOSE frame of the wrong shape")
      case "COUNT":
        return typeof first === "string" && isRecord(second) && typeof second.count === "number" ? this.forward(data) : bad("a COUNT frame of the wrong shape")
      case "NOTICE":
        return typeof first === "string" ? undefined : bad("a NOTICE frame of the wrong shape")
      default:
        return bad(`an unknown frame type ${quoted(type as string, 16)}`)
    }
  }

  /** A frame whose shape was checked, handled by nostr-tools (it parses it again). */
  private forward(data: string): void {
    super._onmessage({ data } as MessageEvent<string>)
  }

  private onEvent(frame: ReadonlyArray<unknown>): void {
    const [, subscriptionId, raw] = frame
    if (frame.length !== 3 || typeof subscriptionId !== "string") return this.events.badFrame("an EVENT frame of the wrong shape")
    const subscription = this.openSubs.get(subscriptionId)
    if (!subscription) return // one we closed: a relay may still send a few
    // Delivered before, from here or another relay: whatever this copy holds, it is not checked again.
    if (isRecord(raw) && typeof raw.id === "string" && this.events.alreadyHave(raw.id)) return
    const check = checkEvent(raw)
    if (check._tag === "Forged") return this.events.forged(check.reason)
    const event: IncomingEvent = check._tag === "Malformed" ? { ...check.event, malformed: check.reason } : check.event
    const handed = event as unknown as Parameters<typeof matchFilters>[1] // nostr-tools' own (mutable) event type
    if (!matchFilters(subscription.filters, handed)) return // authentic, but not what we asked for
    if (subscription.lastEmitted === undefined || subscription.lastEmitted < event.created_at) subscription.lastEmitted = event.created_at
    subscription.onevent(handed)
  }

  /** Answers the relay's latest challenge if we have a signer and have not answered it yet. */
  answerChallenge(): void {
    const challenge = this.challengeText
    const sign = this.signer()
    if (challenge === undefined || sign === undefined || this.pendingAuth !== undefined) return
    if (challenge === this.answeredChallenge || !this.connected) return
    const event = sign({
      kind: CLIENT_AUTH_KIND,
      created_at: Math.floor(Date.now() / 1000),
      tags: [["relay", this.url], ["challenge", challenge]],
      content: ""
    })
    const timer = setTimeout(() => this.settleAuth(event.id, false, "no answer to our AUTH"), AUTH_TIMEOUT_MS)
    timer.unref()
    this.pendingAuth = { id: event.id, timer }
    this.answeredChallenge = challenge
    this.authState = "pending"
    this.send(`["AUTH",${JSON.stringify(event)}]`).catch(() => this.settleAuth(event.id, false, "the connection closed"))
  }

  private settleAuth(id: string, ok: boolean, reason: string): void {
    if (this.pendingAuth?.id !== id) return
    clearTimeout(this.pendingAuth.timer)
    this.pendingAuth = undefined
    this.authState = ok ? "ok" : "refused"
    for (const wake of [...this.authWaiters]) wake(ok)
    this.events.authenticated(ok, reason)
    // A newer challenge arrived while this one was out.
    if (this.challengeText !== this.answeredChallenge) this.answerChallenge()
  }

  /**
   * True once the relay accepted our AUTH; false when it refused, when we have no signer, or when
   * nothing happened within `timeoutMs` (a relay may send its challenge only after a refusal).
   */
  whenAuthenticated(timeoutMs: number): Promise<boolean> {
    if (this.authState === "ok") return Promise.resolve(true)
    if (this.authState === "refused" || this.signer() === undefined) return Promise.resolve(false)
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer)
        this.authWaiters.delete(done)
        resolve(ok)
      }
      const timer = setTimeout(() => done(false), timeoutMs)
      timer.unref()
      this.authWaiters.add(done)
    })
  }
}
