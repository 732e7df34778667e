/**
 * The Sell Compute dashboard (a webview): earnings over time and a chart, the whole job history
 * paged and filtered, one job in full, and the provider's checks (the model server, wallet, identity,
 * relays) with the online button. One panel at a time; it is restored after a reload by its
 * serializer. The page is rebuilt when shown again (no retainContextWhenHidden): its script posts
 * `ready` and gets the full state back. The history is read through the History service, a page
 * at a time; what the webview asks is validated (isWebviewMessage) before anything is done.
 */
import { randomBytes } from "node:crypto"
import { decode } from "nostr-tools/nip19"
import * as vscode from "vscode"
import { type HostMessage, isWebviewMessage, type PanelQuery, type WebviewMessage } from "./messages"
import { panelJob, panelJobDetail, panelState } from "./present"
import type { ProviderActions } from "./ProviderActions"
import { panelHtml } from "./panelHtml"
import type { ProviderModel, ProviderSnapshot } from "./ProviderModel"

export const PANEL_VIEW_TYPE = "sellCompute.panel"

/** What the shown checks depend on: the settings they read, and the wallet's balance (earnings). */
const checkInputs = ({ config, earnings }: ProviderSnapshot) =>
  JSON.stringify([config["inference.backend"], config["ollama.host"], config["openai.baseUrl"], config["payment.mode"], config["wallet.backend"], config["spark.network"], earnings.satsEarnedTotal])
/** A panel shown again after this long asks for fresh checks. */
const STALE_CHECK_MS = 60_000
/** State changes within this window reach the webview as one message. */
const POST_COALESCE_MS = 50
/** New jobs redraw the earnings and the page shown at most this often. */
const HISTORY_COALESCE_MS = 1000
const providerPubkey = (npub: string | undefined): string | undefined => {
  try {
    const decoded = npub ? decode(npub) : undefined
    return decoded?.type === "npub" ? decoded.data : undefined
  } catch {
    return undefined
  }
}
const FIRST_PAGE: PanelQuery = { filter: {}, offset: 0, limit: 50 }

interface PanelDependencies {
  readonly extensionUri: vscode.Uri
  readonly model: ProviderModel
  readonly actions: ProviderActions
}

export class SellComputePanels implements vscode.Disposable, vscode.WebviewPanelSerializer {
  #current: SellComputePanel | undefined
  readonly #deps: PanelDependencies

  constructor(deps: PanelDependencies) {
    this.#deps = deps
  }

  show(): void {
    if (this.#current) {
      this.#current.reveal()
      return
    }
    const panel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, "Sell Compute", vscode.ViewColumn.Active, webviewOptions(this.#deps.extensionUri))
    this.#adopt(panel)
  }

  async deserializeWebviewPanel(panel: vscode.WebviewPanel): Promise<void> {
    this.#current?.dispose()
    this.#adopt(panel)
  }

  #adopt(panel: vscode.WebviewPanel): void {
    const media = (file: string) => vscode.Uri.joinPath(this.#deps.extensionUri, "media", file)
    panel.iconPath = { light: media("sell-compute-light.svg"), dark: media("sell-compute-dark.svg") }
    const adopted = new SellComputePanel(panel, this.#deps, () => {
      if (this.#current === adopted) this.#current = undefined
    })
    this.#current = adopted
  }

  dispose(): void {
    this.#current?.dispose()
    this.#current = undefined
  }
}

const webviewOptions = (extensionUri: vscode.Uri): vscode.WebviewOptions & vscode.WebviewPanelOptions => ({
  enableScripts: true,
  localResourceRoots: [vscode.Uri.joinPath(extensionUri, "media")]
})

class SellComputePanel {
  readonly #panel: vscode.WebviewPanel
  readonly #deps: PanelDependencies
  readonly #disposables: Array<{ dispose(): void }> = []
  #ready = false
  #pending: ReturnType<typeof setTimeout> | undefined
  #historyPending: ReturnType<typeof setTimeout> | undefined
  /** The page of the history shown, asked for again when jobs change. */
  #query: PanelQuery = FIRST_PAGE
  #lastJobs: unknown
  /** The page last posted, as sent; reset when the page is rebuilt. */
  #lastPage: string | undefined
  /** From the panel's creation until its first earnings and page were posted (logged once, for the bench). */
  readonly #openedAt = performance.now()
  #openLogged = false
  /** When what the shown checks depend on changes, their answers are stale. */
  #checkedWith: string

  constructor(panel: vscode.WebviewPanel, deps: PanelDependencies, onDisposed: () => void) {
    this.#panel = panel
    this.#deps = deps
    this.#checkedWith = checkInputs(deps.model.snapshot)
    panel.webview.options = webviewOptions(deps.extensionUri)
    panel.webview.html = this.#html()
    this.#disposables.push(
      panel.webview.onDidReceiveMessage((message: unknown) => {
        if (isWebviewMessage(message)) void this.#receive(message)
      }),
      panel.onDidChangeViewState(() => {
        // Hidden, the page is torn down; shown again, it posts `ready` anew.
        if (!panel.visible) {
          this.#ready = false
          this.#lastPage = undefined
        }
      }),
      deps.model.onDidChange((snapshot) => {
        this.#schedulePost()
        this.#recheckWhenStale(snapshot)
        // The recent jobs are re-read after every change of the store: the history moved.
        if (snapshot.recentJobs !== this.#lastJobs) {
          this.#lastJobs = snapshot.recentJobs
          this.#scheduleHistory()
        }
      }),
      panel.onDidDispose(() => {
        this.#release()
        onDisposed()
      })
    )
  }

