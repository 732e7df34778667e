/**
 * The typed protocol between the panel's webview and the extension host, imported by both sides.
 * The webview posts `ready` when its script runs; the host answers with the full `state`, and sends
 * it again whenever something changes. Only plain data crosses: no secrets, nothing the webview
 * could execute. The dashboard asks for history pages (`query`) and one job in full (`jobDetail`);
 * every field of every message from the webview is checked before the host acts on it.
 */
import type { EarningsOverview, HistoryFilter } from "../dvm/services/History"
import type { JobStatus, PaymentState } from "../dvm/services/JobStore"

export type ProviderState = "offline" | "going-online" | "online" | "going-offline"
export type RelayConnection = "connecting" | "connected" | "disconnected" | "offline"

export interface PanelRelay {
  readonly url: string
  readonly status: RelayConnection
  /** The relay for a person: connected or failed, subscribed, whether it took our announcement, its last error. */
  readonly detail?: string
  /** Our subscriptions are live on it. */
  readonly subscribed?: boolean
  /** It accepted our last announcement (absent: none sent to it yet). */
  readonly announced?: boolean
  readonly lastError?: string
}

export interface PanelJob {
  readonly id: string
  /** When we first saw the request (ms). */
  readonly receivedAt: number
  readonly customerNpub: string
  readonly kind: number
  readonly status: "received" | "processing" | "success" | "error"
  readonly model?: string
  /** The start of a plain prompt; absent for encrypted jobs (see `encrypted`). */
  readonly promptPreview?: string
  readonly encrypted?: boolean
  readonly tokens?: number
  /** From received to result (ms), once it ended. */
  readonly durationMs?: number
  readonly priceSats?: number
  readonly payment?: "free" | "unpaid" | "paid" | "expired"
  readonly error?: string
}

/** One job in full, for the detail view: its events as `nevent`s, invoice and timeline. */
export interface PanelJobDetail extends PanelJob {
  readonly requestNevent: string
  readonly resultNevent?: string
  readonly bolt11?: string
  readonly invoiceExpiresAt?: number
  /** received → processing → result → paid (ms), each once it happened. */
  readonly timeline: { readonly received: number; readonly processing?: number; readonly result?: number; readonly paid?: number }
}

/** What keeps the provider from serving, and the walkthrough step that removes it. */
export interface PanelBlocker {
  readonly step: WalkthroughStep
  readonly reason: string
}

export type WalkthroughStep = "ollama" | "payment" | "wallet" | "prices" | "online" | "test"

export interface PanelState {
  readonly provider: {
    readonly state: ProviderState
    /** Why the last attempt to go online failed. */
    readonly error?: string
    readonly onlineSince?: number
    readonly activeJobs: number
  }
  readonly identity: { readonly npub?: string; readonly error?: string }
  /** `checked: false` until the first check (the panel asks for one when it opens). */
  readonly ollama: {
    readonly checked: boolean
    /** The server the settings select: "Ollama" or "OpenAI-compatible server" (the card's title). */
    readonly name: string
    /** Whether an empty model list can be fixed with `ollama pull`. */
    readonly backend: "ollama" | "openai"
    readonly host: string
    readonly reachable?: boolean
    readonly version?: string
    readonly models: ReadonlyArray<string>
    readonly error?: string
  }
  readonly wallet: {
    readonly checked: boolean
    /** False in free mode: no invoices, so no wallet. */
    readonly needed: boolean
    readonly backend: string
    readonly ready?: boolean
    readonly balanceSats?: number
    /** Where the wallet can be paid directly (a Spark address). */
    readonly address?: string
    readonly error?: string
  }
  readonly relays: ReadonlyArray<PanelRelay>
  readonly earnings: { readonly jobsToday: number; readonly satsEarnedToday: number; readonly satsEarnedTotal: number }
  readonly model: string
  readonly paymentMode: string
  readonly prices: { readonly minPriceSats: number; readonly pricePer1kTokens: number }
  /** Set when going online cannot work yet: the panel's primary action removes it instead. */
  readonly blocker?: PanelBlocker
  /** The self-test (Test My Provider): running, or its last report, a line per relay. */
  readonly selfTest?: {
    readonly running: boolean
    readonly finishedAt?: number
    readonly relays: ReadonlyArray<{ readonly url: string; readonly ok?: boolean; readonly text: string }>
  }
  readonly checking: boolean
}

/** The dashboard's history query: a filter, and the page of it shown. */
export interface PanelQuery {
  readonly filter: HistoryFilter
  readonly offset: number
  readonly limit: number
}

