/**
 * How the provider's snapshot reads to a person: the status bar's text, tooltip and accessible
 * label, and the panel's state. Pure, so the words are unit-tested.
 */
import { neventEncode, npubEncode } from "nostr-tools/nip19"
import type { JobRecord } from "../dvm/services/JobStore"
import type { PanelBlocker, PanelJob, PanelJobDetail, PanelState } from "./messages"
import { serverAddress, serverName } from "../dvm/modelServer"
import { relaySummary } from "../dvm/services/Kind5050DVM"
import { type ProviderSnapshot, type RelayView, relayView } from "./ProviderModel"

export const EXTENSION_ID = "sell-compute.sell-compute"

/**
 * What needs the user's attention while online: no relay connected and subscribed (no customer can
 * reach us; the provider says why, from the moment it is online), a problem the provider reported
 * (e.g. the wallet stopped answering), or a history that cannot be written.
 */
export const onlineProblem = (s: ProviderSnapshot): string | undefined => {
  if (s.status.state !== "online") return undefined
  return s.status.unreachable ?? s.status.error ?? s.historyProblem
}

/** One relay in the panel's list: its state, and while we use it, subscribed, announced, last error. */
export const relayDetail = (r: RelayView): string => (r.status === "offline" ? "offline" : relaySummary({ ...r, status: r.status }))

/**
 * What keeps the provider from serving, known without going online: Ollama unreachable or without
 * a model (once checked), or paid mode without a wallet (set up or ready). The status bar's click
 * and the panel's primary action then lead to the walkthrough step that removes it.
 */
export const blockerOf = (s: ProviderSnapshot): PanelBlocker | undefined => {
  if (s.ollama && !s.ollama.reachable) return { step: "ollama", reason: `Ollama is not reachable at ${s.ollama.host}` }
  if (s.ollama?.reachable && s.ollama.models.length === 0) return { step: "ollama", reason: "Ollama has no model installed" }
  if (s.config["payment.mode"] !== "free") {
    if (s.walletSecret === false) return { step: "wallet", reason: "Paid mode needs a wallet, and none is set up" }
    if (s.wallet && !s.wallet.ready) return { step: "wallet", reason: `The wallet is not ready${s.wallet.error ? `: ${s.wallet.error}` : ""}` }
  }
  return undefined
}

/** The context keys the walkthrough's steps complete on (`sellCompute.online` is ContextKeys.ts's). */
export const walkthroughContext = (s: ProviderSnapshot) => ({
  ollamaReady: s.ollama?.reachable === true && s.ollama.models.length > 0,
  walletReady: s.wallet?.ready === true
})

/** The word tests and people look for is always there: Online or Offline; online, today's sats. */
export const statusBarText = (s: ProviderSnapshot): string => {
  switch (s.status.state) {
    case "online": {
      const sats = ` · ${plural(s.earnings.satsEarnedToday, "sat")}`
      return onlineProblem(s) ? `$(warning) Sell Compute: Online${sats}` : `$(broadcast) Sell Compute: Online${sats}`
    }
    case "going-online":
      return "$(sync~spin) Sell Compute: Going Online"
    case "going-offline":
      return "$(sync~spin) Sell Compute: Going Offline"
    case "offline":
      // Not circle-slash: offline is a choice, not something blocked.
      return s.status.error ? "$(warning) Sell Compute: Offline" : "$(debug-disconnect) Sell Compute: Offline"
  }
}

const stateWords = (s: ProviderSnapshot): string => {
  switch (s.status.state) {
    case "online":
      return onlineProblem(s) ? "Online, needs attention" : "Online"
    case "going-online":
      return "Going online"
    case "going-offline":
      return "Going offline"
    case "offline":
      return s.status.error ? "Offline (could not go online)" : "Offline"
  }
}

export const modelLabel = (s: ProviderSnapshot): string => {
  const chosen = s.config["textGeneration.model"]
  if (chosen) return chosen
  const first = s.ollama?.models[0]
  return first ? `${first} (first installed)` : "first installed model"
}

