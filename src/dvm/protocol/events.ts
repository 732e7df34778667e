/**
 * The events a provider publishes, as unsigned templates: 7000 feedback, the 6xxx result, the
 * NIP-89 kind 31990 announcement and the kind 5 deletion that withdraws it.
 */
import type { CatalogueModel } from "../catalogue"
import type { Config } from "../config"
import type { JobRequest } from "./jobRequest"
import { type EventTemplate, type NostrEvent, nowSeconds } from "./nostrEvent"
import { SUMMARIZATION_KIND, TRANSLATION_KIND } from "./prompts"

export const FEEDBACK_KIND = 7000
export const HANDLER_INFO_KIND = 31990
/** Liveness beat (draft NIP-89 extension, nostr-protocol/nips PR #2465, read by Amethyst). */
export const HEARTBEAT_KIND = 11998
export const HEARTBEAT_INTERVAL_S = 300
/** Clients treat a provider as alive while its last beat is at most this old. */
export const HEARTBEAT_TTL_S = 900
export const DELETION_KIND = 5
export const resultKindFor = (requestKind: number) => requestKind + 1000

export type FeedbackStatus = "payment-required" | "processing" | "error" | "success" | "partial"

/** Who a reply is about: enough of the request to address it, also for requests that did not parse. */
export interface RequestRef {
  readonly id: string
  readonly customer: string
}

export const refOf = (event: NostrEvent): RequestRef => ({ id: event.id, customer: event.pubkey })

export interface Invoice {
  readonly amountMsats: number
  readonly bolt11?: string
}

const amountTag = (invoice: Invoice): Array<string> =>
  invoice.bolt11 ? ["amount", String(invoice.amountMsats), invoice.bolt11] : ["amount", String(invoice.amountMsats)]

export const feedbackEvent = (
  request: RequestRef,
  status: FeedbackStatus,
  /** `encrypted`: `content` is encrypted to the customer (the reason of an encrypted request's error). */
  options: { readonly extra?: string; readonly invoice?: Invoice; readonly content?: string; readonly encrypted?: boolean } = {}
): EventTemplate => {
  const tags: Array<Array<string>> = [
    options.extra ? ["status", status, options.extra] : ["status", status],
    ["e", request.id],
    ["p", request.customer]
  ]
  if (options.invoice) tags.push(amountTag(options.invoice))
  if (options.encrypted) tags.push(["encrypted"])
  return { kind: FEEDBACK_KIND, created_at: nowSeconds(), tags, content: options.content ?? "" }
}

/**
 * The job result. `content` is the output, already encrypted by the caller when the request was
 * encrypted; then the cleartext inputs are left out and `["encrypted"]` is added. `invoice` only
 * when money is owed: clients read an `amount` tag as a request to pay (free and prepaid: none).
 */
export const resultEvent = (
  job: JobRequest,
  content: string,
  invoice: Invoice | undefined,
  relayHint?: string
): EventTemplate => {
  const tags: Array<Array<string>> = [
    ["request", JSON.stringify(job.event)],
    relayHint ? ["e", job.id, relayHint] : ["e", job.id],
    ...(job.encryption ? [] : job.inputTags.map((t) => [...t])),
    ["p", job.customer],
    ...(invoice ? [amountTag(invoice)] : [])
  ]
  if (job.encryption) tags.push(["encrypted"])
  return { kind: resultKindFor(job.kind), created_at: nowSeconds(), tags, content }
}

/** The `d` tag of our announcement: stable, so each new announcement replaces the last. */
export const HANDLER_D_TAG = "sell-compute"

/** Sats as msats, without floating point's tails (1.1 sats is 1100 msats, not 1100.0000000000002). */
const msats = (sats: number) => Math.round(sats * 1_000_000) / 1000

/**
 * The NIP-89 announcement: `k` tags for exactly the kinds served; in `content`, the profile (name,
 * about, picture from the settings), encryption in both spellings clients read, the catalogue (every
 * model offered, in `nip90Params.model.values` and in `models` with its price, context length and
 * size), the params each kind takes, the prices in msats, and the `amount` that clients' cards show
 * ("free", or the least a job costs, in sats).
 */
export const handlerInfoEvent = (config: Config, models: ReadonlyArray<CatalogueModel>): EventTemplate => {
  const kinds = config.supportedJobKinds
  const free = config["payment.mode"] === "free"
  const picture = config["profile.picture"]
  return {
    kind: HANDLER_INFO_KIND,
    created_at: nowSeconds(),
    tags: [["d", HANDLER_D_TAG], ...kinds.map((k) => ["k", String(k)])],
    content: JSON.stringify({
      name: config["profile.name"],
      about: config["profile.about"],
      ...(picture ? { picture, image: picture } : {}),
      amount: free ? "free" : String(config["pricing.minPriceSats"]),
      // Both spellings: nostrdvm reads the second, its web client and others the first.
      encryptionSupported: true,
      supportsEncryption: true,
      encryptionSchemes: ["nip04", "nip44"],
      nip90Params: {
        model: { required: false, values: models.map((m) => m.name) },
        max_tokens: { required: false, values: [], max: config["textGeneration.maxTokens"] },
        temperature: { required: false, values: [] },
        top_k: { required: false, values: [] },
        top_p: { required: false, values: [] },
        frequency_penalty: { required: false, values: [] },
        ...(kinds.includes(SUMMARIZATION_KIND) ? { length: { required: false, values: [], kind: SUMMARIZATION_KIND } } : {}),
        ...(kinds.includes(TRANSLATION_KIND) ? { language: { required: false, values: [], kind: TRANSLATION_KIND } } : {})
      },
      models: models.map((m) => ({
        name: m.name,
        ...(m.parameterSize !== undefined ? { parameterSize: m.parameterSize } : {}),
        ...(m.contextLength !== undefined ? { contextLength: m.contextLength } : {}),
        pricePer1kTokens: free ? 0 : msats(m.pricePer1kTokens)
      })),
      pricing: {
        unit: "msats",
        paymentMode: config["payment.mode"],
        minPrice: free ? 0 : msats(config["pricing.minPriceSats"]),
        pricePer1kTokens: free ? 0 : msats(config["pricing.pricePer1kTokens"])
      },
      // The text so far arrives as `partial` feedback while the model writes.
      streaming: config["streaming.intervalMs"] > 0
    })
  }
}

export const handlerAddress = (pubkey: string) => `${HANDLER_INFO_KIND}:${pubkey}:${HANDLER_D_TAG}`

/** Withdraws our announcement: by address (all versions) and by the id we last published. */
export const handlerDeletionEvent = (pubkey: string, announcementId?: string): EventTemplate => ({
  kind: DELETION_KIND,
  created_at: nowSeconds(),
  tags: [
    ["a", handlerAddress(pubkey)],
    ...(announcementId ? [["e", announcementId]] : []),
    ["k", String(HANDLER_INFO_KIND)]
  ],
  content: "Provider going offline"
})

/** "Still online": points at our announcement and expires when clients would stop trusting it. */
export const heartbeatEvent = (pubkey: string, activeJobs: number): EventTemplate => {
  const now = nowSeconds()
  return {
    kind: HEARTBEAT_KIND,
    created_at: now,
    tags: [["d", HANDLER_D_TAG], ["a", handlerAddress(pubkey)], ["expiration", String(now + HEARTBEAT_TTL_S)]],
    content: JSON.stringify({ status: "online", activeJobs })
  }
}
