/**
 * Any Nostr Wallet Connect (NIP-47) wallet behind the Wallet interface: `make_invoice` to bill,
 * `lookup_invoice` to verify payment, over NIP-44 when the wallet announces it (else NIP-04). The
 * connection string (`nostr+walletconnect://…`) lives in Secrets under "nwcUrl".
 */
import { Deferred, Effect, PubSub, Schema, Stream } from "effect"
import type { AbstractRelay } from "nostr-tools/abstract-relay"
import { nip47 } from "nostr-tools"
import { getPublicKey } from "nostr-tools/pure"
import { hexToBytes } from "nostr-tools/utils"
import { WalletError } from "../errors"
import { decryptFrom, detectScheme, encryptFor, type EncryptionScheme } from "../protocol/encryption"
import type { IncomingEvent } from "../protocol/nostrEvent"
import { nowSeconds } from "../protocol/nostrEvent"
import { printable } from "../printable"
import { signEvent } from "../protocol/signing"
import { RelayConnection } from "./relayConnection"
import { Secrets } from "./Secrets"
import { type InvoiceRequest, type InvoiceStatus, type IssuedInvoice, Wallet, type WalletCue, type WalletStatus } from "./Wallet"
import { arriveWithin, secondsOf, type WalletDeadlines, withDeadlines } from "./walletDeadlines"

const INFO_KIND = 13194
const REQUEST_KIND = 23194
const RESPONSE_KIND = 23195
/** payment_received and others: 23196 in NIP-04, 23197 in NIP-44. */
const NOTIFICATION_SCHEMES = new Map<number, EncryptionScheme>([[23196, "nip04"], [23197, "nip44"]])

type Scheme = "nip44_v2" | "nip04"

interface Connection {
  readonly relay: AbstractRelay
  readonly walletPubkey: string
  readonly clientPubkey: string
  readonly secretKey: Uint8Array
  readonly scheme: Scheme
  /** Requests sent and not yet answered, by request id: the wallet's answer, or why none will come. */
  readonly pending: Map<string, Deferred.Deferred<string, string>>
}

const Response = Schema.fromJsonString(Schema.Struct({
  result_type: Schema.optional(Schema.String),
  error: Schema.optional(Schema.NullOr(Schema.Struct({ code: Schema.String, message: Schema.optional(Schema.String) }))),
  result: Schema.optional(Schema.NullOr(Schema.Record(Schema.String, Schema.Unknown)))
}))

const PaymentReceived = Schema.fromJsonString(Schema.Struct({
  notification_type: Schema.Literal("payment_received"),
  notification: Schema.Struct({ payment_hash: Schema.String })
}))

/**
 * `ws` with an error listener always attached: on a connect timeout nostr-tools drops its own
 * listeners and closes a socket still connecting, and `ws` then emits an error nobody hears
 * (an uncaught exception).
 */
/** Text from the relay or the wallet, for one readable line. */
const reasonOf = (cause: unknown) => printable(cause instanceof Error ? cause.message : String(cause), 200)

/** Why a publish of a request failed, for a person: a refusal quotes the relay (e.g. "rate-limited: …"). */
const publishFailure = (cause: unknown) => {
  if (cause instanceof Error && cause.name === "SendingOnClosedConnection") return "the connection to the wallet's relay is closed"
  const reason = reasonOf(cause)
  if (reason === "publish timed out") return "the wallet's relay did not confirm the request"
  return `the wallet's relay refused the request (${reason || "no reason given"})`
}

const encrypt = (c: Connection, plaintext: string) =>
  encryptFor(c.scheme === "nip44_v2" ? "nip44" : "nip04", c.secretKey, c.walletPubkey, plaintext)

/** Answers come in the scheme of the request; read whichever arrived. */
const decrypt = (c: Connection, ciphertext: string) =>
  decryptFrom(detectScheme(ciphertext), c.secretKey, c.walletPubkey, ciphertext)

