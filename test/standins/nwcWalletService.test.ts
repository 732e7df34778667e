// Proves the NIP-47 wallet-service stand-in speaks NWC as a real client sees it: a raw client made from
// nostr-tools alone (no code of the provider) talks to it over a real relay, in NIP-44 and NIP-04.
import assert from "node:assert/strict"
import { createHash } from "node:crypto"
import * as bolt11 from "bolt11"
import WebSocket from "ws"
import * as nip04 from "nostr-tools/nip04"
import * as nip44 from "nostr-tools/nip44"
// nostr-tools 2.25.2 has no "./nip47" subpath export; the root re-exports it.
import { nip47 } from "nostr-tools"
import { SimplePool, useWebSocketImplementation } from "nostr-tools/pool"
import { type Event, finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure"
import { hexToBytes } from "nostr-tools/utils"
import { decodeInvoice, decodeInvoiceAmountMsats, NODE_PUBLIC_KEY } from "../support/bolt11"
import { type NwcWalletService, startNwcWalletService } from "../support/nwcWalletService"
import { type RelayProcess, startRelay } from "../support/relay"

useWebSocketImplementation(WebSocket)

interface NwcResponse {
  readonly result_type: string
  readonly error: { readonly code: string; readonly message: string } | null
  readonly result: Record<string, unknown> | null
}

interface RequestOptions {
  /** "nip44_v2" or "nip04" sends that tag; "untagged" sends NIP-04 without a tag (legacy clients). */
  readonly encryption: "nip44_v2" | "nip04" | "untagged"
  /** Sign (and encrypt) with this key instead of the connection's secret. */
  readonly signer?: Uint8Array
  /** Send this `encryption` tag value instead (the content is still encrypted per `encryption`). */
  readonly rawTag?: string
  /** How long to wait for the response, in ms. Default 5,000. */
  readonly timeoutMs?: number
}

/** A bare NWC client: the connection string, nostr-tools, and nothing else. */
class RawNwcClient {
  readonly walletPubkey: string
  readonly relays: Array<string>
  readonly secretKey: Uint8Array
  readonly pubkey: string

  constructor(connectionString: string, readonly pool: SimplePool) {
    const connection = nip47.parseConnectionString(connectionString)
    this.walletPubkey = connection.pubkey
    this.relays = connection.relays
    this.secretKey = hexToBytes(connection.secret)
    this.pubkey = getPublicKey(this.secretKey)
  }

  info(): Promise<Event | null> {
    return this.pool.get(this.relays, { kinds: [13194], authors: [this.walletPubkey] }, { maxWait: 5_000 })
  }

  /** Sends one request and waits for the response that names it. */
  async request(method: string, params: Record<string, unknown>, options: RequestOptions): Promise<{ request: Event; response: Event; body: NwcResponse }> {
    const signer = options.signer ?? this.secretKey
    const author = getPublicKey(signer)
    const plaintext = JSON.stringify({ method, params })
    const content = options.encryption === "nip44_v2"
      ? nip44.encrypt(plaintext, nip44.getConversationKey(signer, this.walletPubkey))
      : nip04.encrypt(signer, this.walletPubkey, plaintext)
    const tags = [["p", this.walletPubkey]]
    if (options.rawTag !== undefined) tags.push(["encryption", options.rawTag])
    else if (options.encryption !== "untagged") tags.push(["encryption", options.encryption])
    const request = finalizeEvent({ kind: 23194, created_at: Math.floor(Date.now() / 1000), tags, content }, signer)

    let sub: { close: () => void } | undefined
    const response = await new Promise<Event>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? 5_000
      const timer = setTimeout(() => reject(new Error(`no response to ${method} within ${timeoutMs} ms`)), timeoutMs)
      // Responses are ephemeral: subscribe, wait for EOSE, only then send the request.
      sub = this.pool.subscribe(this.relays, { kinds: [23195], "#p": [author], "#e": [request.id] }, {
        onevent: (event) => {
          clearTimeout(timer)
          resolve(event)
        },
        oneose: () => {
          Promise.all(this.pool.publish(this.relays, request)).catch((error) => {
            clearTimeout(timer)
            reject(error)
          })
        }
      })
    }).finally(() => sub?.close())

    // Read the response in the scheme the request used, as a client does.
    const scheme = options.encryption === "nip44_v2" ? "nip44_v2" : "nip04"
    const plain = scheme === "nip44_v2"
      ? nip44.decrypt(response.content, nip44.getConversationKey(signer, response.pubkey))
      : nip04.decrypt(signer, response.pubkey, response.content)
    return { request, response, body: JSON.parse(plain) as NwcResponse }
  }
}

