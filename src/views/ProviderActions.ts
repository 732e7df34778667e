/**
 * What the commands and the panel's buttons do: each runs the core's effect on the one runtime and
 * tells the person what happened (errors with a way forward, confirmations for what cannot be
 * undone). Secrets typed here go straight to SecretStorage; none is logged or shown.
 */
import * as os from "node:os"
import * as path from "node:path"
import { Cause, type Context, Effect, Exit, type ManagedRuntime, SubscriptionRef } from "effect"
import * as vscode from "vscode"
import { qualifiedId, SETTINGS_SECTION, settingIds, type WALLET_BACKENDS } from "../dvm/config"
import { newMnemonic, parseMnemonic } from "../dvm/mnemonic"
import { parseSecretKey } from "../dvm/protocol/identity"
import { useWasmSignatures } from "../dvm/protocol/signing"
import { type RelayVerdict, runSelfTest, type SelfTestReport, verdictLine, verdictText } from "../dvm/selfTest"
import { History, type HistoryFilter } from "../dvm/services/History"
import { Identity } from "../dvm/services/Identity"
import { Inference } from "../dvm/services/Inference"
import type { JobStore } from "../dvm/services/JobStore"
import { Kind5050DVM } from "../dvm/services/Kind5050DVM"
import { type Nostr, normalizeRelayUrl } from "../dvm/services/Nostr"
import { type SecretName, Secrets } from "../dvm/services/Secrets"
import { Settings } from "../dvm/services/Settings"
import { Wallet } from "../dvm/services/Wallet"
import type { WalkthroughStep } from "./messages"
import { blockerOf, EXTENSION_ID } from "./present"
import { checkProvider, type ProviderModel } from "./ProviderModel"
import { settingAtFault, settingsQuery } from "./settingAtFault"
import { nwcUrlProblem } from "./walletInput"

type WalletBackend = (typeof WALLET_BACKENDS)[number]

export type ProviderServices = Kind5050DVM | Identity | Inference | Wallet | JobStore | History | Nostr | Settings | Secrets
export type ProviderRuntime = ManagedRuntime.ManagedRuntime<ProviderServices, unknown>

/** The guided first run (package.json `contributes.walkthroughs`). */
export const WALKTHROUGH_ID = `${EXTENSION_ID}#sellCompute.gettingStarted`

type HistoryShape = Context.Service.Shape<typeof History>

const OPEN_SETTINGS = "Open Settings"
const SHOW_LOG = "Show Log"
const SET_UP_WALLET = "Set Up Wallet"
const SET_API_KEY = "Set OpenAI API Key"

/** The reason a failed effect gives a person: a tagged error's message, else the defect's. */
export const reasonOf = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.squash(cause)
  const message = typeof failure === "object" && failure !== null && "message" in failure ? String(failure.message) : String(failure)
  return message || "unknown error"
}

export class ProviderActions {
  readonly #runtime: ProviderRuntime
  readonly #model: ProviderModel
  readonly #log: vscode.LogOutputChannel
  #checking: Promise<void> | undefined
  #testing = false

  constructor(runtime: ProviderRuntime, model: ProviderModel, log: vscode.LogOutputChannel) {
    this.#runtime = runtime
    this.#model = model
    this.#log = log
  }

  logInfo(line: string): void {
    void this.#runtime.runPromise(Effect.logInfo(line))
  }

  showLog(): void {
    this.#log.show(true)
  }

  /** Settings showing just `setting` (a full id), or all of Sell Compute's when none is given. */
  async openSettings(setting?: string): Promise<void> {
    await vscode.commands.executeCommand("workbench.action.openSettings", settingsQuery(setting, EXTENSION_ID))
  }