/**
 * The invoice a decrypted notification says was paid, or undefined for anything else (another
 * notification type, a malformed body, a hash that is not 64 hex). Only a cue to check it.
 */
export const paymentReceivedHash = (plaintext: string): string | undefined => {
  const decoded = Schema.decodeUnknownOption(PaymentReceived)(plaintext)
  if (decoded._tag === "None") return undefined
  const hash = decoded.value.notification.payment_hash
  return /^[0-9a-f]{64}$/i.test(hash) ? hash.toLowerCase() : undefined
}

/** Reads the wallet's info event: which encryption it speaks. */
const readScheme = (relay: AbstractRelay, walletPubkey: string, timeoutMs: number): Promise<Scheme> =>
  new Promise((resolve) => {
    let scheme: Scheme = "nip04" // NIP-47: no encryption tag means NIP-04 only
    const sub = relay.subscribe([{ kinds: [INFO_KIND], authors: [walletPubkey], limit: 1 }], {
      onevent: (event) => {
        if (event.pubkey !== walletPubkey) return
        const announced = event.tags.find((t) => t[0] === "encryption")?.[1]?.split(/\s+/) ?? []
        if (announced.includes("nip44_v2")) scheme = "nip44_v2"
      },
      oneose: () => {
        sub.close()
        resolve(scheme)
      },
      onclose: () => resolve(scheme),
      eoseTimeout: timeoutMs
    })
  })

/**
 * A lookup_invoice answer read as a status. Paid needs a settlement time (a positive one: 0 is no
 * time) or state "settled". NIP-47's "pending" is an open invoice, not a payment on its way; only a
 * held payment ("accepted") is in flight. An unpaid invoice past its expiry is Settlement's to expire.
 */
export const invoiceStatusOf = (r: Record<string, unknown>): InvoiceStatus => {
  if ((typeof r.settled_at === "number" && r.settled_at > 0) || r.state === "settled") return "paid"
  if (r.state === "expired") return "expired"
  if (r.state === "accepted") return "pending"
  return "unpaid"
}