  #recheckWhenStale(snapshot: ProviderSnapshot): void {
    const inputs = checkInputs(snapshot)
    if (inputs === this.#checkedWith) return
    this.#checkedWith = inputs
    if (this.#ready) void this.#deps.actions.refresh()
  }

  reveal(): void {
    this.#panel.reveal()
  }

  dispose(): void {
    this.#panel.dispose() // fires onDidDispose, which releases the rest
  }

  #release(): void {
    if (this.#pending) clearTimeout(this.#pending)
    if (this.#historyPending) clearTimeout(this.#historyPending)
    for (const d of this.#disposables.splice(0)) d.dispose()
  }

  async #receive(message: WebviewMessage): Promise<void> {
    const { actions, model } = this.#deps
    switch (message.type) {
      case "ready": {
        this.#ready = true
        this.#lastPage = undefined
        this.#post()
        void this.#postHistory()
        const checkedAt = model.snapshot.checkedAt
        if (checkedAt === undefined || Date.now() - checkedAt > STALE_CHECK_MS) await actions.refresh()
        return
      }
      case "setOnline":
        await actions.setOnline(message.online).finally(() => {
          this.#post() // the outcome first, then the end of the wait
          this.#send({ type: "setOnlineDone" })
        })
        return
      case "refresh":
        return actions.refresh()
      case "copyNpub":
        return actions.copyPublicKey()
      case "openSettings":
        return actions.openSettings()
      case "showLog":
        return actions.showLog()
      case "setUpWallet":
        return actions.setUpWallet()
      case "useFreeMode":
        return actions.useFreeMode()
      case "testProvider":
        return void (await actions.testProvider())
      case "openWalkthrough":
        return actions.openWalkthrough(message.step)
      case "query":
        this.#query = message.query
        this.#lastPage = undefined // asked for: always answered
        return this.#postPage()
      case "jobDetail":
        return this.#postJob(message.id)
      case "exportCsv":
        return actions.exportCsv(message.filter)
      case "copyText":
        return actions.copyText(message.text)
    }
  }

  #scheduleHistory(): void {
    if (!this.#ready || this.#historyPending) return
    this.#historyPending = setTimeout(() => {
      this.#historyPending = undefined
      void this.#postHistory()
    }, HISTORY_COALESCE_MS)
  }

  async #postHistory(): Promise<void> {
    await Promise.all([this.#postOverview(), this.#postPage()])
    if (this.#openLogged) return
    this.#openLogged = true
    const { heapUsed, rss } = process.memoryUsage()
    const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`
    this.#deps.actions.logInfo(
      `Dashboard opened in ${(performance.now() - this.#openedAt).toFixed(0)} ms (earnings and first page posted); extension host heap ${mib(heapUsed)}, RSS ${mib(rss)}`
    )
  }

  async #postOverview(): Promise<void> {
    try {
      this.#send({ type: "overview", overview: await this.#deps.actions.history((history) => history.overview) })
    } catch (e) {
      this.#send({ type: "overview", problem: `The job history cannot be read: ${e instanceof Error ? e.message : String(e)}` })
    }
  }

  async #postPage(): Promise<void> {
    const query = this.#query
    const page = await this.#deps.actions.history((history) => history.page(query.filter, query.offset, query.limit)).catch(() => undefined)
    // A page that cannot be read leaves the one shown (the overview says why).
    if (!page || query !== this.#query) return // a newer query is on its way
    const message: HostMessage = {
      type: "page",
      page: { filter: query.filter, offset: page.offset, limit: page.limit, total: page.total, models: page.models, rows: page.rows.map(panelJob) }
    }
    // Unchanged (the history moved elsewhere): not redrawn under the person's eyes.
    const text = JSON.stringify(message)
    if (text === this.#lastPage) return
    this.#lastPage = text
    this.#send(message)
  }

  async #postJob(id: string): Promise<void> {
    const job = await this.#deps.actions.history((history) => history.job(id)).catch(() => undefined)
    const provider = providerPubkey(this.#deps.model.snapshot.npub)
    this.#send({ type: "job", id, ...(job ? { job: panelJobDetail(job, provider) } : {}) })
  }

  #schedulePost(): void {
    if (!this.#ready || this.#pending) return
    this.#pending = setTimeout(() => {
      this.#pending = undefined
      this.#post()
    }, POST_COALESCE_MS)
  }

  #post(): void {
    if (this.#pending) clearTimeout(this.#pending)
    this.#pending = undefined
    this.#send({ type: "state", state: panelState(this.#deps.model.snapshot) })
  }

  #send(message: HostMessage): void {
    if (this.#ready) void this.#panel.webview.postMessage(message)
  }

  #html(): string {
    const webview = this.#panel.webview
    return panelHtml({
      cspSource: webview.cspSource,
      media: (file) => webview.asWebviewUri(vscode.Uri.joinPath(this.#deps.extensionUri, "media", file)).toString(),
      nonce: randomBytes(18).toString("base64url")
    })
  }
}