  /**
   * `quiet`: the reason of a failure is not also put in a notification (the panel that asked shows
   * it, and the status bar's tooltip): one failure, one place a person has to read it.
   */
  async goOnline(options: { readonly quiet?: boolean } = {}): Promise<void> {
    const state = this.#model.snapshot.status.state
    if (state !== "offline") return
    // Loaded on the first go-online, not at activation; the pure-JS signer stays if it cannot load.
    await useWasmSignatures().catch((e: unknown) =>
      this.#runtime.runPromise(Effect.logWarning(`Fast (WASM) signatures unavailable, using the slower pure-JS signer: ${String(e)}`)))
    const exit = await this.#runtime.runPromiseExit(Kind5050DVM.use((dvm) => dvm.goOnline))
    void this.refresh()
    if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) return
    const reason = reasonOf(exit.cause)
    await this.#runtime.runPromise(
      Effect.gen(function*() {
        const dvm = yield* Kind5050DVM
        // The core leaves "going-online" behind on some failures: the UI must not wait forever.
        yield* SubscriptionRef.update(dvm.status, (s) => (s.state === "going-online" ? { ...s, state: "offline" as const, error: reason } : s))
        yield* Effect.logWarning(reason)
      })
    )
    if (options.quiet) return
    // One notification for the failure; "Open Settings" shows the one setting at fault, if any is.
    const setting = settingAtFault(reason)
    const buttons = [
      ...(/wallet/i.test(reason) ? [SET_UP_WALLET] : []),
      ...(/API key/.test(reason) ? [SET_API_KEY] : []),
      ...(setting ? [OPEN_SETTINGS] : []),
      SHOW_LOG
    ]
    // Not awaited: the attempt has ended even while the message stays up.
    void vscode.window.showErrorMessage(reason, ...buttons).then((choice) => {
      if (choice === OPEN_SETTINGS) void this.openSettings(setting)
      else if (choice === SHOW_LOG) this.showLog()
      else if (choice === SET_UP_WALLET) void this.setUpWallet()
      else if (choice === SET_API_KEY) void this.setOpenAiApiKey()
    })
  }

  /** With jobs running it asks first: they are stopped and their customers told. */
  async goOffline(): Promise<void> {
    const { status } = this.#model.snapshot
    if (status.state !== "online") return
    if (status.activeJobs > 0) {
      const stop = "Go Offline"
      const choice = await vscode.window.showWarningMessage(
        `${status.activeJobs === 1 ? "1 job is" : `${status.activeJobs} jobs are`} running. Go offline anyway?`,
        { modal: true, detail: "Running jobs are stopped and their customers told so; nothing is charged for them." },
        stop
      )
      if (choice !== stop) return
    }
    const exit = await this.#runtime.runPromiseExit(Kind5050DVM.use((dvm) => dvm.goOffline))
    if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) {
      void vscode.window.showErrorMessage(`Going offline failed: ${reasonOf(exit.cause)}`, SHOW_LOG).then((c) => c && this.showLog())
    }
  }

  /** From the panel, which shows a failure's reason itself. */
  async setOnline(online: boolean): Promise<void> {
    await (online ? this.goOnline({ quiet: true }) : this.goOffline())
  }

  /**
   * Online ⇄ offline; while it is already changing, a click does nothing. When the provider cannot
   * serve yet (no wallet in paid mode, Ollama down or without a model) it stays offline and the
   * guided first run opens at the step that fixes it, instead of an attempt bound to fail.
   */
  async toggleOnline(): Promise<void> {
    const state = this.#model.snapshot.status.state
    if (state === "online") return this.goOffline()
    if (state !== "offline") return
    const blocker = await this.#blockerNow()
    if (!blocker) return this.goOnline()
    await this.#runtime.runPromise(Effect.logInfo(`Not going online: ${blocker.reason}; opening the setup guide`))
    await this.openWalkthrough(blocker.step)
  }

  /** Looks (locally, and at Ollama on this machine) for what would make going online fail. */
  async #blockerNow() {
    await this.lookForWallet()
    const { config, ollama } = this.#model.snapshot
    if (!(config["payment.mode"] !== "free" && this.#model.snapshot.walletSecret === false) && ollama === undefined) {
      // Ollama never checked yet: ask it now (a local call with its own deadline).
      const status = await this.#runtime.runPromise(Inference.use((inference) => inference.status))
      this.#model.update({ ollama: status })
    }
    return blockerOf(this.#model.snapshot)
  }

  /** Whether the selected wallet backend has its secret: secret storage only, no network. */
  async lookForWallet(): Promise<void> {
    const backend = this.#model.snapshot.config["wallet.backend"]
    const walletSecret = await this.#hasSecret(backend === "nwc" ? "nwcUrl" : "sparkMnemonic")
    this.#model.update({ walletSecret })
  }

  /** The guided first run, at a step when given. */
  async openWalkthrough(step?: WalkthroughStep): Promise<void> {
    await vscode.commands.executeCommand(
      "workbench.action.openWalkthrough",
      // VS Code joins them as `${category}#${step}`.
      step ? { category: WALKTHROUGH_ID, step } : WALKTHROUGH_ID,
      false
    )
  }

  /** Payment mode "free": results carry no invoice, no wallet is needed. */
  async useFreeMode(): Promise<void> {
    await vscode.workspace.getConfiguration(SETTINGS_SECTION).update("payment.mode", "free", vscode.ConfigurationTarget.Global)
    await this.#runtime.runPromise(Effect.logInfo("Payment mode set to free: jobs are served without charge"))
    vscode.window.setStatusBarMessage("$(check) Sell Compute: free mode, jobs are served without charge", 4000)
  }

  /** Runs `use` on the whole job history (History). */
  async history<A>(use: (history: HistoryShape) => Effect.Effect<A>): Promise<A> {
    return this.#runtime.runPromise(History.use(use))
  }

  /** The jobs the filter selects, as CSV, into a file the person picks. */
  async exportCsv(filter: HistoryFilter): Promise<void> {
    const day = new Date().toISOString().slice(0, 10)
    const target = await vscode.window.showSaveDialog({
      title: "Sell Compute: Export Jobs as CSV",
      defaultUri: vscode.Uri.file(path.join(os.homedir(), `sell-compute-jobs-${day}.csv`)),
      filters: { CSV: ["csv"] },
      saveLabel: "Export"
    })
    if (!target) return
    const exit = await this.#runtime.runPromiseExit(History.use((history) => history.csv(filter)))
    if (Exit.isFailure(exit)) {
      void vscode.window.showErrorMessage(`Exporting the jobs failed: ${reasonOf(exit.cause)}`)
      return
    }
    await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(exit.value))
    vscode.window.setStatusBarMessage(`$(check) Jobs exported to ${path.basename(target.fsPath)}`, 6000)
  }

  async copyText(text: string): Promise<void> {
    await vscode.env.clipboard.writeText(text)
    vscode.window.setStatusBarMessage(`$(check) Copied ${text.slice(0, 14)}… to the clipboard`, 4000)
  }

  /** Checks the model server, the wallet and the identity; concurrent calls share one check. */
  refresh(): Promise<void> {
    this.#checking ??= Promise.all([this.#runtime.runPromise(checkProvider(this.#model)), this.lookForWallet()]).then(() => {}).finally(() => {
      this.#checking = undefined
    })
    return this.#checking
  }

  async setNostrSecretKey(): Promise<void> {
    const text = await vscode.window.showInputBox({
      title: "Sell Compute: Set Nostr Secret Key",
      prompt: "The provider's Nostr secret key (nsec1… or 64 hex characters). It is kept in VS Code's secret storage only.",
      placeHolder: "nsec1…",
      password: true,
      ignoreFocusOut: true,
      validateInput: (value) => {
        if (value.trim() === "") return undefined
        const parsed = parseSecretKey(value)
        return "error" in parsed ? parsed.error : undefined
      }
    })
    if (text === undefined || text.trim() === "") return
    const exit = await this.#runtime.runPromiseExit(Identity.use((identity) => identity.useSecretKey(text)))
    if (Exit.isFailure(exit)) {
      void vscode.window.showErrorMessage(reasonOf(exit.cause))
      return
    }
    this.#model.update({ npub: exit.value.npub, identityError: undefined })
    await this.#runtime.runPromise(Effect.logInfo(`Nostr identity set: ${exit.value.npub}`))
    await this.#afterIdentityChange(`Sell Compute now uses the Nostr identity ${exit.value.npub}.`)
  }

  async generateIdentity(): Promise<void> {
    const current = this.#model.snapshot.npub
    const confirm = "Generate New Identity"
    const choice = await vscode.window.showWarningMessage(
      "Replace this provider's Nostr identity with a new one?",
      {
        modal: true,
        detail: `${current ? `Customers who know ${current} will no longer reach this provider. ` : ""}The current secret key is replaced in secret storage and cannot be recovered unless you saved it elsewhere (Sell Compute: Export Nostr Secret Key copies it).`
      },
      confirm
    )
    if (choice !== confirm) return
    const keys = await this.#runtime.runPromise(Identity.use((identity) => identity.generate))
    this.#model.update({ npub: keys.npub, identityError: undefined })
    await this.#afterIdentityChange(`Sell Compute now uses a new Nostr identity: ${keys.npub}.`)
  }

  /** A changed key is used from the next go-online: offer to reconnect when online now. */
  async #afterIdentityChange(message: string): Promise<void> {
    if (this.#model.snapshot.status.state !== "online") {
      void vscode.window.showInformationMessage(message)
      return
    }
    const reconnect = "Reconnect Now"
    const choice = await vscode.window.showInformationMessage(`${message} It is used from the next time you go online.`, reconnect)
    if (choice !== reconnect) return
    await this.goOffline()
    await this.goOnline()
  }

  async copyPublicKey(): Promise<void> {
    const exit = await this.#runtime.runPromiseExit(Identity.use((identity) => identity.keys))
    if (Exit.isFailure(exit)) {
      void vscode.window.showErrorMessage(reasonOf(exit.cause), SHOW_LOG).then((c) => c && this.showLog())
      return
    }
    const { npub } = exit.value
    this.#model.update({ npub, identityError: undefined })
    await vscode.env.clipboard.writeText(npub)
    vscode.window.setStatusBarMessage(`$(check) Copied ${npub.slice(0, 12)}… to the clipboard`, 4000)
  }

  /**
   * The API key of an OpenAI-compatible server (inference.backend "openai"), kept in secret storage
   * and sent to that server only; an empty entry removes it. Used from the next job or check.
   */
  async setOpenAiApiKey(): Promise<void> {
    const stored = await this.#hasSecret("openaiApiKey")
    const text = await vscode.window.showInputBox({
      title: "Sell Compute: Set OpenAI API Key",
      prompt: `The API key of your OpenAI-compatible server (sellCompute.openai.baseUrl), if it asks for one. It is kept in VS Code's secret storage only.${stored ? " Leave empty and press Enter to remove the stored key." : ""}`,
      password: true,
      ignoreFocusOut: true,
      validateInput: (value) => (/\s/.test(value.trim()) ? "An API key has no spaces" : undefined)
    })
    if (text === undefined || (text.trim() === "" && !stored)) return
    const key = text.trim()
    await this.#runtime.runPromise(
      Effect.gen(function*() {
        const secrets = yield* Secrets
        if (key === "") yield* secrets.remove("openaiApiKey")
        else yield* secrets.set("openaiApiKey", key)
        yield* Effect.logInfo(key === "" ? "OpenAI API key removed from secret storage" : "OpenAI API key stored in secret storage")
      })
    )
    vscode.window.setStatusBarMessage(key === "" ? "$(check) OpenAI API key removed" : "$(check) OpenAI API key stored", 4000)
    await this.refresh()
  }

  /** Spark (a new wallet, or an existing one by its recovery phrase) or an NWC wallet. */
  async setUpWallet(): Promise<void> {
    type Choice = vscode.QuickPickItem & { readonly run: () => Promise<void> }
    const items: Array<Choice> = [
      {
        label: "$(add) Create a new Spark wallet",
        detail: "A new recovery phrase is made on this machine and kept in VS Code's secret storage.",
        run: () => this.#createSparkWallet()
      },
      {
        label: "$(key) Use an existing Spark wallet",
        detail: "Enter the wallet's recovery phrase (12 or 24 words).",
        run: () => this.#restoreSparkWallet()
      },
      {
        label: "$(plug) Connect a Nostr Wallet Connect (NWC) wallet",
        detail: "Paste a nostr+walletconnect:// connection string from your wallet.",
        run: () => this.connectNwcWallet()
      }
    ]
    const picked = await vscode.window.showQuickPick(items, { title: "Sell Compute: Set Up Wallet", placeHolder: "Which wallet receives the payments?" })
    await picked?.run()
  }

  async #createSparkWallet(): Promise<void> {
    if (await this.#hasSecret("sparkMnemonic")) {
      const replace = "Replace Wallet"
      const choice = await vscode.window.showWarningMessage(
        "A Spark wallet is already set up. Replace it with a new one?",
        { modal: true, detail: "Funds in the current wallet can then only be reached with its recovery phrase. Make sure you have it written down." },
        replace
      )
      if (choice !== replace) return
    }
    const phrase = newMnemonic()
    await this.#storeWallet("sparkMnemonic", phrase, "spark", "New Spark wallet created; its recovery phrase is in secret storage")
    // Shown once, on request: the only way to restore the wallet elsewhere.
    const show = "Show Recovery Phrase"
    const choice = await vscode.window.showInformationMessage(
      "Your new Spark wallet is ready. Write down its recovery phrase now: it is the only way to restore the wallet and its funds.",
      { modal: true },
      show
    )
    if (choice === show) {
      await vscode.window.showInformationMessage("Recovery phrase (write it down, keep it private):", { modal: true, detail: phrase })
    }
  }

  async #restoreSparkWallet(): Promise<void> {
    const text = await vscode.window.showInputBox({
      title: "Sell Compute: Use an Existing Spark Wallet",
      prompt: "The wallet's recovery phrase (12 or 24 words). It is kept in VS Code's secret storage only.",
      password: true,
      ignoreFocusOut: true,
      validateInput: (value) => {
        if (value.trim() === "") return undefined
        const parsed = parseMnemonic(value)
        return typeof parsed === "string" ? undefined : parsed.error
      }
    })
    if (text === undefined || text.trim() === "") return
    const parsed = parseMnemonic(text)
    if (typeof parsed !== "string") return
    await this.#storeWallet("sparkMnemonic", parsed, "spark", "Spark wallet recovery phrase stored in secret storage")
  }

  async connectNwcWallet(): Promise<void> {
    const text = await vscode.window.showInputBox({
      title: "Sell Compute: Connect NWC Wallet",
      prompt: "Your wallet's Nostr Wallet Connect string. Give it the make_invoice and lookup_invoice permissions. It is kept in VS Code's secret storage only.",
      placeHolder: "nostr+walletconnect://…",
      password: true,
      ignoreFocusOut: true,
      validateInput: (value) => nwcUrlProblem(value)
    })
    if (text === undefined || text.trim() === "" || nwcUrlProblem(text)) return
    await this.#storeWallet("nwcUrl", text.trim(), "nwc", "NWC connection string stored in secret storage")
  }

  /** Forgets the current wallet's secret (Spark recovery phrase or NWC string), after a confirmation. */
  async removeWallet(): Promise<void> {
    const backend = vscode.workspace.getConfiguration(SETTINGS_SECTION).get<WalletBackend>("wallet.backend") ?? "spark"
    const name: SecretName = backend === "nwc" ? "nwcUrl" : "sparkMnemonic"
    if (!(await this.#hasSecret(name))) {
      void vscode.window.showInformationMessage(`No ${backend === "nwc" ? "NWC" : "Spark"} wallet is set up.`)
      return
    }
    const remove = "Remove Wallet"
    const choice = await vscode.window.showWarningMessage(
      backend === "nwc" ? "Disconnect the NWC wallet?" : "Remove the Spark wallet from this machine?",
      {
        modal: true,
        detail: backend === "nwc"
          ? "The connection string is deleted from secret storage. Paid jobs stop until a wallet is set up again."
          : "Its recovery phrase is deleted from secret storage. Funds in it can then only be reached with the recovery phrase you wrote down."
      },
      remove
    )
    if (choice !== remove) return
    await this.#runtime.runPromise(
      Effect.gen(function*() {
        yield* (yield* Secrets).remove(name)
        yield* (yield* Wallet).reset
        yield* Effect.logInfo(backend === "nwc" ? "NWC wallet disconnected" : "Spark wallet removed from secret storage")
      })
    )
    await this.refresh()
  }

  async #hasSecret(name: SecretName): Promise<boolean> {
    const value = await this.#runtime.runPromise(Secrets.use((secrets) => secrets.get(name)))
    return value !== undefined && value.trim() !== ""
  }

  /** Stores the secret, selects its backend, drops the old connection and checks the wallet anew. */
  async #storeWallet(name: SecretName, value: string, backend: WalletBackend, logLine: string): Promise<void> {
    const section = vscode.workspace.getConfiguration(SETTINGS_SECTION)
    if (section.get("wallet.backend") !== backend) {
      await section.update("wallet.backend", backend, vscode.ConfigurationTarget.Global)
    }
    await this.#runtime.runPromise(
      Effect.gen(function*() {
        yield* (yield* Secrets).set(name, value)
        yield* (yield* Wallet).reset
        yield* Effect.logInfo(logLine)
      })
    )
    const checking = this.refresh()
    vscode.window.setStatusBarMessage("$(sync~spin) Sell Compute: checking the wallet…", checking)
    await checking
  }

  /**
   * "Test My Provider": the self-test (selfTest.ts) through each relay, as a throwaway customer
   * served free. Each step goes to the log as it ends; the verdict is a message with the log at hand.
   */
  async testProvider(): Promise<SelfTestReport | undefined> {
    if (this.#testing) {
      this.#log.show(true)
      return undefined
    }
    const setup = await this.#runtime.runPromiseExit(Effect.gen(function*() {
      const keys = yield* (yield* Identity).keys
      const config = yield* (yield* Settings).current
      return { keys, relays: config.relays }
    }))
    if (Exit.isFailure(setup)) {
      void vscode.window.showErrorMessage(`Cannot test the provider: ${reasonOf(setup.cause)}`)
      return undefined
    }
    const { keys, relays } = setup.value
    const log = this.#log
    if (this.#model.snapshot.status.state !== "online") log.warn("Self-test: this window's provider is not online; the test passes only if another process serves this key")
    this.#testing = true
    const model = this.#model
    // The dashboard shows the test as it runs: a line per relay, the step it is at, then its verdict.
    const line = (url: string, ok: boolean | undefined, text: string) => ({ url: normalizeRelayUrl(url), ...(ok === undefined ? {} : { ok }), text })
    const lines = new Map(relays.map((url) => [url, line(url, undefined, "waiting")]))
    const show = (running: boolean) =>
      model.update({ selfTest: { running, ...(running ? {} : { finishedAt: Date.now() }), relays: [...lines.values()] } })
    show(true)
    try {
      const report = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Sell Compute: testing through ${relays.length} relay(s)` },
        (progress) =>
          runSelfTest({
            relays,
            providerSecretKey: keys.secretKey,
            onStep: (url, step) => {
              log.info(`Self-test ${url}: ${step.ok ? "ok" : "FAILED"} ${step.step}: ${step.detail}`)
              lines.set(url, line(url, step.ok ? undefined : false, `${step.step}${step.ok ? " ok" : " failed"}: ${step.detail}`))
              show(true)
              progress.report({ message: `${url}: ${step.step}${step.ok ? "" : " failed"}` })
            }
          })
      )
      for (const verdict of report.relays) {
        log.info(`Self-test ${verdictLine(verdict)}`)
        lines.set(verdict.url, line(verdict.url, verdict.ok, verdictText(verdict)))
      }
      const failed = report.relays.filter((r) => !r.ok)
      // Not awaited: the test has ended even while the message stays up.
      void (report.ok
        ? vscode.window.showInformationMessage(`Self-test passed: customers reach this provider through all ${report.relays.length} relay(s).`, SHOW_LOG)
        : vscode.window.showWarningMessage(`Self-test: ${failed.length} of ${report.relays.length} relay(s) failed. ${verdictLine(failed[0] as RelayVerdict)}`, SHOW_LOG)
      ).then((choice) => {
        if (choice === SHOW_LOG) log.show(true)
      })
      return report
    } finally {
      show(false)
      this.#testing = false
    }
  }

  async resetSettings(): Promise<void> {
    const confirm = "Reset Settings"
    const choice = await vscode.window.showWarningMessage(
      "Reset all Sell Compute settings to their defaults?",
      { modal: true, detail: "Relays, the model server's address, model, pricing, payment and wallet settings go back to their defaults. Your Nostr key, wallet recovery phrase and API key are kept." },
      confirm
    )
    if (choice !== confirm) return
    const section = vscode.workspace.getConfiguration(SETTINGS_SECTION)
    for (const id of settingIds) {
      await section.update(id, undefined, vscode.ConfigurationTarget.Global)
      // A value in this workspace would still win over the default.
      if (section.inspect(id)?.workspaceValue !== undefined) {
        await section.update(id, undefined, vscode.ConfigurationTarget.Workspace).then(undefined, (e: unknown) =>
          this.#runtime.runPromise(Effect.logWarning(`Could not reset ${qualifiedId(id)} in this workspace: ${String(e)}`)))
      }
    }
    await this.#runtime.runPromise(Effect.logInfo("Settings reset to their defaults"))
    vscode.window.setStatusBarMessage("$(check) Sell Compute settings reset to their defaults", 4000)
  }
}
