/**
 * The dashboard's page script (bundled to media/panel.js, runs in the webview). It renders what the
 * host sends (provider state, earnings overview, a page of the history, one job in full) and posts
 * the person's clicks and queries back; all text goes in through textContent. Buttons are
 * @vscode-elements components, icons codicons, the chart uPlot (see DESIGN.md).
 */
import "@vscode-elements/elements/dist/vscode-button/index.js"
import "@vscode-elements/elements/dist/vscode-toolbar-button/index.js"
import type { ChartPoint, EarningsOverview, HistoryFilter, PeriodTotals } from "../dvm/services/History"
import type {
  HostMessage,
  PanelJob,
  PanelJobDetail,
  PanelPage,
  PanelQuery,
  PanelRelay,
  PanelState,
  PanelWebviewState,
  WebviewMessage
} from "../views/messages"
import { drawChart } from "./chart"

interface VsCodeApi {
  postMessage(message: WebviewMessage): void
  getState(): PanelWebviewState | undefined
  setState(state: PanelWebviewState): void
}
declare function acquireVsCodeApi(): VsCodeApi

const vscode = acquireVsCodeApi()
const PAGE_SIZE = 50

const byId = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id)
  if (!element) throw new Error(`#${id} is missing from the panel`)
  return element as T
}

/** A vscode-button: a custom element with a `disabled` property. */
type Button = HTMLElement & { disabled: boolean }

const onlineButton = byId<Button>("online-button")
const freeModeButton = byId<Button>("free-mode-button")
const copyButton = byId<Button>("copy-npub")
const refreshButton = byId<Button>("refresh-button")
/** Set between a click on the online button and the host's answer. */
let requested: boolean | undefined
let current: PanelState | undefined
let overview: EarningsOverview | undefined
let chartRange: "days" | "hours" = "days"
let query: PanelQuery = vscode.getState()?.query ?? { filter: {}, offset: 0, limit: PAGE_SIZE }
let page: PanelPage | undefined

const el = <K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string) => {
  const element = document.createElement(tag)
  if (text !== undefined) element.textContent = text
  if (className) element.className = className
  return element
}

const icon = (name: string, className = "") => {
  const span = el("span", undefined, `codicon codicon-${name}${className ? ` ${className}` : ""}`)
  span.setAttribute("aria-hidden", "true")
  return span
}

const setIcon = (container: Element | null, name: string) => {
  const span = container?.querySelector(".codicon")
  if (span) span.className = `codicon codicon-${name}`
}

const plural = (n: number, word: string) => `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`
const number = (n: number) => n.toLocaleString("en-US")

