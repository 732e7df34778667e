// How the provider reads in the status bar and the panel.
import assert from "node:assert/strict"
import { generateSecretKey, getPublicKey } from "nostr-tools/pure"
import { decode, npubEncode } from "nostr-tools/nip19"
import { defaultConfig } from "../../src/dvm/config"
import type { JobRecord } from "../../src/dvm/services/JobStore"
import { relaySummary, unreachableReason } from "../../src/dvm/services/Kind5050DVM"
import type { RelayState } from "../../src/dvm/services/Nostr"
import {
  blockerOf,
  clickAction,
  escapeMarkdown,
  panelJob,
  panelJobDetail,
  panelState,
  statusBarAccessibilityLabel,
  statusBarText,
  statusBarTooltip,
  tooltipCommands
} from "../../src/views/present"
import { initialSnapshot, type ProviderSnapshot, relayView } from "../../src/views/ProviderModel"

const snapshot = (patch: Partial<ProviderSnapshot> = {}): ProviderSnapshot => ({ ...initialSnapshot, ...patch })
const relays = ["wss://a.example", "wss://b.example", "wss://c.example"]
const free = snapshot({ config: { ...defaultConfig, "payment.mode": "free" } })
const online = snapshot({
  status: { state: "online", activeJobs: 0, onlineSince: 1 },
  config: { ...defaultConfig, relays, "textGeneration.model": "llama3.2" },
  relays: [
    { url: "wss://a.example", status: "connected" },
    { url: "wss://b.example", status: "connected" },
    { url: "wss://c.example", status: "disconnected", lastError: "connection refused" }
  ],
  earnings: { jobsToday: 4, satsEarnedToday: 12, satsEarnedTotal: 40 }
})

