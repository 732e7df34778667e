/**
 * A NIP-47 (Nostr Wallet Connect) wallet service for tests, on a real relay: publishes its kind-13194
 * info event, answers kind-23194 requests with kind-23195 responses, and issues real, signed BOLT11
 * invoices (test/support/bolt11.ts). Nothing is ever paid: a test marks an invoice paid with settle().
 *
 * Supported methods: make_invoice, lookup_invoice, get_info, get_balance; notify() sends a
 * payment_received notification. A method not in `methods`
 * (or not implemented here, e.g. pay_invoice) is answered with NOT_IMPLEMENTED.
 *
 * Checks, in order, for each request:
 *   1. undecryptable content or content that is not {method, params} -> OTHER
 *   2. author is not the client key of the connection string         -> UNAUTHORIZED
 *   3. the request's `encryption` tag names a scheme not offered      -> UNSUPPORTED_ENCRYPTION
 *   4. `failNext` set                                                 -> that error (once)
 *   5. method not offered                                             -> NOT_IMPLEMENTED
 * Responses go to the request's author, in the scheme the request used (NIP-04 when the request has
 * no `encryption` tag, as NIP-47 says); for a scheme this code doesn't know at all, the error is sent
 * in the service's preferred scheme. Requests past their `expiration` tag are ignored.
 */