const relayCount = (s: ProviderSnapshot) => {
  const relays = relayView(s)
  return { connected: relays.filter((r) => r.status === "connected").length, total: relays.length }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

/** What a click on the status bar item does now, in words. */
export const clickAction = (s: ProviderSnapshot): string => {
  switch (s.status.state) {
    case "online":
      return s.status.activeJobs > 0 ? `go offline (asks first: ${plural(s.status.activeJobs, "job")} running)` : "go offline"
    case "offline": {
      const blocker = blockerOf(s)
      return blocker ? `open the setup guide (${blocker.reason.charAt(0).toLowerCase()}${blocker.reason.slice(1)})` : "go online on the configured relays"
    }
    default:
      return "nothing until this change ends"
  }
}

export const statusBarAccessibilityLabel = (s: ProviderSnapshot): string => {
  const { connected, total } = relayCount(s)
  const relays = s.status.state === "online" ? `, ${connected} of ${total} relays connected` : ""
  return `Sell Compute: ${stateWords(s)}${relays}. ${plural(s.earnings.jobsToday, "job")} and ${plural(s.earnings.satsEarnedToday, "sat")} today. Activate to ${clickAction(s)}.`
}

/** Text that is shown as-is inside markdown. */
export const escapeMarkdown = (text: string): string => text.replace(/[\\`*_{}[\]()#+\-.!<>|~]/g, "\\$&")

/** Markdown for the status bar tooltip; command links are only those in `tooltipCommands`. */
export const statusBarTooltip = (s: ProviderSnapshot): string => {
  const { connected, total } = relayCount(s)
  const problem = onlineProblem(s)
  const lines = [
    `**Sell Compute: ${escapeMarkdown(stateWords(s))}**`,
    ...(s.status.error && s.status.state === "offline" ? [`$(warning) ${escapeMarkdown(s.status.error)}`] : []),
    ...(problem ? [`$(warning) ${escapeMarkdown(problem)}`] : []),
    `Relays: ${connected}/${total} connected`,
    `Model: ${escapeMarkdown(modelLabel(s))}`,
    `Today: ${plural(s.earnings.jobsToday, "job")} served, ${plural(s.earnings.satsEarnedToday, "sat")} earned`,
    ...(s.status.activeJobs > 0 ? [`Running now: ${plural(s.status.activeJobs, "job")}`] : []),
    `Click to ${escapeMarkdown(clickAction(s))}.`,
    [
      "[$(dashboard) Open Dashboard](command:sellCompute.openPanel)",
      "[$(copy) Copy npub](command:sellCompute.copyPublicKey)",
      "[$(output) Show Log](command:sellCompute.showLog)",
      "[$(beaker) Test My Provider](command:sellCompute.testProvider)",
      "[$(book) Setup Guide](command:sellCompute.openWalkthrough)"
    ].join(" · ")
  ]
  return lines.join("\n\n")
}

export const tooltipCommands = ["sellCompute.openPanel", "sellCompute.copyPublicKey", "sellCompute.showLog", "sellCompute.testProvider", "sellCompute.openWalkthrough"]

/** `npub1abcd…wxyz`: enough to tell customers apart in a list. */
export const shortNpub = (npub: string): string => (npub.length > 20 ? `${npub.slice(0, 10)}…${npub.slice(-4)}` : npub)

const customerNpub = (pubkey: string): string => {
  try {
    return npubEncode(pubkey)
  } catch {
    return pubkey
  }
}

/** One history row as the dashboard lists it. */
export const panelJob = (j: JobRecord): PanelJob => {
  const end = j.finishedAt ?? (j.status === "success" || j.status === "error" ? j.updatedAt : undefined)
  return {
    id: j.id,
    receivedAt: j.receivedAt,
    customerNpub: customerNpub(j.customer),
    kind: j.kind,
    status: j.status,
    ...(j.model !== undefined ? { model: j.model } : {}),
    ...(j.encrypted ? { encrypted: true } : j.promptPreview !== undefined ? { promptPreview: j.promptPreview } : {}),
    ...(j.promptTokens !== undefined || j.completionTokens !== undefined
      ? { tokens: (j.promptTokens ?? 0) + (j.completionTokens ?? 0) }
      : {}),
    ...(end !== undefined && end >= j.receivedAt ? { durationMs: end - j.receivedAt } : {}),
    ...(j.priceSats !== undefined ? { priceSats: j.priceSats } : {}),
    ...(j.payment !== undefined ? { payment: j.payment } : {}),
    ...(j.error !== undefined ? { error: j.error } : {})
  }
}

const nevent = (id: string, author?: string): string | undefined => {
  try {
    return neventEncode({ id, ...(author ? { author } : {}) })
  } catch {
    return undefined // not a 32-byte hex id (a history written by hand): no nevent rather than a wrong one
  }
}

/** One job in full: its request and result as `nevent`s, its invoice and its timeline. */
export const panelJobDetail = (j: JobRecord, provider?: string): PanelJobDetail => {
  const resultNevent = j.resultId ? nevent(j.resultId, provider) : undefined
  const result = j.finishedAt ?? (j.status === "success" || j.status === "error" ? j.updatedAt : undefined)
  return {
    ...panelJob(j),
    requestNevent: nevent(j.id, j.customer) ?? j.id,
    ...(resultNevent ? { resultNevent } : {}),
    ...(j.bolt11 ? { bolt11: j.bolt11 } : {}),
    ...(j.invoiceExpiresAt !== undefined ? { invoiceExpiresAt: j.invoiceExpiresAt } : {}),
    timeline: {
      received: j.receivedAt,
      ...(j.startedAt !== undefined ? { processing: j.startedAt } : {}),
      ...(result !== undefined ? { result } : {}),
      ...(j.paidAt !== undefined ? { paid: j.paidAt } : {})
    }
  }
}

export const panelState = (s: ProviderSnapshot): PanelState => {
  const paymentMode = s.config["payment.mode"]
  // Why it could not go online, or what needs attention while online.
  const error = onlineProblem(s) ?? s.status.error
  const blocker = s.status.state === "offline" ? blockerOf(s) : undefined
  return {
    provider: {
      state: s.status.state,
      activeJobs: s.status.activeJobs,
      ...(error ? { error } : {}),
      ...(s.status.onlineSince ? { onlineSince: s.status.onlineSince } : {})
    },
    identity: { ...(s.npub ? { npub: s.npub } : {}), ...(s.identityError ? { error: s.identityError } : {}) },
    ollama: s.ollama
      ? {
        checked: true,
        name: serverName(s.ollama.backend),
        backend: s.ollama.backend,
        host: s.ollama.host,
        reachable: s.ollama.reachable,
        models: s.ollama.models,
        ...(s.ollama.version ? { version: s.ollama.version } : {}),
        ...(s.ollama.error ? { error: s.ollama.error } : {})
      }
      : {
        checked: false,
        name: serverName(s.config["inference.backend"]),
        backend: s.config["inference.backend"],
        host: serverAddress(s.config),
        models: []
      },
    wallet: s.wallet
      ? {
        checked: true,
        needed: paymentMode !== "free",
        backend: s.wallet.backend,
        ready: s.wallet.ready,
        ...(s.wallet.balanceSats !== undefined ? { balanceSats: s.wallet.balanceSats } : {}),
        ...(s.wallet.address ? { address: s.wallet.address } : {}),
        ...(s.wallet.error ? { error: s.wallet.error } : {})
      }
      : { checked: false, needed: paymentMode !== "free", backend: s.config["wallet.backend"] },
    relays: relayView(s).map((r) => ({
      url: r.url,
      status: r.status,
      detail: relayDetail(r),
      ...(r.subscribed !== undefined ? { subscribed: r.subscribed } : {}),
      ...(r.announced !== undefined ? { announced: r.announced } : {}),
      ...(r.lastError ? { lastError: r.lastError } : {})
    })),
    earnings: s.earnings,
    model: modelLabel(s),
    paymentMode,
    prices: { minPriceSats: s.config["pricing.minPriceSats"], pricePer1kTokens: s.config["pricing.pricePer1kTokens"] },
    ...(blocker ? { blocker } : {}),
    ...(s.selfTest ? { selfTest: s.selfTest } : {}),
    checking: s.checking
  }
}
