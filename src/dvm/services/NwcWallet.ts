/**
 * Any Nostr Wallet Connect (NIP-47) wallet behind the Wallet interface: `make_invoice` to bill,
 * `lookup_invoice` to verify payment, over NIP-44 when the wallet announces it (else NIP-04). The
 * connection string (`nostr+walletconnect://…`) lives in Secrets under "nwcUrl".
 */
import { Effect, PubSub, Schema, Stream } from "effect"
import { AbstractRelay } from "nostr-tools/abstract-relay"
import { nip47 } from "nostr-tools"
import { getPublicKey } from "nostr-tools/pure"
import { hexToBytes } from "nostr-tools/utils"
import WebSocket from "ws"
import { WalletError } from "../errors"
import { decryptFrom, detectScheme, encryptFor } from "../protocol/encryption"
import type { NostrEvent } from "../protocol/nostrEvent"
import { nowSeconds } from "../protocol/nostrEvent"
import { signEvent, verifySignature } from "../protocol/signing"
import { Secrets } from "./Secrets"
import { type InvoiceRequest, type InvoiceStatus, type IssuedInvoice, Wallet, type WalletStatus } from "./Wallet"

const INFO_KIND = 13194
const REQUEST_KIND = 23194
const RESPONSE_KIND = 23195
const NOTIFICATION_KINDS = [23196, 23197]
/** How long a wallet has to answer one request. */
const NWC_TIMEOUT_MS = 15_000

type Scheme = "nip44_v2" | "nip04"

interface Connection {
  readonly relay: AbstractRelay
  readonly walletPubkey: string
  readonly secretKey: Uint8Array
  readonly scheme: Scheme
  readonly pending: Map<string, (content: string) => void>
}

const Response = Schema.fromJsonString(Schema.Struct({
  result_type: Schema.optional(Schema.String),
  error: Schema.optional(Schema.NullOr(Schema.Struct({ code: Schema.String, message: Schema.optional(Schema.String) }))),
  result: Schema.optional(Schema.NullOr(Schema.Record(Schema.String, Schema.Unknown)))
}))

const reasonOf = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause)).slice(0, 300)

const encrypt = (c: Connection, plaintext: string) =>
  encryptFor(c.scheme === "nip44_v2" ? "nip44" : "nip04", c.secretKey, c.walletPubkey, plaintext)

/** Answers come in the scheme of the request; read whichever arrived. */
const decrypt = (c: Connection, ciphertext: string) =>
  decryptFrom(detectScheme(ciphertext), c.secretKey, c.walletPubkey, ciphertext)

/** Reads the wallet's info event: which encryption it speaks. */
const readScheme = (relay: AbstractRelay, walletPubkey: string): Promise<Scheme> =>
  new Promise((resolve) => {
    let scheme: Scheme = "nip04" // NIP-47: no encryption tag means NIP-04 only
    const sub = relay.subscribe([{ kinds: [INFO_KIND], authors: [walletPubkey], limit: 1 }], {
      onevent: (event) => {
        const announced = event.tags.find((t) => t[0] === "encryption")?.[1]?.split(/\s+/) ?? []
        if (announced.includes("nip44_v2")) scheme = "nip44_v2"
      },
      oneose: () => {
        sub.close()
        resolve(scheme)
      },
      eoseTimeout: NWC_TIMEOUT_MS
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

export const makeNwcWallet = Effect.gen(function*() {
  const secrets = yield* Secrets
  const incoming = yield* PubSub.unbounded<void>()
  let connection: Promise<Connection> | undefined

  const open = async (uri: string): Promise<Connection> => {
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
    const relay = new AbstractRelay(relayUrl, {
      verifyEvent: (event) => verifySignature(event as NostrEvent),
      websocketImplementation: WebSocket as unknown as typeof globalThis.WebSocket
    })
    relay.onclose = () => {
      connection = undefined // reconnect on next use
    }
    await relay.connect({ timeout: NWC_TIMEOUT_MS })
    const scheme = await readScheme(relay, parsed.pubkey)
    const c: Connection = { relay, walletPubkey: parsed.pubkey, secretKey, scheme, pending: new Map() }
    // Responses are ephemeral (never stored): the subscription must be live before any request.
    await new Promise<void>((resolve) => {
      relay.subscribe([
        { kinds: [RESPONSE_KIND], authors: [parsed.pubkey], "#p": [getPublicKey(secretKey)], since: nowSeconds() - 60 },
        { kinds: NOTIFICATION_KINDS, authors: [parsed.pubkey], "#p": [getPublicKey(secretKey)], since: nowSeconds() }
      ], {
        onevent: (event) => {
          if (event.kind !== RESPONSE_KIND) return void PubSub.publishUnsafe(incoming, undefined)
          const requestId = event.tags.find((t) => t[0] === "e")?.[1]
          const waiter = requestId ? c.pending.get(requestId) : undefined
          if (waiter) waiter(event.content)
        },
        oneose: () => resolve(),
        eoseTimeout: NWC_TIMEOUT_MS
      })
    })
    return c
  }

  const connect = Effect.gen(function*() {
    const uri = yield* secrets.get("nwcUrl")
    if (!uri) {
      return yield* new WalletError({ message: "No Nostr Wallet Connect string is set (run \"Sell Compute: Connect NWC Wallet\", or set SELL_COMPUTE_NWC_URL headless)" })
    }
    connection ??= open(uri.trim())
    return yield* Effect.tryPromise({
      try: () => connection as Promise<Connection>,
      catch: (cause) => {
        connection = undefined
        return new WalletError({ message: `NWC wallet unreachable: ${reasonOf(cause)}` })
      }
    })
  })

  const call = (method: string, params: Record<string, unknown>) =>
    Effect.gen(function*() {
      const c = yield* connect
      const content = yield* Effect.tryPromise({
        try: async () => {
          const request = signEvent({
            kind: REQUEST_KIND,
            created_at: nowSeconds(),
            tags: [["p", c.walletPubkey], ...(c.scheme === "nip44_v2" ? [["encryption", "nip44_v2"]] : [])],
            content: encrypt(c, JSON.stringify({ method, params }))
          }, c.secretKey)
          const answered = new Promise<string>((resolve, reject) => {
            const timer = setTimeout(() => {
              c.pending.delete(request.id)
              reject(new Error(`no answer to ${method} within ${NWC_TIMEOUT_MS / 1000} s`))
            }, NWC_TIMEOUT_MS)
            c.pending.set(request.id, (text) => {
              clearTimeout(timer)
              c.pending.delete(request.id)
              resolve(text)
            })
          })
          await c.relay.publish({ ...request, tags: request.tags.map((t) => [...t]) })
          return decrypt(c, await answered)
        },
        catch: (cause) => new WalletError({ message: `NWC ${method} failed: ${reasonOf(cause)}` })
      })
      const response = yield* Schema.decodeUnknownEffect(Response)(content).pipe(
        Effect.mapError(() => new WalletError({ message: `NWC ${method}: the wallet's answer is not valid NIP-47` }))
      )
      if (response.error) {
        return yield* new WalletError({ message: `NWC ${method}: ${response.error.code}${response.error.message ? ` (${response.error.message})` : ""}` })
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

  return Wallet.of({ status, createInvoice, invoiceStatus, backend: Effect.succeed("nwc"), incoming: Stream.fromPubSub(incoming), reset })
})