describe("status bar", () => {
  it("says Offline, Going Online, Online and Going Offline with matching icons", () => {
    assert.equal(statusBarText(snapshot()), "$(debug-disconnect) Sell Compute: Offline")
    assert.equal(statusBarText(snapshot({ status: { state: "going-online", activeJobs: 0 } })), "$(sync~spin) Sell Compute: Going Online")
    assert.equal(statusBarText(online), "$(broadcast) Sell Compute: Online · 12 sats")
    assert.equal(statusBarText(snapshot({ status: { state: "going-offline", activeJobs: 0 } })), "$(sync~spin) Sell Compute: Going Offline")
  })

  it("shows a warning when the last attempt to go online failed", () => {
    const failed = snapshot({ status: { state: "offline", activeJobs: 0, error: "Cannot go online: Ollama is not reachable" } })
    assert.equal(statusBarText(failed), "$(warning) Sell Compute: Offline")
    assert.match(statusBarTooltip(failed), /Ollama is not reachable/)
  })

  it("warns while online when no relay reaches customers, or the provider reports a problem, and says what", () => {
    const down = relays.map((url): RelayState => ({ url, status: "disconnected", lastError: "connect ECONNREFUSED" }))
    const cutOff = snapshot({ ...online, status: { ...online.status, unreachable: unreachableReason(down) }, relays: down })
    assert.equal(statusBarText(cutOff), "$(warning) Sell Compute: Online · 12 sats")
    assert.match(statusBarTooltip(cutOff), /Online, needs attention[\s\S]*no relay is connected \\\(wss:\/\/a\\\.example: connect ECONNREFUSED;[\s\S]*so no customer can reach this provider/)
    assert.match(panelState(cutOff).provider.error ?? "", /^no relay is connected \(wss:\/\/a\.example: connect ECONNREFUSED; .*\), so no customer can reach this provider$/)
    assert.match(statusBarAccessibilityLabel(cutOff), /^Sell Compute: Online, needs attention, 0 of 3 relays connected\./)
    const stillConnecting = snapshot({ ...online, relays: relays.map((url) => ({ url, status: "connecting" as const })) })
    assert.equal(statusBarText(stillConnecting), "$(broadcast) Sell Compute: Online · 12 sats", "no alarm while relays are still connecting")
    const walletDown = snapshot({ ...online, status: { ...online.status, error: "the wallet is not ready (down); paid jobs fail until it is" } })
    assert.equal(statusBarText(walletDown), "$(warning) Sell Compute: Online · 12 sats")
    assert.match(statusBarTooltip(walletDown), /the wallet is not ready \\\(down\\\); paid jobs fail until it is/)
    const historyDown = snapshot({ ...online, historyProblem: "The job history /d/jobs.jsonl cannot be written (ENOSPC): 3 change(s) are kept in memory and retried" })
    assert.equal(statusBarText(historyDown), "$(warning) Sell Compute: Online · 12 sats")
    assert.match(statusBarTooltip(historyDown), /cannot be written \\\(ENOSPC\\\)/)
  })

  it("tooltip gives relays connected x/y, the model, and today's jobs and sats", () => {
    const tooltip = statusBarTooltip(online)
    assert.match(tooltip, /Relays: 2\/3 connected/)
    assert.match(tooltip, /Model: llama3\\\.2/)
    assert.match(tooltip, /Today: 4 jobs served, 12 sats earned/)
  })

  it("names the first installed model when none is set", () => {
    const s = snapshot({ ollama: { backend: "ollama", reachable: true, host: "h", models: ["qwen3:0.6b"] } })
    assert.match(statusBarTooltip(s), /Model: qwen3:0\\\.6b \\\(first installed\\\)/)
  })

  it("has an accessible label with the state, relays and what a click does", () => {
    assert.equal(
      statusBarAccessibilityLabel(online),
      "Sell Compute: Online, 2 of 3 relays connected. 4 jobs and 12 sats today. Activate to go offline."
    )
    assert.match(statusBarAccessibilityLabel(free), /Offline\. 0 jobs and 0 sats today\. Activate to go online on the configured relays\./)
  })

  it("tooltip says what a click does: go online, go offline (asking when jobs run), or open the guide at the blocker", () => {
    assert.match(statusBarTooltip(free), /Click to go online on the configured relays\./)
    assert.match(statusBarTooltip(online), /Click to go offline\./)
    const busy = snapshot({ ...online, status: { ...online.status, activeJobs: 2 } })
    assert.equal(clickAction(busy), "go offline (asks first: 2 jobs running)")
    const noWallet = snapshot({ walletSecret: false })
    assert.match(statusBarTooltip(noWallet), /Click to open the setup guide \\\(paid mode needs a wallet, and none is set up\\\)\./)
    assert.match(statusBarAccessibilityLabel(noWallet), /Activate to open the setup guide \(paid mode needs a wallet/)
  })

  it("tooltip links to the dashboard, copying the npub, the log, the self-test and the setup guide, and trusts only those commands", () => {
    const tooltip = statusBarTooltip(online)
    const linked = [...tooltip.matchAll(/\]\(command:([\w.]+)/g)].map((m) => m[1])
    assert.deepEqual(linked, ["sellCompute.openPanel", "sellCompute.copyPublicKey", "sellCompute.showLog", "sellCompute.testProvider", "sellCompute.openWalkthrough"])
    assert.deepEqual(tooltipCommands, linked)
  })

  it("escapes markdown in text that comes from elsewhere", () => {
    assert.equal(escapeMarkdown("[x](command:evil)"), "\\[x\\]\\(command:evil\\)")
  })
})

describe("reachable: a relay connected with our subscription open", () => {
  const relay = (patch: Partial<RelayState>): RelayState => ({ url: "wss://a.example", status: "connected", subscribed: true, ...patch })

  it("is reachable with one relay connected and subscribed, whatever the others", () => {
    assert.equal(unreachableReason([relay({}), relay({ url: "ws://127.0.0.1:1", status: "disconnected", lastError: "connect ECONNREFUSED 127.0.0.1:1" })]), undefined)
  })

  it("gives no verdict while a relay is on its first attempt, and one once it failed", () => {
    const dead = relay({ url: "ws://127.0.0.1:1", status: "disconnected", subscribed: false, lastError: "connect ECONNREFUSED 127.0.0.1:1" })
    assert.equal(unreachableReason([dead, relay({ url: "wss://b.example", status: "connecting", subscribed: false })]), undefined)
    assert.equal(
      unreachableReason([dead]),
      "no relay is connected (ws://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1), so no customer can reach this provider"
    )
    // Retrying after a failure is no first attempt: the warning holds between attempts.
    assert.match(unreachableReason([{ ...dead, status: "connecting" }]) ?? "", /^no relay is connected/)
  })

  it("is not reachable through a relay that is connected but closed our subscription", () => {
    assert.equal(
      unreachableReason([relay({ subscribed: false })]),
      "no relay has our subscription open (wss://a.example: subscription not open), so no request reaches this provider"
    )
    assert.equal(unreachableReason([]), "no relay is configured, so no customer can reach this provider")
  })

  it("says per relay: connected or failed, subscribed, whether it took our announcement, its last error", () => {
    assert.equal(relaySummary(relay({ announced: true })), "connected, subscribed, announcement accepted")
    assert.equal(relaySummary(relay({ subscribed: false })), "connected, not subscribed")
    assert.equal(
      relaySummary(relay({ announced: false, lastError: "announcement not accepted: blocked: kind" })),
      "connected, subscribed, announcement not accepted (last error: announcement not accepted: blocked: kind)"
    )
    assert.equal(relaySummary(relay({ status: "connecting", subscribed: false })), "connecting")
    assert.equal(
      relaySummary(relay({ status: "connecting", subscribed: false, announced: false, lastError: "connect ECONNREFUSED" })),
      "failed, retrying, announcement not accepted (last error: connect ECONNREFUSED)"
    )
    assert.equal(relaySummary(relay({ status: "disconnected", lastError: "connection lost" })), "failed (last error: connection lost)")
  })

  it("reaches the panel's relay list", () => {
    const state = panelState(snapshot({
      ...online,
      relays: [relay({ announced: true }), relay({ url: "wss://b.example", status: "disconnected", subscribed: false, announced: false, lastError: "timed out" })]
    }))
    assert.deepEqual(state.relays.slice(0, 2), [
      { url: "wss://a.example", status: "connected", detail: "connected, subscribed, announcement accepted", subscribed: true, announced: true },
      {
        url: "wss://b.example",
        status: "disconnected",
        detail: "failed, announcement not accepted (last error: timed out)",
        subscribed: false,
        announced: false,
        lastError: "timed out"
      }
    ])
    assert.equal(state.relays[2]?.status, "offline", "a configured relay not yet in the list")
  })
})

describe("relayView", () => {
  it("lists configured relays as offline while not connecting, and their live state when online", () => {
    assert.deepEqual(relayView(snapshot({ config: { ...defaultConfig, relays } })).map((r) => r.status), ["offline", "offline", "offline"])
    assert.deepEqual(relayView(online).map((r) => r.status), ["connected", "connected", "disconnected"])
  })
})

describe("panelState", () => {
  const customer = getPublicKey(generateSecretKey())
  const job: JobRecord = {
    id: "e".repeat(64),
    customer,
    kind: 5050,
    requestedAt: 1,
    receivedAt: 1_700_000_000_000,
    updatedAt: 1_700_000_001_000,
    status: "success",
    model: "llama3.2",
    promptTokens: 10,
    completionTokens: 32,
    priceSats: 3,
    payment: "unpaid",
    bolt11: "lnbc1…"
  }

  it("lists a job with customer npub, tokens, duration, price and payment, and no invoice", () => {
    assert.deepEqual(panelJob({ ...job, promptPreview: "Hello" }), {
      id: job.id,
      receivedAt: job.receivedAt,
      customerNpub: npubEncode(customer),
      kind: 5050,
      status: "success",
      model: "llama3.2",
      promptPreview: "Hello",
      tokens: 42,
      durationMs: 1000,
      priceSats: 3,
      payment: "unpaid"
    })
  })

  it("says an encrypted job is encrypted and shows no preview of it", () => {
    const row = panelJob({ ...job, encrypted: true, promptPreview: "never shown" })
    assert.equal(row.encrypted, true)
    assert.equal(row.promptPreview, undefined)
  })

  it("gives a job in full: nevents that decode to its ids, the invoice and the timeline", () => {
    const provider = getPublicKey(generateSecretKey())
    const detail = panelJobDetail({ ...job, startedAt: 1_700_000_000_200, finishedAt: 1_700_000_000_900, paidAt: 1_700_000_005_000, resultId: "f".repeat(64) }, provider)
    const request = decode(detail.requestNevent)
    assert.equal(request.type, "nevent")
    assert.deepEqual(request.data, { id: job.id, author: customer, relays: [], kind: undefined })
    const result = decode(detail.resultNevent ?? "")
    assert.deepEqual(result.data, { id: "f".repeat(64), author: provider, relays: [], kind: undefined })
    assert.equal(detail.bolt11, "lnbc1…")
    assert.deepEqual(detail.timeline, { received: 1_700_000_000_000, processing: 1_700_000_000_200, result: 1_700_000_000_900, paid: 1_700_000_005_000 })
    assert.equal(detail.durationMs, 900)
  })

  it("names what blocks going online: Ollama, a model, or a wallet in paid mode", () => {
    assert.equal(blockerOf(free), undefined)
    assert.deepEqual(blockerOf(snapshot({ walletSecret: false })), { step: "wallet", reason: "Paid mode needs a wallet, and none is set up" })
    assert.equal(blockerOf(snapshot({ walletSecret: true })), undefined, "a wallet set up and not yet checked")
    assert.equal(blockerOf(snapshot({ walletSecret: true, wallet: { backend: "spark", ready: false, error: "down" } }))?.reason, "The wallet is not ready: down")
    assert.equal(blockerOf(snapshot({ ...free, ollama: { backend: "ollama", reachable: false, host: "http://h:1", models: [] } }))?.reason, "Ollama is not reachable at http://h:1")
    assert.deepEqual(blockerOf(snapshot({ ...free, ollama: { backend: "ollama", reachable: true, host: "h", models: [] } })), { step: "ollama", reason: "Ollama has no model installed" })
    // The panel's primary action follows it, only while offline.
    assert.equal(panelState(snapshot({ walletSecret: false })).blocker?.step, "wallet")
    assert.equal(panelState(snapshot({ ...online, walletSecret: false })).blocker, undefined)
  })

  it("marks Ollama and the wallet unchecked until checked, and the wallet not needed in free mode", () => {
    const state = panelState(snapshot())
    assert.equal(state.ollama.checked, false)
    assert.equal(state.wallet.checked, false)
    assert.equal(state.wallet.needed, true)
    const free = panelState(snapshot({ config: { ...defaultConfig, "payment.mode": "free" } }))
    assert.equal(free.wallet.needed, false)
  })

  it("names the server the settings select, and its address before the first check", () => {
    const ollama = panelState(snapshot())
    assert.equal(ollama.ollama.name, "Ollama")
    assert.equal(ollama.ollama.host, defaultConfig["ollama.host"])
    const config = { ...defaultConfig, "inference.backend": "openai" as const, "openai.baseUrl": "http://10.0.0.5:8000/v1" }
    const openai = panelState(snapshot({ config }))
    assert.deepEqual(openai.ollama, { checked: false, name: "OpenAI-compatible server", backend: "openai", host: "http://10.0.0.5:8000/v1", models: [] })
    const checked = panelState(snapshot({ config, ollama: { backend: "openai", reachable: true, host: "http://10.0.0.5:8000/v1", models: ["qwen"] } }))
    assert.equal(checked.ollama.name, "OpenAI-compatible server")
  })

  it("carries check results", () => {
    const state = panelState(snapshot({
      ollama: { backend: "ollama", reachable: true, host: "http://127.0.0.1:11434", version: "0.6.4", models: ["llama3.2:latest"] },
      wallet: { backend: "spark", ready: true, balanceSats: 1234, address: "sp1example" },
      npub: "npub1xyz"
    }))
    assert.deepEqual(state.ollama, { checked: true, name: "Ollama", backend: "ollama", host: "http://127.0.0.1:11434", reachable: true, version: "0.6.4", models: ["llama3.2:latest"] })
    assert.deepEqual(state.wallet, { checked: true, needed: true, backend: "spark", ready: true, balanceSats: 1234, address: "sp1example" })
    assert.deepEqual(state.identity, { npub: "npub1xyz" })
  })
})