const tagValue = (event: Event, name: string) => event.tags.find((t) => t[0] === name)?.[1]

describe("NWC wallet-service stand-in (NIP-47 over a real relay)", function () {
  this.timeout(20_000)

  let relay: RelayProcess
  let pool: SimplePool
  const services: Array<NwcWalletService> = []

  const start = async (options: Omit<Parameters<typeof startNwcWalletService>[0], "relayUrl">) => {
    const service = await startNwcWalletService({ relayUrl: relay.url, ...options })
    services.push(service)
    return { service, client: new RawNwcClient(service.connectionString, pool) }
  }

  before(async () => {
    relay = await startRelay()
    pool = new SimplePool()
  })

  after(async () => {
    await Promise.all(services.map((s) => s.close()))
    pool?.destroy()
    await relay?.stop()
  })

  it("hands out a connection string nostr-tools parses, with a fresh client secret", async () => {
    const { service, client } = await start({ encryption: "both" })
    const parsed = nip47.parseConnectionString(service.connectionString)
    assert.match(service.connectionString, /^nostr\+walletconnect:\/\/[0-9a-f]{64}\?/)
    assert.equal(parsed.pubkey, service.walletPubkey)
    assert.deepEqual(parsed.relays, [relay.url])
    assert.match(parsed.secret, /^[0-9a-f]{64}$/)
    assert.equal(client.pubkey, service.clientPubkey)
    assert.notEqual(client.pubkey, service.walletPubkey)

    const other = await start({ encryption: "both" })
    assert.notEqual(nip47.parseConnectionString(other.service.connectionString).secret, parsed.secret)
  })

  it("publishes a 13194 info event listing its methods and encryption schemes", async () => {
    const both = await start({ encryption: "both" })
    const info = await both.client.info()
    assert.ok(info, "info event on the relay")
    assert.equal(info.pubkey, both.service.walletPubkey)
    assert.deepEqual(info.content.split(" "), ["make_invoice", "lookup_invoice", "get_info", "get_balance"])
    assert.deepEqual(tagValue(info, "encryption")?.split(" "), ["nip44_v2", "nip04"])

    const nip44Only = await start({ encryption: "nip44_v2", methods: ["make_invoice", "lookup_invoice"] })
    const info44 = await nip44Only.client.info()
    assert.equal(tagValue(info44!, "encryption"), "nip44_v2")
    assert.equal(info44!.content, "make_invoice lookup_invoice")

    const nip04Only = await start({ encryption: "nip04" })
    assert.equal(tagValue((await nip04Only.client.info())!, "encryption"), "nip04")

    const legacy = await start({ encryption: "nip04", omitEncryptionTag: true })
    assert.equal(tagValue((await legacy.client.info())!, "encryption"), undefined)
  })

  it("make_invoice over NIP-44 returns a signed BOLT11 for exactly the msats asked", async () => {
    const { service, client } = await start({ encryption: "both" })
    const { request, response, body } = await client.request(
      "make_invoice",
      { amount: 21_000, description: "job 42", expiry: 600 },
      { encryption: "nip44_v2" }
    )
    assert.ok(!response.content.includes("?iv="), "answered in NIP-44")
    assert.equal(tagValue(response, "p"), client.pubkey)
    assert.equal(tagValue(response, "e"), request.id)
    assert.equal(response.pubkey, service.walletPubkey)
    assert.equal(body.result_type, "make_invoice")
    assert.equal(body.error, null)
    const result = body.result!
    assert.equal(result.type, "incoming")
    assert.equal(result.state, "pending")
    assert.equal(result.amount, 21_000)
    assert.equal(result.description, "job 42")
    assert.equal((result.expires_at as number) - (result.created_at as number), 600)

    const invoice = result.invoice as string
    assert.match(invoice, /^lnbc210n1/)
    assert.equal(decodeInvoiceAmountMsats(invoice), 21_000)
    const decoded = decodeInvoice(invoice)
    assert.equal(decoded.paymentHash, result.payment_hash)
    assert.equal(decoded.description, "job 42")
    assert.equal(decoded.expiresAt, result.expires_at)
    // The signature is real: it recovers to the stand-in node's key.
    assert.equal(bolt11.decode(invoice).payeeNodeKey, NODE_PUBLIC_KEY)

    assert.deepEqual(service.requests.map(({ method, params, encryption }) => ({ method, params, encryption })), [
      { method: "make_invoice", params: { amount: 21_000, description: "job 42", expiry: 600 }, encryption: "nip44_v2" }
    ])
    assert.equal(service.invoices.get(result.payment_hash as string)?.invoice, invoice)
  })

  it("make_invoice over NIP-04, tagged or not, is answered in NIP-04", async () => {
    const { service, client } = await start({ encryption: "both" })
    for (const encryption of ["nip04", "untagged"] as const) {
      const { response, body } = await client.request("make_invoice", { amount: 1_234_000, description: "legacy" }, { encryption })
      assert.ok(response.content.includes("?iv="), `answered in NIP-04 (${encryption})`)
      assert.equal(body.error, null)
      assert.equal(decodeInvoiceAmountMsats(body.result!.invoice as string), 1_234_000)
      assert.equal(body.result!.amount, 1_234_000)
    }
    assert.deepEqual(service.requests.map((r) => r.encryption), ["nip04", "nip04"])
    assert.equal(service.invoices.size, 2)
  })

  it("lookup_invoice reports unpaid, then settled with settled_at after settle()", async () => {
    const { service, client } = await start({ encryption: "both" })
    const made = (await client.request("make_invoice", { amount: 5_000, description: "lookup" }, { encryption: "nip44_v2" })).body.result!
    const paymentHash = made.payment_hash as string

    const before = (await client.request("lookup_invoice", { payment_hash: paymentHash }, { encryption: "nip44_v2" })).body
    assert.equal(before.result_type, "lookup_invoice")
    assert.equal(before.error, null)
    assert.equal(before.result!.state, "pending")
    assert.equal(before.result!.settled_at, undefined)
    assert.equal(before.result!.preimage, undefined)
    assert.equal(before.result!.invoice, made.invoice)

    const settledBefore = Math.floor(Date.now() / 1000)
    service.settle(paymentHash)

    // Looked up by invoice this time, over NIP-04.
    const after = (await client.request("lookup_invoice", { invoice: made.invoice }, { encryption: "nip04" })).body
    assert.equal(after.error, null)
    assert.equal(after.result!.state, "settled")
    assert.equal(after.result!.payment_hash, paymentHash)
    const settledAt = after.result!.settled_at as number
    assert.ok(Number.isInteger(settledAt) && settledAt >= settledBefore, `settled_at ${settledAt}`)
    const preimage = after.result!.preimage as string
    assert.equal(createHash("sha256").update(Buffer.from(preimage, "hex")).digest("hex"), paymentHash)

    const balance = (await client.request("get_balance", {}, { encryption: "nip44_v2" })).body
    assert.deepEqual(balance.result, { balance: 5_000 })
  })

  it("lookup_invoice says expired past expires_at, and NOT_FOUND for an unknown invoice", async () => {
    const { service, client } = await start({ encryption: "nip44_v2" })
    const made = (await client.request("make_invoice", { amount: 1_000 }, { encryption: "nip44_v2" })).body.result!
    service.invoices.get(made.payment_hash as string)!.expiresAt = Math.floor(Date.now() / 1000) - 1
    const expired = (await client.request("lookup_invoice", { payment_hash: made.payment_hash }, { encryption: "nip44_v2" })).body
    assert.equal(expired.result!.state, "expired")

    const missing = (await client.request("lookup_invoice", { payment_hash: "ab".repeat(32) }, { encryption: "nip44_v2" })).body
    assert.equal(missing.result_type, "lookup_invoice")
    assert.equal(missing.error?.code, "NOT_FOUND")
    assert.equal(missing.result, null)
  })

  it("answers a key that is not the connection's client with UNAUTHORIZED", async () => {
    const { service, client } = await start({ encryption: "both" })
    const stranger = generateSecretKey()
    for (const encryption of ["nip44_v2", "nip04"] as const) {
      const { request, response, body } = await client.request("make_invoice", { amount: 1_000 }, { encryption, signer: stranger })
      assert.equal(tagValue(response, "p"), getPublicKey(stranger))
      assert.equal(tagValue(response, "e"), request.id)
      assert.equal(body.result_type, "make_invoice")
      assert.equal(body.error?.code, "UNAUTHORIZED")
      assert.equal(body.result, null)
    }
    assert.equal(service.invoices.size, 0)
    assert.deepEqual(service.requests.map((r) => r.errorCode), ["UNAUTHORIZED", "UNAUTHORIZED"])
  })

  it("refuses a scheme it does not offer with UNSUPPORTED_ENCRYPTION, in the scheme the client used", async () => {
    const only44 = await start({ encryption: "nip44_v2" })
    const via04 = await only44.client.request("make_invoice", { amount: 1_000 }, { encryption: "nip04" })
    assert.ok(via04.response.content.includes("?iv="))
    assert.equal(via04.body.error?.code, "UNSUPPORTED_ENCRYPTION")
    const untagged = await only44.client.request("make_invoice", { amount: 1_000 }, { encryption: "untagged" })
    assert.equal(untagged.body.error?.code, "UNSUPPORTED_ENCRYPTION")

    const only04 = await start({ encryption: "nip04" })
    const via44 = await only04.client.request("make_invoice", { amount: 1_000 }, { encryption: "nip44_v2" })
    assert.ok(!via44.response.content.includes("?iv="))
    assert.equal(via44.body.error?.code, "UNSUPPORTED_ENCRYPTION")
    assert.equal(only44.service.invoices.size + only04.service.invoices.size, 0)

    // A scheme unknown to NIP-47 altogether: the error comes in the wallet's preferred scheme (NIP-44).
    const both = await start({ encryption: "both" })
    const unknown = await both.client.request("make_invoice", { amount: 1_000 }, { encryption: "nip44_v2", rawTag: "nip44_v3" })
    assert.equal(unknown.body.error?.code, "UNSUPPORTED_ENCRYPTION")
    assert.equal(both.service.invoices.size, 0)
  })

  it("answers methods it does not offer with NOT_IMPLEMENTED, and failNext once", async () => {
    const { service, client } = await start({ encryption: "both", methods: ["lookup_invoice"] })
    const make = (await client.request("make_invoice", { amount: 1_000 }, { encryption: "nip44_v2" })).body
    assert.equal(make.error?.code, "NOT_IMPLEMENTED")
    const pay = (await client.request("pay_invoice", { invoice: "lnbc1" }, { encryption: "nip44_v2" })).body
    assert.equal(pay.result_type, "pay_invoice")
    assert.equal(pay.error?.code, "NOT_IMPLEMENTED")

    const full = await start({ encryption: "both" })
    full.service.failNext = { code: "INTERNAL", message: "node offline" }
    const failed = (await full.client.request("make_invoice", { amount: 2_000 }, { encryption: "nip44_v2" })).body
    assert.deepEqual(failed.error, { code: "INTERNAL", message: "node offline" })
    assert.equal(full.service.failNext, undefined)
    const ok = (await full.client.request("make_invoice", { amount: 2_000 }, { encryption: "nip44_v2" })).body
    assert.equal(ok.error, null)
    assert.equal(decodeInvoiceAmountMsats(ok.result!.invoice as string), 2_000)
    assert.equal(service.invoices.size, 0)
  })

  it("rejects a make_invoice without a valid amount", async () => {
    const { client } = await start({ encryption: "nip44_v2" })
    for (const amount of [undefined, 0, -5, 1.5, "1000"]) {
      const { body } = await client.request("make_invoice", { amount }, { encryption: "nip44_v2" })
      assert.equal(body.error?.code, "OTHER", `amount ${String(amount)}`)
    }
  })

  it("records but never answers while ignoreRequests is set", async () => {
    const { service, client } = await start({ encryption: "nip44_v2" })
    service.ignoreRequests = true
    await assert.rejects(
      client.request("make_invoice", { amount: 1_000 }, { encryption: "nip44_v2", timeoutMs: 1_000 }),
      /no response to make_invoice/
    )
    assert.equal(service.requests.length, 1)
    assert.equal(service.responses.length, 0)
  })
})