const duration = (ms: number): string => {
  if (ms < 1000) return `${ms} ms`
  const s = ms / 1000
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`
  const minutes = Math.floor(s / 60)
  if (minutes < 60) return `${minutes} min ${Math.round(s % 60)} s`
  const hours = Math.floor(minutes / 60)
  if (hours < 48) return `${hours} h ${minutes % 60} min`
  return `${Math.floor(hours / 24)} days ${hours % 24} h`
}

const dateTime = (ms: number) => {
  const d = new Date(ms)
  const pad = (n: number) => String(n).padStart(2, "0")
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

const shortNpub = (npub: string) => (npub.length > 20 ? `${npub.slice(0, 10)}…${npub.slice(-4)}` : npub)

// ---- provider --------------------------------------------------------------------------------

const stateLabels: Record<PanelState["provider"]["state"], string> = {
  offline: "Offline",
  "going-online": "Going online…",
  online: "Online",
  "going-offline": "Going offline…"
}
const stateIcons: Record<PanelState["provider"]["state"], string> = {
  offline: "debug-disconnect",
  "going-online": "sync",
  online: "broadcast",
  "going-offline": "sync"
}

const primaryLabel = (state: PanelState): string => {
  if (state.provider.state === "online") return "Go Offline"
  if (state.blocker?.step === "wallet") return "Set Up Wallet"
  if (state.blocker) return "Open Setup Guide"
  return "Go Online"
}

const renderProvider = (state: PanelState) => {
  const { provider } = state
  const badge = byId("provider-state")
  badge.dataset.state = provider.state
  setIcon(badge, stateIcons[provider.state])
  badge.querySelector(".codicon")?.classList.toggle("codicon-modifier-spin", provider.state.startsWith("going"))
  const text = badge.querySelector(".state-text")
  if (text) {
    text.textContent = provider.state === "online" && provider.activeJobs > 0
      ? `Online · ${provider.activeJobs} running`
      : stateLabels[provider.state]
  }

  if (requested !== undefined && (provider.state === "online") === requested) requested = undefined
  const busy = requested !== undefined || provider.state === "going-online" || provider.state === "going-offline"
  onlineButton.dataset.state = provider.state
  onlineButton.dataset.action = provider.state === "online" ? "offline" : state.blocker ? state.blocker.step : "online"
  onlineButton.disabled = busy
  onlineButton.setAttribute("aria-busy", String(busy))
  onlineButton.textContent = busy
    ? (requested ?? provider.state === "going-online") ? "Going online…" : "Going offline…"
    : primaryLabel(state)
  // Paid mode without a wallet: the other way forward is to try it free.
  freeModeButton.hidden = !(state.blocker?.step === "wallet" && provider.state === "offline")

  const error = byId("provider-error")
  // Why it could not go online, or what needs attention while online.
  error.hidden = !provider.error || (provider.state !== "offline" && provider.state !== "online")
  error.textContent = provider.error ?? ""
  const blocker = byId("blocker")
  blocker.hidden = !state.blocker || provider.state !== "offline" || !error.hidden
  byId("blocker-reason").textContent = state.blocker ? `${state.blocker.reason}.` : ""
}

const setCard = (id: string, ready: "true" | "false" | "unknown" | "not-needed", summary: string, detail: string) => {
  const card = byId(id)
  card.dataset.ready = ready
  setIcon(card.querySelector("h3"), ready === "true" ? "pass-filled" : ready === "false" ? "error" : ready === "not-needed" ? "circle-slash" : "circle-outline")
  const summaryElement = card.querySelector(".summary")
  const detailElement = card.querySelector(".detail")
  if (summaryElement) summaryElement.textContent = summary
  if (detailElement) detailElement.textContent = detail
}

const renderChecks = (state: PanelState) => {
  const { ollama, wallet } = state
  byId("ollama-title").textContent = ollama.name
  if (!ollama.checked) setCard("ollama-status", "unknown", state.checking ? "Checking…" : "Not checked yet", ollama.host)
  else if (ollama.reachable) {
    setCard(
      "ollama-status",
      ollama.models.length > 0 ? "true" : "false",
      `Ready${ollama.version ? ` · version ${ollama.version}` : ""}`,
      ollama.models.length > 0
        ? `Models: ${ollama.models.join(", ")}`
        : ollama.backend === "ollama" ? "No model installed: pull one with Ollama (the setup guide shows how)." : "The server lists no models."
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

const renderFacts = (state: PanelState) => {
  byId("model").textContent = state.model
  byId("payment-mode").textContent = state.paymentMode
  byId("prices").textContent = state.paymentMode === "free"
    ? "free (payment mode)"
    : `${plural(state.prices.pricePer1kTokens, "sat")} per 1,000 tokens, at least ${plural(state.prices.minPriceSats, "sat")}`
  const since = state.provider.state === "online" ? state.provider.onlineSince : undefined
  byId("online-for").textContent = since ? `Online for ${duration(Math.max(0, Date.now() - since))}` : "Offline"
}

const relayItem = (relay: PanelRelay) => {
  const item = el("li", undefined, "relay")
  item.dataset.url = relay.url
  item.dataset.status = relay.status
  item.append(
    icon(relay.status === "connected" ? "pass-filled" : relay.status === "connecting" ? "sync" : relay.status === "offline" ? "circle-outline" : "error", "relay-icon"),
    el("span", relay.url, "url"),
    el("span", relay.detail ?? relay.status, "relay-status")
  )
  if (relay.lastError && relay.status !== "connected") item.title = relay.lastError
  return item
}

const testButton = byId<Button>("test-provider")

/** The self-test's report: a line per relay with the step it is at, then passed (round trip) or the step that failed. */
const renderSelfTest = (state: PanelState) => {
  const test = state.selfTest
  testButton.disabled = test?.running === true
  if (!test) return
  const passed = test.relays.filter((r) => r.ok === true).length
  byId("self-test-summary").textContent = test.running
    ? `Testing through ${test.relays.length} relay${test.relays.length === 1 ? "" : "s"}…`
    : `${passed} of ${test.relays.length} relay${test.relays.length === 1 ? "" : "s"} passed${test.finishedAt ? ` (${dateTime(test.finishedAt)})` : ""}`
  byId("self-test-list").replaceChildren(...test.relays.map((line) => {
    const item = el("li", undefined, "relay")
    item.dataset.result = line.ok === undefined ? "pending" : line.ok ? "pass" : "fail"
    const name = line.ok === undefined ? (test.running ? "sync" : "circle-outline") : line.ok ? "pass-filled" : "error"
    item.append(icon(name, "relay-icon"), el("span", line.url, "url"), el("span", line.text, "relay-status"))
    return item
  }))
}

const render = (state: PanelState) => {
  current = state
  renderSelfTest(state)
  renderProvider(state)
  renderChecks(state)
  renderIdentity(state)
  renderFacts(state)
  byId("relay-list").replaceChildren(...state.relays.map(relayItem))
}

// ---- earnings and chart ----------------------------------------------------------------------

const successRate = (t: PeriodTotals) => {
  const ended = t.succeeded + t.failed
  return ended === 0 ? "–" : `${((t.succeeded / ended) * 100).toFixed(1)}%`
}

const metricText: Record<string, (t: PeriodTotals) => string> = {
  satsPaid: (t) => number(t.satsPaid),
  satsAwaiting: (t) => number(t.satsAwaiting),
  freeJobs: (t) => number(t.freeJobs),
  jobs: (t) => number(t.jobs),
  successRate
}

const renderOverview = (o: EarningsOverview) => {
  overview = o
  for (const row of byId("earnings-table").querySelectorAll<HTMLTableRowElement>("tbody tr")) {
    const text = metricText[row.dataset.metric ?? ""]
    for (const cell of row.querySelectorAll<HTMLTableCellElement>("td")) {
      const totals = o[cell.dataset.period as "today" | "last7Days" | "last30Days" | "allTime"]
      if (text && totals) cell.textContent = text(totals)
    }
  }
  byId("history-since").textContent = o.since ? `History since ${dateTime(o.since).slice(0, 10)}` : "No jobs yet"
  renderChart()
}

const pointLabel = (p: ChartPoint) => (chartRange === "days" ? dateTime(p.start).slice(0, 10) : dateTime(p.start).slice(11, 16))

const renderChart = () => {
  if (!overview) return
  const points = chartRange === "days" ? overview.perDay : overview.perHour
  const chart = byId("chart")
  chart.dataset.range = chartRange
  chart.dataset.points = String(points.length)
  const totalJobs = points.reduce((sum, p) => sum + p.jobs, 0)
  const totalSats = points.reduce((sum, p) => sum + p.satsPaid, 0)
  chart.setAttribute(
    "aria-label",
    `${chartRange === "days" ? "Last 30 days, per day" : "Today, per hour"}: ${plural(totalJobs, "job")}, ${plural(totalSats, "sat")} paid. The table below has each point.`
  )
  drawChart(chart, points, chartRange)
  byId("chart-data").querySelector("tbody")?.replaceChildren(...points.map((p) => {
    const row = el("tr")
    row.dataset.start = String(p.start)
    row.append(el("td", pointLabel(p)), el("td", number(p.jobs)), el("td", number(p.satsPaid)))
    return row
  }))
  for (const [id, range] of [["chart-days", "days"], ["chart-hours", "hours"]] as const) {
    const button = byId(id)
    button.setAttribute("aria-pressed", String(range === chartRange))
    button.toggleAttribute("secondary", range !== chartRange)
  }
}

// ---- history ---------------------------------------------------------------------------------

const statusIcons: Record<PanelJob["status"], string> = {
  success: "pass-filled",
  error: "error",
  processing: "sync",
  received: "circle-outline"
}
const statusWords: Record<PanelJob["status"], string> = { success: "Succeeded", error: "Failed", processing: "Processing", received: "Received" }
const paymentIcons: Record<NonNullable<PanelJob["payment"]>, string> = { paid: "check", unpaid: "clock", expired: "close", free: "gift" }
const paymentWords: Record<NonNullable<PanelJob["payment"]>, string> = { paid: "Paid", unpaid: "Awaiting", expired: "Expired", free: "Free" }

const withIcon = (name: string, text: string, className: string) => {
  const span = el("span", undefined, className)
  span.append(icon(name), el("span", text))
  return span
}

const jobRow = (job: PanelJob) => {
  const row = el("tr")
  row.dataset.jobId = job.id
  row.dataset.status = job.status
  row.dataset.receivedAt = String(job.receivedAt)

  const when = el("td")
  const open = el("button", dateTime(job.receivedAt), "link")
  open.type = "button"
  open.dataset.open = job.id
  open.setAttribute("aria-label", `Job ${job.id.slice(0, 8)}, received ${dateTime(job.receivedAt)}: show details`)
  when.append(open)

  const customer = el("td")
  customer.title = job.customerNpub
  const copy = el("button", shortNpub(job.customerNpub), "link")
  copy.type = "button"
  copy.dataset.copy = job.customerNpub
  copy.setAttribute("aria-label", `Copy customer ${shortNpub(job.customerNpub)}`)
  customer.append(copy)

  const prompt = job.encrypted
    ? withIcon("lock", "Encrypted", "prompt muted-italic")
    : el("span", job.promptPreview ?? "–", "prompt")
  const promptCell = el("td")
  promptCell.append(prompt)

  const status = el("td", undefined, "job-status")
  status.dataset.status = job.status
  status.append(withIcon(statusIcons[job.status], statusWords[job.status], "with-icon"))
  if (job.error) {
    // The reason is text in the row (focusable through the details button), not only a hover.
    status.append(el("span", job.error, "error-reason"))
    row.title = job.error
  }

  const payment = el("td", undefined, "payment")
  payment.dataset.payment = job.payment ?? "none"
  payment.append(job.payment ? withIcon(paymentIcons[job.payment], paymentWords[job.payment], "with-icon") : el("span", "–"))

  // What a seller looks for first comes first: a narrow view scrolls the rest into reach.
  row.append(
    when,
    customer,
    status,
    payment,
    el("td", job.priceSats !== undefined ? plural(job.priceSats, "sat") : "–", "num"),
    el("td", job.model ?? "–"),
    el("td", job.tokens !== undefined ? number(job.tokens) : "–", "num"),
    el("td", job.durationMs !== undefined ? duration(job.durationMs) : "–", "num"),
    el("td", String(job.kind)),
    promptCell
  )
  return row
}

const renderPage = (p: PanelPage) => {
  page = p
  // Redrawn while a person is on a row (new jobs came in): the focus stays on that job's button.
  const focused = document.activeElement instanceof HTMLElement && document.activeElement.closest("#job-list")
    ? { job: document.activeElement.closest("tr")?.dataset.jobId, open: document.activeElement.dataset.open !== undefined }
    : undefined
  byId("job-list").querySelector("tbody")?.replaceChildren(...p.rows.map(jobRow))
  if (focused?.job) {
    const row = [...byId("job-list").querySelectorAll("tbody tr")].find((r) => (r as HTMLElement).dataset.jobId === focused.job)
    row?.querySelector<HTMLElement>(focused.open ? "button[data-open]" : "button[data-copy]")?.focus()
  }
  byId("no-jobs").hidden = p.total > 0
  const filtered = Object.values(p.filter).some((v) => v !== undefined && v !== "")
  byId("page-summary").textContent = p.total === 0
    ? filtered ? "No job matches these filters." : "No jobs yet."
    : `${number(p.offset + 1)}–${number(p.offset + p.rows.length)} of ${plural(p.total, filtered ? "matching job" : "job")}`
  byId<Button>("page-prev").disabled = p.offset === 0
  byId<Button>("page-next").disabled = p.offset + p.rows.length >= p.total
  const select = byId<HTMLSelectElement>("filter-model")
  const chosen = p.filter.model ?? ""
  const models = [...new Set([...p.models, ...(chosen ? [chosen] : [])])]
  select.replaceChildren(...["", ...models].map((m) => {
    const option = el("option", m || "All")
    option.value = m
    return option
  }))
  select.value = chosen
}

const ask = (next: PanelQuery) => {
  query = next
  vscode.setState({ ...vscode.getState(), query })
  vscode.postMessage({ type: "query", query })
}

const filterFromForm = (): HistoryFilter => {
  const value = (id: string) => byId<HTMLInputElement | HTMLSelectElement>(id).value.trim()
  const filter: Record<string, string> = {}
  for (const [key, id] of [["status", "filter-status"], ["payment", "filter-payment"], ["model", "filter-model"], ["customer", "filter-customer"], ["id", "filter-id"]]) {
    const v = value(id!)
    if (v) filter[key!] = v.slice(0, 200)
  }
  return filter as HistoryFilter
}

const formFromFilter = (filter: HistoryFilter) => {
  byId<HTMLSelectElement>("filter-status").value = filter.status ?? ""
  byId<HTMLSelectElement>("filter-payment").value = filter.payment ?? ""
  byId<HTMLInputElement>("filter-customer").value = filter.customer ?? ""
  byId<HTMLInputElement>("filter-id").value = filter.id ?? ""
}

// ---- one job ---------------------------------------------------------------------------------

const renderJob = (id: string, job: PanelJobDetail | undefined) => {
  const section = byId("job-detail")
  section.hidden = false
  section.dataset.jobId = id
  byId("job-detail-title").textContent = job ? `Job ${id.slice(0, 12)}…` : "Job not found"
  const fields = byId("job-detail-fields")
  const rows: Array<HTMLElement> = []
  const add = (term: string, value: string | HTMLElement, key: string) => {
    const dt = el("dt", term)
    const dd = el("dd")
    dd.dataset.field = key
    if (typeof value === "string") dd.textContent = value
    else dd.append(value)
    rows.push(dt, dd)
  }
  const copyable = (text: string, label: string) => {
    const wrap = el("span", undefined, "copyable")
    const code = el("code", text)
    const button = el("button", undefined, "icon-link")
    button.type = "button"
    button.dataset.copy = text
    button.setAttribute("aria-label", `Copy ${label}`)
    button.title = `Copy ${label}`
    button.append(icon("copy"))
    wrap.append(code, button)
    return wrap
  }
  if (job) {
    add("Request", copyable(job.requestNevent, "the request's nevent"), "request")
    if (job.resultNevent) add("Result", copyable(job.resultNevent, "the result's nevent"), "result")
    add("Customer", copyable(job.customerNpub, "the customer's npub"), "customer")
    add("Kind", String(job.kind), "kind")
    add("Model", job.model ?? "–", "model")
    add("Prompt", job.encrypted ? "Encrypted (only the customer and this provider can read it)" : job.promptPreview ?? "–", "prompt")
    add("Tokens", job.tokens !== undefined ? number(job.tokens) : "–", "tokens")
    add("Price", job.priceSats !== undefined ? plural(job.priceSats, "sat") : "–", "price")
    add("Payment", job.payment ? paymentWords[job.payment] : "–", "payment")
    if (job.bolt11) add("Invoice", el("code", job.bolt11, "invoice"), "invoice")
    if (job.invoiceExpiresAt) add("Invoice expires", dateTime(job.invoiceExpiresAt * (job.invoiceExpiresAt < 1e12 ? 1000 : 1)), "invoiceExpires")
    if (job.error) add("Error", job.error, "error")
  }
  fields.replaceChildren(...rows)
  const steps: Array<[string, string, number | undefined]> = job
    ? [
      ["received", "Received", job.timeline.received],
      ["processing", "Processing", job.timeline.processing],
      ["result", job.status === "error" ? "Failed" : "Result", job.timeline.result],
      ["paid", "Paid", job.timeline.paid]
    ]
    : []
  byId("job-timeline").replaceChildren(...steps.map(([key, label, at]) => {
    const item = el("li")
    item.dataset.step = key
    item.dataset.done = String(at !== undefined)
    item.append(icon(at !== undefined ? "pass-filled" : "circle-outline"), el("span", `${label}: ${at !== undefined ? dateTime(at) : "not yet"}`))
    return item
  }))
  byId("job-detail-close").focus()
}

// ---- wiring ----------------------------------------------------------------------------------

window.addEventListener("message", (event: MessageEvent<HostMessage>) => {
  const message = event.data
  switch (message?.type) {
    case "setOnlineDone":
      requested = undefined
      if (current) render(current)
      return
    case "state":
      render(message.state)
      vscode.setState({ ...vscode.getState(), state: message.state })
      return
    case "overview": {
      const problem = byId("history-problem")
      problem.hidden = !message.problem
      problem.textContent = message.problem ?? ""
      if (message.overview) renderOverview(message.overview)
      return
    }
    case "page":
      renderPage(message.page)
      return
    case "job":
      renderJob(message.id, message.job)
      return
  }
})

onlineButton.addEventListener("click", () => {
  if (!current || onlineButton.disabled) return
  const action = onlineButton.dataset.action
  if (action === "wallet") return vscode.postMessage({ type: "setUpWallet" })
  if (action === "ollama") return vscode.postMessage({ type: "openWalkthrough", step: "ollama" })
  requested = current.provider.state !== "online"
  render(current)
  vscode.postMessage({ type: "setOnline", online: requested })
})
freeModeButton.addEventListener("click", () => vscode.postMessage({ type: "useFreeMode" }))
copyButton.addEventListener("click", () => vscode.postMessage({ type: "copyNpub" }))
refreshButton.addEventListener("click", () => vscode.postMessage({ type: "refresh" }))
byId("set-up-wallet").addEventListener("click", () => vscode.postMessage({ type: "setUpWallet" }))
testButton.addEventListener("click", () => vscode.postMessage({ type: "testProvider" }))
byId("settings-button").addEventListener("click", () => vscode.postMessage({ type: "openSettings" }))
byId("guide-button").addEventListener("click", () => vscode.postMessage({ type: "openWalkthrough", step: current?.blocker?.step ?? "ollama" }))
byId("chart-days").addEventListener("click", () => {
  chartRange = "days"
  renderChart()
})
byId("chart-hours").addEventListener("click", () => {
  chartRange = "hours"
  renderChart()
})
byId("export-csv").addEventListener("click", () => vscode.postMessage({ type: "exportCsv", filter: query.filter }))
byId("page-prev").addEventListener("click", () => ask({ ...query, offset: Math.max(0, query.offset - query.limit) }))
byId("page-next").addEventListener("click", () => {
  if (page && query.offset + query.limit < page.total) ask({ ...query, offset: query.offset + query.limit })
})
byId("job-detail-close").addEventListener("click", () => {
  const section = byId("job-detail")
  section.hidden = true
  const id = section.dataset.jobId
  const row = id ? [...document.querySelectorAll<HTMLButtonElement>("#job-list button[data-open]")].find((b) => b.dataset.open === id) : undefined
  row?.focus()
})

const filters = byId<HTMLFormElement>("filters")
let typing: ReturnType<typeof setTimeout> | undefined
const applyFilters = () => ask({ filter: filterFromForm(), offset: 0, limit: PAGE_SIZE })
filters.addEventListener("change", applyFilters)
filters.addEventListener("input", (event) => {
  if (!(event.target instanceof HTMLInputElement)) return
  if (typing) clearTimeout(typing)
  typing = setTimeout(applyFilters, 300)
})
filters.addEventListener("submit", (event) => {
  event.preventDefault()
  applyFilters()
})

document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target.closest<HTMLElement>("[data-copy], [data-open]") : null
  if (!target) return
  if (target.dataset.copy) vscode.postMessage({ type: "copyText", text: target.dataset.copy })
  else if (target.dataset.open) vscode.postMessage({ type: "jobDetail", id: target.dataset.open })
})

// A theme change redraws the chart in the new theme's colours.
new MutationObserver(() => renderChart()).observe(document.body, { attributes: true, attributeFilter: ["class"] })
// Time online moves on while nothing else changes.
setInterval(() => current && renderFacts(current), 30_000)

// Shown again: draw what we had at once; the host's answer to `ready` brings it up to date.
const saved = vscode.getState()
if (saved?.state) render(saved.state)
formFromFilter(query.filter)
vscode.postMessage({ type: "ready" })
// The page shown before (its filters and offset), or the first.
vscode.postMessage({ type: "query", query })
