/**
 * The panel's page script (bundled to media/panel.js, runs in the webview). It renders the state
 * the host sends and posts the person's clicks back; all text goes in through textContent.
 */
import type { HostMessage, PanelJob, PanelRelay, PanelState, PanelWebviewState, WebviewMessage } from "../views/messages"

interface VsCodeApi {
  postMessage(message: WebviewMessage): void
  getState(): PanelWebviewState | undefined
  setState(state: PanelWebviewState): void
}
declare function acquireVsCodeApi(): VsCodeApi

const vscode = acquireVsCodeApi()

const byId = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id)
  if (!element) throw new Error(`#${id} is missing from the panel`)
  return element as T
}

const onlineButton = byId<HTMLButtonElement>("online-button")
const copyButton = byId<HTMLButtonElement>("copy-npub")
const refreshButton = byId<HTMLButtonElement>("refresh-button")
/** Set between a click on the online button and the host's answer. */
let requested: boolean | undefined
let current: PanelState | undefined

const el = <K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string) => {
  const element = document.createElement(tag)
  if (text !== undefined) element.textContent = text
  if (className) element.className = className
  return element
}

const setCard = (id: string, ready: "true" | "false" | "unknown" | "not-needed", summary: string, detail: string) => {
  const card = byId(id)
  card.dataset.ready = ready
  const summaryElement = card.querySelector(".summary")
  const detailElement = card.querySelector(".detail")
  if (summaryElement) summaryElement.textContent = summary
  if (detailElement) detailElement.textContent = detail
}

const stateLabels: Record<PanelState["provider"]["state"], string> = {
  offline: "Offline",
  "going-online": "Going online…",
  online: "Online",
  "going-offline": "Going offline…"
}

const renderProvider = (state: PanelState) => {
  const { provider } = state
  const badge = byId("provider-state")
  badge.dataset.state = provider.state
  badge.textContent = provider.state === "online" && provider.activeJobs > 0
    ? `Online · ${provider.activeJobs} running`
    : stateLabels[provider.state]

  if (requested !== undefined && (provider.state === "online") === requested) requested = undefined
  const busy = requested !== undefined || provider.state === "going-online" || provider.state === "going-offline"
  onlineButton.dataset.state = provider.state
  onlineButton.disabled = busy
  onlineButton.setAttribute("aria-busy", String(busy))
  onlineButton.textContent = busy
    ? (requested ?? provider.state === "going-online") ? "Going online…" : "Going offline…"
    : provider.state === "online" ? "Go Offline" : "Go Online"

  const error = byId("provider-error")
  // Why it could not go online, or what needs attention while online.
  error.hidden = !provider.error || (provider.state !== "offline" && provider.state !== "online")
  error.textContent = provider.error ?? ""
}

const renderChecks = (state: PanelState) => {
  const { ollama, wallet } = state
  byId("ollama-title").textContent = ollama.name
  if (!ollama.checked) setCard("ollama-status", "unknown", state.checking ? "Checking…" : "Not checked yet", ollama.host)
  else if (ollama.reachable) {
    setCard(
      "ollama-status",
      "true",
      `Ready${ollama.version ? ` · version ${ollama.version}` : ""}`,
      ollama.models.length > 0
        ? `Models: ${ollama.models.join(", ")}`
        : ollama.backend === "ollama" ? "No models installed (try `ollama pull llama3.2`)" : "The server lists no models"
    )
  } else setCard("ollama-status", "false", "Not reachable", ollama.error ?? ollama.host)

  if (!wallet.needed) setCard("wallet-status", "not-needed", "Not needed", "Payment mode is free: results carry no invoice.")
  else if (!wallet.checked) setCard("wallet-status", "unknown", state.checking ? "Checking…" : "Not checked yet", `Backend: ${wallet.backend}`)
  else if (wallet.ready) {
    setCard("wallet-status", "true", `Ready · ${wallet.balanceSats ?? 0} sats`, `Backend: ${wallet.backend}${wallet.address ? ` · ${wallet.address}` : ""}`)
  } else setCard("wallet-status", "false", "Not ready", wallet.error ?? `Backend: ${wallet.backend}`)

  byId("set-up-wallet").hidden = !(wallet.needed && wallet.checked && !wallet.ready)
  refreshButton.disabled = state.checking
  refreshButton.setAttribute("aria-busy", String(state.checking))
}

const renderIdentity = (state: PanelState) => {
  const npub = byId("npub")
  npub.textContent = state.identity.npub ?? state.identity.error ?? "…"
  npub.title = state.identity.npub ?? ""
  copyButton.disabled = !state.identity.npub
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

const renderEarnings = (state: PanelState) => {
  byId("jobs-today").textContent = plural(state.earnings.jobsToday, "job")
  byId("sats-today").textContent = plural(state.earnings.satsEarnedToday, "sat")
  byId("model").textContent = state.model
  byId("payment-mode").textContent = state.paymentMode
}

const relayItem = (relay: PanelRelay) => {
  const item = el("li", undefined, "relay")
  item.dataset.url = relay.url
  item.dataset.status = relay.status
  item.append(el("span", "", "dot"), el("span", relay.url, "url"), el("span", relay.detail ?? relay.status, "relay-status"))
  if (relay.lastError && relay.status !== "connected") item.title = relay.lastError
  return item
}

const shortNpub = (npub: string) => (npub.length > 20 ? `${npub.slice(0, 10)}…${npub.slice(-4)}` : npub)

const jobRow = (job: PanelJob) => {
  const row = el("tr")
  row.dataset.jobId = job.id
  row.dataset.status = job.status
  if (job.error) row.title = job.error
  const customer = el("td", shortNpub(job.customerNpub))
  customer.title = job.customerNpub
  const status = el("td", job.status, "job-status")
  status.dataset.status = job.status
  row.append(
    el("td", new Date(job.receivedAt).toLocaleTimeString()),
    customer,
    el("td", String(job.kind)),
    status,
    el("td", job.tokens !== undefined ? String(job.tokens) : "–"),
    el("td", job.priceSats !== undefined ? `${job.priceSats} sats` : "–"),
    el("td", job.payment ?? "–", "payment")
  )
  return row
}

const render = (state: PanelState) => {
  current = state
  renderProvider(state)
  renderChecks(state)
  renderIdentity(state)
  renderEarnings(state)
  byId("relay-list").replaceChildren(...state.relays.map(relayItem))
  const body = byId("job-list").querySelector("tbody")
  body?.replaceChildren(...state.jobs.map(jobRow))
  byId("no-jobs").hidden = state.jobs.length > 0
}

window.addEventListener("message", (event: MessageEvent<HostMessage>) => {
  const message = event.data
  if (message?.type === "setOnlineDone") {
    requested = undefined
    if (current) render(current)
  } else if (message?.type === "state") {
    render(message.state)
    vscode.setState({ state: message.state })
  }
})

onlineButton.addEventListener("click", () => {
  if (!current) return
  requested = current.provider.state !== "online"
  render(current)
  vscode.postMessage({ type: "setOnline", online: requested })
})
copyButton.addEventListener("click", () => vscode.postMessage({ type: "copyNpub" }))
refreshButton.addEventListener("click", () => vscode.postMessage({ type: "refresh" }))
byId("set-up-wallet").addEventListener("click", () => vscode.postMessage({ type: "setUpWallet" }))
byId("settings-button").addEventListener("click", () => vscode.postMessage({ type: "openSettings" }))

// Shown again: draw what we had at once; the host's answer to `ready` brings it up to date.
const saved = vscode.getState()?.state
if (saved) render(saved)
vscode.postMessage({ type: "ready" })
