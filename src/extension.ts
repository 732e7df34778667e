/**
 * The VS Code host: one composition root. Activation builds the runtime from the same provider
 * layer as the headless host (src/cli.ts) with VS Code-backed settings, secrets and log, then the
 * status bar, the panel and the commands. Activation touches no network and loads no wallet SDK;
 * deactivation disposes the runtime, which takes the provider offline cleanly.
 */
import { Effect, Layer, ManagedRuntime } from "effect"
import * as vscode from "vscode"
import type { JobRecord } from "./dvm/services/JobStore"
import type { DvmStatus } from "./dvm/services/Kind5050DVM"
import type { RelayState } from "./dvm/services/Nostr"
import { providerLayer } from "./dvm/providerLayer"
import { History } from "./dvm/services/History"
import { outputChannelLoggerLayer } from "./host/outputChannelLogger"
import { secretStorageLayer } from "./host/secretStorage"
import { vscodeSettingsLayer } from "./host/vscodeSettings"
import { ContextKeys } from "./views/ContextKeys"
import { exportSecretKey } from "./views/exportSecretKey"
import { ProviderActions } from "./views/ProviderActions"
import { mirrorProvider, ProviderModel } from "./views/ProviderModel"
import { PANEL_VIEW_TYPE, SellComputePanels } from "./views/SellComputePanel"
import { StatusBar } from "./views/StatusBar"
import { SUMMARY_VIEW_ID, SummaryView } from "./views/SummaryView"
import type { WalkthroughStep } from "./views/messages"
import { walkthroughContext } from "./views/present"

/** What activate() returns: read-only snapshots for tests and other extensions; no runtime inside. */
export interface SellComputeApi {
  status(): DvmStatus
  statusBarText(): string
  relayStates(): ReadonlyArray<RelayState>
  recentJobs(): ReadonlyArray<JobRecord>
  /** How long activate() took, from its first line until it resolved (ms); for the bench. */
  readonly activationMs: number
}

let runtime: { dispose(): Promise<void> } | undefined

const WALKTHROUGH_STEPS: ReadonlySet<string> = new Set<WalkthroughStep>(["ollama", "payment", "wallet", "prices", "online", "test"])

export async function activate(context: vscode.ExtensionContext): Promise<SellComputeApi> {
  const activationStarted = performance.now()
  const log = vscode.window.createOutputChannel("Sell Compute", { log: true })
  context.subscriptions.push(log)

  const model = new ProviderModel()
  // The dashboard's whole history (VS Code only): over the same data dir, read when first asked for.
  const provider = History.layer(context.globalStorageUri.fsPath).pipe(
    Layer.provideMerge(providerLayer({ dataDir: context.globalStorageUri.fsPath })),
    Layer.provideMerge(Layer.mergeAll(vscodeSettingsLayer, secretStorageLayer(context.secrets))),
    Layer.provideMerge(outputChannelLoggerLayer(log))
  )
  // The model follows the core for exactly as long as the runtime lives.
  const services = Layer.effectDiscard(mirrorProvider(model)).pipe(Layer.provideMerge(provider))
  const providerRuntime = ManagedRuntime.make(services)
  runtime = providerRuntime

  const actions = new ProviderActions(providerRuntime, model, log)
  const statusBar = new StatusBar(model)
  const panels = new SellComputePanels({ extensionUri: context.extensionUri, model, actions })
  const summary = new SummaryView(model)
  // The walkthrough's steps complete on these context keys (package.json completionEvents).
  let shownContext = ""
  const publishContext = () => {
    const keys = walkthroughContext(model.snapshot)
    const key = JSON.stringify(keys)
    if (key === shownContext) return
    shownContext = key
    for (const [name, value] of Object.entries(keys)) void vscode.commands.executeCommand("setContext", `sellCompute.${name}`, value)
  }
  publishContext()

  context.subscriptions.push(
    statusBar,
    panels,
    new ContextKeys(model),
    summary,
    model.onDidChange(publishContext),
    vscode.window.registerTreeDataProvider(SUMMARY_VIEW_ID, summary),
    vscode.commands.registerCommand("sellCompute.openWalkthrough", (step?: unknown) =>
      actions.openWalkthrough(typeof step === "string" && WALKTHROUGH_STEPS.has(step) ? (step as WalkthroughStep) : undefined)),
    vscode.commands.registerCommand("sellCompute.useFreeMode", () => actions.useFreeMode()),
    vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, panels),
    vscode.commands.registerCommand("sellCompute.openPanel", () => panels.show()),
    vscode.commands.registerCommand("sellCompute.goOnline", () => actions.goOnline()),
    vscode.commands.registerCommand("sellCompute.goOffline", () => actions.goOffline()),
    vscode.commands.registerCommand("sellCompute.toggleOnline", () => actions.toggleOnline()),
    vscode.commands.registerCommand("sellCompute.refreshStatus", () => actions.refresh()),
    vscode.commands.registerCommand("sellCompute.showLog", () => actions.showLog()),
    vscode.commands.registerCommand("sellCompute.setNostrSecretKey", () => actions.setNostrSecretKey()),
    vscode.commands.registerCommand("sellCompute.generateIdentity", () => actions.generateIdentity()),
    vscode.commands.registerCommand("sellCompute.copyPublicKey", () => actions.copyPublicKey()),
    vscode.commands.registerCommand("sellCompute.exportSecretKey", () => exportSecretKey(providerRuntime, model.snapshot.npub)),
    vscode.commands.registerCommand("sellCompute.setUpWallet", () => actions.setUpWallet()),
    vscode.commands.registerCommand("sellCompute.connectNwcWallet", () => actions.connectNwcWallet()),
    vscode.commands.registerCommand("sellCompute.removeWallet", () => actions.removeWallet()),
    vscode.commands.registerCommand("sellCompute.setOpenAiApiKey", () => actions.setOpenAiApiKey()),
    vscode.commands.registerCommand("sellCompute.resetSettings", () => actions.resetSettings()),
    vscode.commands.registerCommand("sellCompute.testProvider", () => actions.testProvider())
  )

  // Builds the services (local work only: settings, the job history file) so the UI is live at once.
  const built = await providerRuntime.runPromiseExit(Effect.logDebug(`Activated; data in ${context.globalStorageUri.fsPath}`))
  if (built._tag === "Failure") {
    log.error(`Sell Compute could not start: ${String(built.cause)}`)
    void vscode.window.showErrorMessage("Sell Compute could not start. See the log for the reason.", "Show Log").then((choice) => {
      if (choice) log.show(true)
    })
  }

  // Whether a wallet is set up: secret storage only (no network), so the status bar's tooltip and
  // click know at once whether paid mode can work.
  if (built._tag === "Success") await actions.lookForWallet().catch(() => undefined)

  const activationMs = performance.now() - activationStarted
  log.info(`Activated in ${activationMs.toFixed(1)} ms`)
  return {
    status: () => model.snapshot.status,
    statusBarText: () => statusBar.text,
    relayStates: () => model.snapshot.relays,
    recentJobs: () => model.snapshot.recentJobs,
    activationMs
  }
}

/** Goes offline (jobs stopped with feedback, announcement withdrawn) and releases every resource. */
export async function deactivate(): Promise<void> {
  const disposing = runtime
  runtime = undefined
  await disposing?.dispose()
}