import WebSocket from "ws"
import * as nip04 from "nostr-tools/nip04"
import * as nip44 from "nostr-tools/nip44"
import { SimplePool, useWebSocketImplementation } from "nostr-tools/pool"
import { type Event, finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure"
import { bytesToHex } from "nostr-tools/utils"
import { decodeInvoicePaymentHash, type InvoiceNetwork, makeInvoice, NODE_PUBLIC_KEY } from "./bolt11"

useWebSocketImplementation(WebSocket)

export const NWC_INFO_KIND = 13194
export const NWC_REQUEST_KIND = 23194
export const NWC_RESPONSE_KIND = 23195

export type NwcEncryption = "nip04" | "nip44_v2"

export const DEFAULT_NWC_METHODS: ReadonlyArray<string> = ["make_invoice", "lookup_invoice", "get_info", "get_balance"]

/** Default `expiry` of make_invoice when the request gives none, in seconds. */
export const DEFAULT_INVOICE_EXPIRY_SECONDS = 86_400

export interface NwcWalletServiceOptions {
  readonly relayUrl: string
  /** Schemes offered in the info event's `encryption` tag; "both" is "nip44_v2 nip04". */
  readonly encryption: NwcEncryption | "both"
  /** Methods offered (info event content). Default DEFAULT_NWC_METHODS. */
  readonly methods?: ReadonlyArray<string>
  /** Publish the info event without the `encryption` tag, like a legacy (NIP-04 only) wallet. Default false. */
  readonly omitEncryptionTag?: boolean
  /** Network of the invoices it issues. Default "bc" (mainnet). */
  readonly network?: InvoiceNetwork
  /** How long start waits for the relay, in ms. Default 10,000. */
  readonly timeoutMs?: number
}

export interface NwcInvoiceRecord {
  readonly invoice: string
  readonly paymentHash: string
  readonly preimage: string
  readonly amountMsats: number
  readonly description: string
  readonly descriptionHash?: string
  readonly createdAt: number
  /** Unix seconds. Tests may change it, e.g. to the past to make the invoice expired. */
  expiresAt: number
  /** Unix seconds; set by settle(). */
  settledAt?: number
}

export interface NwcRequestRecord {
  readonly method: string
  readonly params: unknown
  readonly encryption: NwcEncryption
  /** Request event id and author. */
  readonly id: string
  readonly pubkey: string
  /** Error code it was answered with, if any. */
  errorCode?: string
}

export interface NwcErrorReply {
  readonly code: string
  readonly message: string
}

export interface NwcWalletService {
  /** nostr+walletconnect://<walletPubkey>?relay=<url>&secret=<client secret hex> */
  readonly connectionString: string
  readonly walletPubkey: string
  /** The client key of the connection string, the only author whose requests are served. */
  readonly clientPubkey: string
  readonly clientSecretHex: string
  readonly infoEvent: Event
  /** Issued invoices by payment hash. */
  readonly invoices: Map<string, NwcInvoiceRecord>
  /** Every request it could decrypt, in arrival order (including refused ones, see errorCode). */
  readonly requests: Array<NwcRequestRecord>
  /** Every response it published. */
  readonly responses: Array<Event>
  /** Marks an invoice paid (settled_at = now). Throws for an unknown invoice. */
  settle(paymentHashOrInvoice: string): void
  /**
   * Publishes a NIP-47 payment_received notification for an invoice to the client (kind 23197 in
   * NIP-44, 23196 in NIP-04; default the scheme it prefers), as a wallet does once paid. Returns it.
   */
  notify(paymentHashOrInvoice: string, encryption?: NwcEncryption): Promise<Event>
  /** Signs an event with the wallet's key (for tests that tamper with what a wallet would send). */
  sign(template: { kind: number; tags: Array<Array<string>>; content: string; created_at?: number }): Event
  /** Encrypts for the client as the wallet would. */
  encryptForClient(scheme: NwcEncryption, plaintext: string): string
  /** The next request that passes the authorization and encryption checks is answered with this error. */
  failNext?: NwcErrorReply
  /** While true, requests are recorded but never answered (for client timeout tests). */
  ignoreRequests: boolean
  /** Resolves once `requests` holds at least `count` entries. */
  waitForRequests(count: number, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

const nowSeconds = () => Math.floor(Date.now() / 1000)

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

class ReplyError extends Error {
  constructor(readonly code: string, message: string) {
    super(message)
  }
}

const NETWORK_NAMES: Record<InvoiceNetwork, string> = { bc: "mainnet", tb: "testnet", bcrt: "regtest" }

export async function startNwcWalletService(opts: NwcWalletServiceOptions): Promise<NwcWalletService> {
  const offered: ReadonlyArray<NwcEncryption> = opts.encryption === "both" ? ["nip44_v2", "nip04"] : [opts.encryption]
  const methods = [...(opts.methods ?? DEFAULT_NWC_METHODS)]
  const network = opts.network ?? "bc"
  const timeoutMs = opts.timeoutMs ?? 10_000

  const walletSecret = generateSecretKey()
  const walletPubkey = getPublicKey(walletSecret)
  const clientSecret = generateSecretKey()
  const clientSecretHex = bytesToHex(clientSecret)
  const clientPubkey = getPublicKey(clientSecret)
  // No trailing "/" after the pubkey: nostr-tools' parseConnectionString would take "/" for the pubkey.
  const connectionString =
    `nostr+walletconnect://${walletPubkey}?${new URLSearchParams({ relay: opts.relayUrl, secret: clientSecretHex }).toString()}`

  const pool = new SimplePool()
  const invoices = new Map<string, NwcInvoiceRecord>()
  const requests: Array<NwcRequestRecord> = []
  const responses: Array<Event> = []
  const seen = new Set<string>()
  const requestWaiters = new Set<() => void>()
  let closed = false
  // Requests arriving while the info event is being published wait until `service` exists.
  let markReady!: () => void
  const ready = new Promise<void>((resolve) => (markReady = resolve))

  const encrypt = (scheme: NwcEncryption, peer: string, plaintext: string): string =>
    scheme === "nip04" ? nip04.encrypt(walletSecret, peer, plaintext) : nip44.encrypt(plaintext, nip44.getConversationKey(walletSecret, peer))
  const decrypt = (scheme: NwcEncryption, peer: string, ciphertext: string): string =>
    scheme === "nip04" ? nip04.decrypt(walletSecret, peer, ciphertext) : nip44.decrypt(ciphertext, nip44.getConversationKey(walletSecret, peer))

  const invoiceByHashOrInvoice = (key: string): NwcInvoiceRecord | undefined => {
    const byHash = invoices.get(key.toLowerCase())
    if (byHash) return byHash
    for (const record of invoices.values()) if (record.invoice.toLowerCase() === key.toLowerCase()) return record
    try {
      return invoices.get(decodeInvoicePaymentHash(key))
    } catch {
      return undefined
    }
  }

  const stateOf = (record: NwcInvoiceRecord): "settled" | "expired" | "pending" =>
    record.settledAt !== undefined ? "settled" : nowSeconds() >= record.expiresAt ? "expired" : "pending"

  const transaction = (record: NwcInvoiceRecord): Record<string, unknown> => ({
    type: "incoming",
    state: stateOf(record),
    invoice: record.invoice,
    description: record.description,
    ...(record.descriptionHash !== undefined ? { description_hash: record.descriptionHash } : {}),
    ...(record.settledAt !== undefined ? { preimage: record.preimage, settled_at: record.settledAt } : {}),
    payment_hash: record.paymentHash,
    amount: record.amountMsats,
    fees_paid: 0,
    created_at: record.createdAt,
    expires_at: record.expiresAt,
    metadata: {}
  })

  const run = (method: string, params: Record<string, unknown>): Record<string, unknown> => {
    switch (method) {
      case "make_invoice": {
        const amount = params.amount
        if (typeof amount !== "number" || !Number.isSafeInteger(amount) || amount <= 0) {
          throw new ReplyError("OTHER", `amount must be a positive whole number of msats, got ${JSON.stringify(amount)}`)
        }
        const description = typeof params.description === "string" ? params.description : ""
        const descriptionHash = typeof params.description_hash === "string" ? params.description_hash : undefined
        const expiry = params.expiry === undefined || params.expiry === null ? DEFAULT_INVOICE_EXPIRY_SECONDS : params.expiry
        if (typeof expiry !== "number" || !Number.isSafeInteger(expiry) || expiry <= 0) {
          throw new ReplyError("OTHER", `expiry must be a positive whole number of seconds, got ${JSON.stringify(expiry)}`)
        }
        const made = makeInvoice({
          amountMsats: amount,
          description,
          ...(descriptionHash !== undefined ? { descriptionHash } : {}),
          expirySeconds: expiry,
          network
        })
        const record: NwcInvoiceRecord = {
          invoice: made.invoice,
          paymentHash: made.paymentHash,
          preimage: made.preimage,
          amountMsats: amount,
          description,
          ...(descriptionHash !== undefined ? { descriptionHash } : {}),
          createdAt: made.timestamp,
          expiresAt: made.expiresAt
        }
        invoices.set(record.paymentHash, record)
        return { ...transaction(record), metadata: isRecord(params.metadata) ? params.metadata : {} }
      }
      case "lookup_invoice": {
        const key = typeof params.payment_hash === "string" ? params.payment_hash : typeof params.invoice === "string" ? params.invoice : undefined
        if (key === undefined) throw new ReplyError("OTHER", "lookup_invoice needs payment_hash or invoice")
        const record = invoiceByHashOrInvoice(key)
        if (!record) throw new ReplyError("NOT_FOUND", `no invoice ${key}`)
        return transaction(record)
      }
      case "get_balance": {
        let balance = 0
        for (const record of invoices.values()) if (record.settledAt !== undefined) balance += record.amountMsats
        return { balance }
      }
      case "get_info":
        return {
          alias: "nwc stand-in",
          color: "#f7931a",
          pubkey: NODE_PUBLIC_KEY,
          network: NETWORK_NAMES[network],
          block_height: 1,
          block_hash: "00".repeat(32),
          methods,
          notifications: []
        }
      default:
        throw new ReplyError("NOT_IMPLEMENTED", `${method} is not implemented by this wallet`)
    }
  }

  const reply = async (request: Event, scheme: NwcEncryption, body: Record<string, unknown>): Promise<void> => {
    if (closed) return
    const response = finalizeEvent({
      kind: NWC_RESPONSE_KIND,
      created_at: nowSeconds(),
      tags: [["p", request.pubkey], ["e", request.id]],
      content: encrypt(scheme, request.pubkey, JSON.stringify(body))
    }, walletSecret)
    responses.push(response)
    await Promise.all(pool.publish([opts.relayUrl], response))
  }

  const replyError = (request: Event, scheme: NwcEncryption, resultType: string, error: NwcErrorReply) =>
    reply(request, scheme, { result_type: resultType, error: { code: error.code, message: error.message }, result: null })

  const record = (entry: NwcRequestRecord) => {
    requests.push(entry)
    for (const wake of [...requestWaiters]) wake()
  }

  const handle = async (event: Event): Promise<void> => {
    if (closed || event.kind !== NWC_REQUEST_KIND || seen.has(event.id)) return
    seen.add(event.id)
    await ready
    if (closed) return
    const expiration = event.tags.find((t) => t[0] === "expiration")?.[1]
    if (expiration !== undefined && Number(expiration) < nowSeconds()) return

    const tagged = event.tags.find((t) => t[0] === "encryption")?.[1]?.trim()
    const known: NwcEncryption | undefined = tagged === undefined || tagged === "nip04" ? "nip04" : tagged === "nip44_v2" ? "nip44_v2" : undefined
    if (known === undefined) {
      // A scheme nobody here can speak: say so in the scheme this wallet prefers.
      const scheme = offered[0] ?? "nip44_v2"
      await replyError(event, scheme, "", { code: "UNSUPPORTED_ENCRYPTION", message: `encryption ${tagged} is not supported` })
      return
    }

    let method = ""
    let params: Record<string, unknown> = {}
    try {
      const body: unknown = JSON.parse(decrypt(known, event.pubkey, event.content))
      if (!isRecord(body) || typeof body.method !== "string") throw new Error("not a {method, params} object")
      method = body.method
      params = isRecord(body.params) ? body.params : {}
    } catch (error) {
      await replyError(event, known, method, { code: "OTHER", message: `could not read the request: ${(error as Error).message}` })
      return
    }

    const entry: NwcRequestRecord = { method, params, encryption: known, id: event.id, pubkey: event.pubkey }
    record(entry)
    if (service.ignoreRequests) return

    let error: NwcErrorReply | undefined
    if (event.pubkey !== clientPubkey) {
      error = { code: "UNAUTHORIZED", message: "no wallet is connected to this key" }
    } else if (!offered.includes(known)) {
      error = { code: "UNSUPPORTED_ENCRYPTION", message: `this wallet supports ${offered.join(" ")}, not ${known}` }
    } else if (service.failNext) {
      error = service.failNext
      service.failNext = undefined
    } else if (!methods.includes(method)) {
      error = { code: "NOT_IMPLEMENTED", message: `${method} is not offered by this wallet` }
    }
    if (error) {
      entry.errorCode = error.code
      await replyError(event, known, method, error)
      return
    }
    try {
      const result = run(method, params)
      await reply(event, known, { result_type: method, error: null, result })
    } catch (thrown) {
      const code = thrown instanceof ReplyError ? thrown.code : "INTERNAL"
      entry.errorCode = code
      await replyError(event, known, method, { code, message: (thrown as Error).message })
    }
  }

  // Listen before announcing: requests are ephemeral and a relay does not keep them for later.
  const subscription = await new Promise<{ close: () => void }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`wallet service: no EOSE from ${opts.relayUrl} within ${timeoutMs} ms`)), timeoutMs)
    const sub = pool.subscribe([opts.relayUrl], { kinds: [NWC_REQUEST_KIND], "#p": [walletPubkey] }, {
      onevent: (event) => {
        handle(event).catch((error) => {
          if (!closed) console.error("[nwc wallet service] request handling failed:", error)
        })
      },
      oneose: () => {
        clearTimeout(timer)
        resolve(sub)
      }
    })
  })

  const tags: Array<Array<string>> = opts.omitEncryptionTag ? [] : [["encryption", offered.join(" ")]]
  const infoEvent = finalizeEvent({ kind: NWC_INFO_KIND, created_at: nowSeconds(), tags, content: methods.join(" ") }, walletSecret)
  try {
    await Promise.all(pool.publish([opts.relayUrl], infoEvent, { maxWait: timeoutMs }))
  } catch (error) {
    subscription.close()
    pool.destroy()
    throw new Error(`wallet service: could not publish its info event: ${String(error)}`)
  }

  const service: NwcWalletService = {
    connectionString,
    walletPubkey,
    clientPubkey,
    clientSecretHex,
    infoEvent,
    invoices,
    requests,
    responses,
    ignoreRequests: false,
    settle(paymentHashOrInvoice) {
      const record = invoiceByHashOrInvoice(paymentHashOrInvoice)
      if (!record) throw new Error(`wallet service: no invoice ${paymentHashOrInvoice}`)
      record.settledAt = nowSeconds()
    },
    async notify(paymentHashOrInvoice, encryption = offered[0] ?? "nip44_v2") {
      const record = invoiceByHashOrInvoice(paymentHashOrInvoice)
      if (!record) throw new Error(`wallet service: no invoice ${paymentHashOrInvoice}`)
      const body = { notification_type: "payment_received", notification: transaction(record) }
      const event = finalizeEvent({
        kind: encryption === "nip44_v2" ? 23197 : 23196,
        created_at: nowSeconds(),
        tags: [["p", clientPubkey]],
        content: encrypt(encryption, clientPubkey, JSON.stringify(body))
      }, walletSecret)
      await Promise.all(pool.publish([opts.relayUrl], event))
      return event
    },
    sign(template) {
      return finalizeEvent({ created_at: nowSeconds(), ...template }, walletSecret)
    },
    encryptForClient(scheme, plaintext) {
      return encrypt(scheme, clientPubkey, plaintext)
    },
    waitForRequests(count, waitMs = 5_000) {
      if (requests.length >= count) return Promise.resolve()
      return new Promise<void>((resolve, reject) => {
        const wake = () => {
          if (requests.length < count) return
          clearTimeout(timer)
          requestWaiters.delete(wake)
          resolve()
        }
        const timer = setTimeout(() => {
          requestWaiters.delete(wake)
          reject(new Error(`wallet service: ${requests.length} of ${count} requests within ${waitMs} ms`))
        }, waitMs)
        requestWaiters.add(wake)
      })
    },
    async close() {
      if (closed) return
      closed = true
      subscription.close()
      pool.destroy()
    }
  }
  markReady()
  return service
}
