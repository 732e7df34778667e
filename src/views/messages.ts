/**
 * The typed protocol between the panel's webview and the extension host, imported by both sides.
 * The webview posts `ready` when its script runs; the host answers with the full `state`, and sends
 * it again whenever something changes. Only plain data crosses: no secrets, nothing the webview
 * could execute.
 */

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
  readonly tokens?: number
  readonly priceSats?: number
  readonly payment?: "free" | "unpaid" | "paid" | "expired"
  readonly error?: string
}

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
  readonly jobs: ReadonlyArray<PanelJob>
  readonly earnings: { readonly jobsToday: number; readonly satsEarnedToday: number; readonly satsEarnedTotal: number }
  readonly model: string
  readonly paymentMode: string
  readonly checking: boolean
}

/** Host → webview. `setOnlineDone` answers a `setOnline` once the attempt ended, whatever its outcome. */
export type HostMessage =
  | { readonly type: "state"; readonly state: PanelState }
  | { readonly type: "setOnlineDone" }

/** Webview → host. */
export type WebviewMessage =
  | { readonly type: "ready" }
  | { readonly type: "setOnline"; readonly online: boolean }
  | { readonly type: "refresh" }
  | { readonly type: "copyNpub" }
  | { readonly type: "openSettings" }
  | { readonly type: "showLog" }
  | { readonly type: "setUpWallet" }

const webviewMessageTypes: ReadonlySet<string> = new Set<WebviewMessage["type"]>([
  "ready",
  "setOnline",
  "refresh",
  "copyNpub",
  "openSettings",
  "showLog",
  "setUpWallet"
])

/** Messages from a webview are untrusted input: only well-formed ones are acted on. */
export const isWebviewMessage = (value: unknown): value is WebviewMessage => {
  if (typeof value !== "object" || value === null) return false
  const { type } = value as { type?: unknown }
  if (typeof type !== "string" || !webviewMessageTypes.has(type)) return false
  return type !== "setOnline" || typeof (value as { online?: unknown }).online === "boolean"
}

/** What the webview keeps across being hidden and restored (vscode.getState / setState). */
export interface PanelWebviewState {
  readonly state?: PanelState
}