/** The NWC implementation of Wallet; every call is bounded by `deadlines`. */
export const makeNwcWallet = (
  deadlines: WalletDeadlines,
  /** How to set one up on this host (its words: a command, or an environment variable; walletLayer.ts). */
  setUpHint: string
) =>
  Effect.gen(function*() {
    const secrets = yield* Secrets
    const incoming = yield* PubSub.unbounded<WalletCue>()
    let connection: Promise<Connection> | undefined

    /** Opens the relay, reads the wallet's scheme and subscribes; `closed` is told when the relay goes. */
    const open = async (uri: string, closed: () => void): Promise<Connection> => {
      let parsed: ReturnType<typeof nip47.parseConnectionString>
      let secretKey: Uint8Array
      try {
        parsed = nip47.parseConnectionString(uri)
        if (!/^[0-9a-f]{64}$/i.test(parsed.secret) || !/^[0-9a-f]{64}$/i.test(parsed.pubkey)) throw new Error()
        secretKey = hexToBytes(parsed.secret)
      } catch {
        // The parser's own message could quote part of the string, which holds a secret.
        throw new Error("the connection string is not a valid nostr+walletconnect:// URI")
      }
      const relayUrl = parsed.relays[0]
      if (!relayUrl) throw new Error("the connection string names no relay")
      const walletPubkey = parsed.pubkey.toLowerCase()
      const clientPubkey = getPublicKey(secretKey)
      const pending = new Map<string, Deferred.Deferred<string, string>>()
      const failPending = (reason: string) => {
        for (const waiter of pending.values()) Deferred.doneUnsafe(waiter, Effect.fail(reason))
        pending.clear()
      }
      // The same strict door as our job relays: every frame parsed and checked by us, events through
      // checkEvent, nothing to the console, frames capped in size. Nothing here is signed for AUTH:
      // the wallet's relay is the wallet's, and our NWC key is its secret.
      const relay = new RelayConnection(relayUrl, {
        events: {
          alreadyHave: () => false,
          forged: () => undefined,
          badFrame: () => undefined,
          closed: () => undefined, // the subscription's own onclose below starts over
          authenticated: () => undefined
        },
        signer: () => undefined
      })
      relay.onclose = () => {
        failPending("the connection to the wallet's relay closed")
        closed() // reconnect on next use
      }
      try {
        await relay.connect({ timeout: deadlines.connectMs })
        const scheme = await readScheme(relay, walletPubkey, deadlines.connectMs)
        const c: Connection = { relay, walletPubkey, clientPubkey, secretKey, scheme, pending }
        // Responses are ephemeral (never stored): the subscription must be live before any request.
        await new Promise<void>((resolve, reject) => {
          let live = false
          relay.subscribe([
            { kinds: [RESPONSE_KIND], authors: [walletPubkey], "#p": [clientPubkey], since: nowSeconds() - 60 },
            { kinds: [...NOTIFICATION_SCHEMES.keys()], authors: [walletPubkey], "#p": [clientPubkey], since: nowSeconds() }
          ], {
            onevent: (event) => received(c, event),
            oneose: () => {
              live = true
              resolve()
            },
            // A relay may close it (auth-required, rate-limited): no answer could come, so start over.
            onclose: (reason) => {
              const why = `the wallet's relay closed the subscription (${printable(reason, 200)})`
              if (!live) return reject(new Error(why))
              failPending(why)
              relay.close()
            },
            eoseTimeout: deadlines.connectMs
          })
        })
        return c
      } catch (cause) {
        relay.onclose = null
        relay.close()
        throw cause
      }
    }

    /** A response or notification the relay delivered (already checked authentic by the relay client). */
    const received = (c: Connection, event: IncomingEvent) => {
      if (event.malformed !== undefined) return // authentic but not NIP-47: nothing to read
      // The subscription filters by author and recipient, but a relay may lie.
      if (event.pubkey !== c.walletPubkey || !event.tags.some((t) => t[0] === "p" && t[1] === c.clientPubkey)) return
      if (event.kind === RESPONSE_KIND) {
        // Only an answer to a request of ours still waiting is read.
        const requestId = event.tags.find((t) => t[0] === "e")?.[1]
        const waiter = requestId === undefined ? undefined : c.pending.get(requestId)
        if (waiter) Deferred.doneUnsafe(waiter, Effect.succeed(event.content))
        return
      }
      const scheme = NOTIFICATION_SCHEMES.get(event.kind)
      if (!scheme || detectScheme(event.content) !== scheme) return
      let plaintext: string
      try {
        plaintext = decryptFrom(scheme, c.secretKey, c.walletPubkey, event.content)
      } catch {
        return
      }
      const invoiceId = paymentReceivedHash(plaintext)
      if (invoiceId) PubSub.publishUnsafe(incoming, { invoiceId })
    }

    const connect = Effect.gen(function*() {
      const uri = yield* secrets.get("nwcUrl")
      if (!uri) {
        return yield* new WalletError({ message: `No Nostr Wallet Connect string is set (${setUpHint})` })
      }
      if (!connection) {
        const opening: Promise<Connection> = arriveWithin(
          open(uri.trim(), () => {
            if (connection === opening) connection = undefined
          }),
          deadlines.connectMs,
          `the wallet's relay did not answer within ${secondsOf(deadlines.connectMs)}`,
          (late) => late.relay.close()
        )
        // The one owner of a failed opening: forgotten, so the next call tries again.
        opening.catch(() => {
          if (connection === opening) connection = undefined
        })
        connection = opening
      }
      const current = connection
      return yield* Effect.tryPromise({
        try: () => current,
        catch: (cause) => new WalletError({ message: `NWC wallet unreachable: ${reasonOf(cause)}` })
      })
    })

    /** One request and its answer. The waiter is removed however the call ends (answer, refusal, deadline). */
    const exchange = (c: Connection, method: string, params: Record<string, unknown>) =>
      Effect.gen(function*() {
        const request = signEvent({
          kind: REQUEST_KIND,
          created_at: nowSeconds(),
          tags: [["p", c.walletPubkey], ...(c.scheme === "nip44_v2" ? [["encryption", "nip44_v2"]] : [])],
          content: encrypt(c, JSON.stringify({ method, params }))
        }, c.secretKey)
        const answer = yield* Deferred.make<string, string>()
        // Waiting before publishing: the answer may come before the relay's OK.
        c.pending.set(request.id, answer)
        return yield* Effect.tryPromise({
          try: () => c.relay.publish({ ...request, tags: request.tags.map((t) => [...t]) }),
          catch: publishFailure
        }).pipe(
          Effect.andThen(Deferred.await(answer)),
          Effect.ensuring(Effect.sync(() => c.pending.delete(request.id)))
        )
      }).pipe(
        Effect.flatMap((ciphertext) =>
          Effect.try({ try: () => decrypt(c, ciphertext), catch: () => "the wallet's answer could not be decrypted" })
        ),
        Effect.mapError((reason) => new WalletError({ message: `NWC ${method} failed: ${reason}` }))
      )

    const call = (method: string, params: Record<string, unknown>) =>
      Effect.gen(function*() {
        const c = yield* connect
        const content = yield* exchange(c, method, params)
        const response = yield* Schema.decodeUnknownEffect(Response)(content).pipe(
          Effect.mapError(() => new WalletError({ message: `NWC ${method}: the wallet's answer is not valid NIP-47` }))
        )
        if (response.error) {
          return yield* new WalletError({
            message: `NWC ${method}: ${printable(response.error.code, 60)}${response.error.message ? ` (${printable(response.error.message, 200)})` : ""}`
          })
        }
        return response.result ?? {}
      })

    const status = call("get_balance", {}).pipe(
      Effect.map((r): WalletStatus => ({
        backend: "nwc",
        ready: true,
        ...(typeof r.balance === "number" ? { balanceSats: Math.floor(r.balance / 1000) } : {})
      })),
      // A wallet may refuse get_balance (invoice-only permission) and still bill: it answered, so it is ready.
      Effect.catch((e) =>
        /NOT_IMPLEMENTED|RESTRICTED|UNAUTHORIZED/.test(e.message) && connection
          ? Effect.succeed<WalletStatus>({ backend: "nwc", ready: true })
          : Effect.succeed<WalletStatus>({ backend: "nwc", ready: false, error: e.message }))
    )

    const createInvoice = (request: InvoiceRequest) =>
      call("make_invoice", { amount: request.amountSats * 1000, description: request.memo, expiry: request.expirySeconds }).pipe(
        Effect.flatMap((r) =>
          typeof r.invoice === "string" && typeof r.payment_hash === "string"
            ? Effect.succeed<IssuedInvoice>({
              id: r.payment_hash,
              bolt11: r.invoice,
              amountSats: request.amountSats,
              expiresAt: typeof r.expires_at === "number" ? r.expires_at : nowSeconds() + request.expirySeconds,
              backend: "nwc"
            })
            : Effect.fail(new WalletError({ message: "NWC make_invoice: the wallet returned no invoice" })))
      )

    const invoiceStatus = (invoice: IssuedInvoice) =>
      call("lookup_invoice", { payment_hash: invoice.id }).pipe(Effect.map(invoiceStatusOf))

    const reset = Effect.sync(() => {
      const pending = connection
      connection = undefined
      void pending?.then((c) => c.relay.close(), () => undefined)
    })
    yield* Effect.addFinalizer(() => reset)

    return Wallet.of(withDeadlines({ status, createInvoice, invoiceStatus, backend: Effect.succeed("nwc"), incoming: Stream.fromPubSub(incoming), reset }, deadlines))
  })