export interface PanelPage extends PanelQuery {
  readonly rows: ReadonlyArray<PanelJob>
  readonly total: number
  readonly models: ReadonlyArray<string>
}

/** Host → webview. `setOnlineDone` answers a `setOnline` once the attempt ended, whatever its outcome. */
export type HostMessage =
  | { readonly type: "state"; readonly state: PanelState }
  | { readonly type: "setOnlineDone" }
  /** Earnings over time; `problem` when the history cannot be read (the rest of the panel works). */
  | { readonly type: "overview"; readonly overview?: EarningsOverview; readonly problem?: string }
  | { readonly type: "page"; readonly page: PanelPage }
  | { readonly type: "job"; readonly job?: PanelJobDetail; readonly id: string }

/** Webview → host. */
export type WebviewMessage =
  | { readonly type: "ready" }
  | { readonly type: "setOnline"; readonly online: boolean }
  | { readonly type: "refresh" }
  | { readonly type: "copyNpub" }
  | { readonly type: "openSettings" }
  | { readonly type: "showLog" }
  | { readonly type: "setUpWallet" }
  | { readonly type: "useFreeMode" }
  | { readonly type: "testProvider" }
  | { readonly type: "openWalkthrough"; readonly step: WalkthroughStep }
  | { readonly type: "query"; readonly query: PanelQuery }
  | { readonly type: "jobDetail"; readonly id: string }
  | { readonly type: "exportCsv"; readonly filter: HistoryFilter }
  /** Copies an npub or nevent (nothing else) to the clipboard. */
  | { readonly type: "copyText"; readonly text: string }

/** The largest page the dashboard asks for (History caps it too). */
export const MAX_PAGE = 200
const MAX_FIELD = 200
const STATUSES: ReadonlySet<string> = new Set<JobStatus>(["received", "processing", "success", "error"])
const PAYMENTS: ReadonlySet<string> = new Set<PaymentState | "none">(["free", "unpaid", "paid", "expired", "none"])
const STEPS: ReadonlySet<string> = new Set<WalkthroughStep>(["ollama", "payment", "wallet", "prices", "online", "test"])
/** What the webview may ask to copy: an npub or a nevent, bech32 characters only. */
const COPYABLE = /^(npub1[02-9ac-hj-np-z]{58}|nevent1[02-9ac-hj-np-z]{10,1000})$/

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)
const isField = (value: unknown) => typeof value === "string" && value.length <= MAX_FIELD
const isCount = (value: unknown, max: number) => typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= max

/** A filter with only known keys, each a short string (status and payment from their lists). */
export const isHistoryFilter = (value: unknown): value is HistoryFilter => {
  if (!isObject(value)) return false
  for (const [key, field] of Object.entries(value)) {
    if (field === undefined) continue
    if (key === "status") {
      if (!STATUSES.has(field as string)) return false
    } else if (key === "payment") {
      if (!PAYMENTS.has(field as string)) return false
    } else if (key === "customer" || key === "model" || key === "id") {
      if (!isField(field)) return false
    } else return false
  }
  return true
}

const isQuery = (value: unknown): value is PanelQuery =>
  isObject(value) && isHistoryFilter(value.filter) && isCount(value.offset, 1e9) && isCount(value.limit, MAX_PAGE) && (value.limit as number) > 0

/** Messages from a webview are untrusted input: only well-formed ones are acted on. */
export const isWebviewMessage = (value: unknown): value is WebviewMessage => {
  if (!isObject(value)) return false
  switch (value.type) {
    case "ready":
    case "refresh":
    case "copyNpub":
    case "openSettings":
    case "showLog":
    case "setUpWallet":
    case "useFreeMode":
    case "testProvider":
      return true
    case "setOnline":
      return typeof value.online === "boolean"
    case "openWalkthrough":
      return typeof value.step === "string" && STEPS.has(value.step)
    case "query":
      return isQuery(value.query)
    case "jobDetail":
      return typeof value.id === "string" && /^[0-9a-f]{64}$/.test(value.id)
    case "exportCsv":
      return isHistoryFilter(value.filter)
    case "copyText":
      return typeof value.text === "string" && COPYABLE.test(value.text)
    default:
      return false
  }
}

/** What the webview keeps across being hidden and restored (vscode.getState / setState). */
export interface PanelWebviewState {
  readonly state?: PanelState
  readonly query?: PanelQuery
}
