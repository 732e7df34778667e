/**
 * The Sell Compute panel (a webview): the model server (Ollama or OpenAI-compatible), wallet, identity, relays, the online button and the
 * jobs as they come in. One panel at a time; it is restored after a reload by its serializer. The
 * page is rebuilt when shown again (no retainContextWhenHidden): its script posts `ready` and gets
 * the full state back.
 */
import { randomBytes } from "node:crypto"
import * as vscode from "vscode"
import { type HostMessage, isWebviewMessage, type WebviewMessage } from "./messages"
import { panelState } from "./present"
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
        if (!panel.visible) this.#ready = false
      }),
      deps.model.onDidChange((snapshot) => {
        this.#schedulePost()
        this.#recheckWhenStale(snapshot)
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
    for (const d of this.#disposables.splice(0)) d.dispose()
  }

  async #receive(message: WebviewMessage): Promise<void> {
    const { actions, model } = this.#deps
    switch (message.type) {
      case "ready": {
        this.#ready = true
        this.#post()
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
    }
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
