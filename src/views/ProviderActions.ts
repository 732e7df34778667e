/**
 * What the commands and the panel's buttons do: each runs the core's effect on the one runtime and
 * tells the person what happened (errors with a way forward, confirmations for what cannot be
 * undone). Secrets typed here go straight to SecretStorage; none is logged or shown.
 */
import { Cause, Effect, Exit, type ManagedRuntime, SubscriptionRef } from "effect"
import * as vscode from "vscode"
import { qualifiedId, SETTINGS_SECTION, settingIds } from "../dvm/config"
import { parseSecretKey } from "../dvm/protocol/identity"
import { useWasmSignatures } from "../dvm/protocol/signing"
import { Identity } from "../dvm/services/Identity"
import type { Inference } from "../dvm/services/Inference"
import type { JobStore } from "../dvm/services/JobStore"
import { Kind5050DVM } from "../dvm/services/Kind5050DVM"
import type { Nostr } from "../dvm/services/Nostr"
import { Secrets } from "../dvm/services/Secrets"
import type { Settings } from "../dvm/services/Settings"
import type { Wallet } from "../dvm/services/Wallet"
import { EXTENSION_ID } from "./present"
import { checkProvider, type ProviderModel } from "./ProviderModel"

export type ProviderServices = Kind5050DVM | Identity | Inference | Wallet | JobStore | Nostr | Settings | Secrets
export type ProviderRuntime = ManagedRuntime.ManagedRuntime<ProviderServices, unknown>

const OPEN_SETTINGS = "Open Settings"
const SHOW_LOG = "Show Log"
const SET_UP_WALLET = "Set Up Wallet"

/** The reason a failed effect gives a person: a tagged error's message, else the defect's. */
export const reasonOf = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.squash(cause)
  const message = typeof failure === "object" && failure !== null && "message" in failure ? String(failure.message) : String(failure)
  return message || "unknown error"
}

/** A BIP-39 recovery phrase: 12 to 24 lowercase words. Checked loosely; the wallet checks the rest. */
const mnemonicProblem = (text: string): string | undefined => {
  const words = text.trim().split(/\s+/).filter((w) => w !== "")
  if (words.length === 0) return undefined
  if (![12, 15, 18, 21, 24].includes(words.length)) return `a recovery phrase has 12 or 24 words (this has ${words.length})`
  if (!words.every((w) => /^[a-z]+$/.test(w))) return "a recovery phrase is lowercase words separated by spaces"
  return undefined
}

export class ProviderActions {
  readonly #runtime: ProviderRuntime
  readonly #model: ProviderModel
  readonly #log: vscode.LogOutputChannel
  #checking: Promise<void> | undefined

  constructor(runtime: ProviderRuntime, model: ProviderModel, log: vscode.LogOutputChannel) {
    this.#runtime = runtime
    this.#model = model
    this.#log = log
  }

  showLog(): void {
    this.#log.show(true)
  }

  async openSettings(): Promise<void> {
    await vscode.commands.executeCommand("workbench.action.openSettings", `@ext:${EXTENSION_ID}`)
  }

  async goOnline(): Promise<void> {
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
    const buttons = /wallet/i.test(reason) ? [SET_UP_WALLET, OPEN_SETTINGS, SHOW_LOG] : [OPEN_SETTINGS, SHOW_LOG]
    // Not awaited: the attempt has ended even while the message stays up.
    void vscode.window.showErrorMessage(reason, ...buttons).then((choice) => {
      if (choice === OPEN_SETTINGS) void this.openSettings()
      else if (choice === SHOW_LOG) this.showLog()
      else if (choice === SET_UP_WALLET) void this.setUpWallet()
    })
  }

  async goOffline(): Promise<void> {
    if (this.#model.snapshot.status.state !== "online") return
    const exit = await this.#runtime.runPromiseExit(Kind5050DVM.use((dvm) => dvm.goOffline))
    if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) {
      void vscode.window.showErrorMessage(`Going offline failed: ${reasonOf(exit.cause)}`, SHOW_LOG).then((c) => c && this.showLog())
    }
  }

  async setOnline(online: boolean): Promise<void> {
    await (online ? this.goOnline() : this.goOffline())
  }

  /** Online ⇄ offline; while it is already changing, a click does nothing. */
  async toggleOnline(): Promise<void> {
    const state = this.#model.snapshot.status.state
    if (state === "online") await this.goOffline()
    else if (state === "offline") await this.goOnline()
  }

  /** Checks Ollama, the wallet and the identity; concurrent calls share one check. */
  refresh(): Promise<void> {
    this.#checking ??= this.#runtime.runPromise(checkProvider(this.#model)).finally(() => {
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
        detail: `${current ? `Customers who know ${current} will no longer reach this provider. ` : ""}The current secret key is replaced in secret storage and cannot be recovered unless you saved it elsewhere.`
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

  async setUpWallet(): Promise<void> {
    const text = await vscode.window.showInputBox({
      title: "Sell Compute: Set Up Wallet",
      prompt: "The recovery phrase (12 or 24 words) of the Spark wallet that receives payments. It is kept in VS Code's secret storage only.",
      password: true,
      ignoreFocusOut: true,
      validateInput: (value) => mnemonicProblem(value)
    })
    if (text === undefined || text.trim() === "" || mnemonicProblem(text)) return
    const phrase = text.trim().split(/\s+/).join(" ")
    await this.#runtime.runPromise(
      Effect.gen(function*() {
        yield* (yield* Secrets).set("sparkMnemonic", phrase)
        yield* Effect.logInfo("Spark wallet recovery phrase stored in secret storage")
      })
    )
    void vscode.window.showInformationMessage("Wallet recovery phrase saved. Checking the wallet…")
    await this.refresh()
  }

  async resetSettings(): Promise<void> {
    const confirm = "Reset Settings"
    const choice = await vscode.window.showWarningMessage(
      "Reset all Sell Compute settings to their defaults?",
      { modal: true, detail: "Relays, the Ollama address, model, pricing, payment and wallet settings go back to their defaults. Your Nostr key and wallet recovery phrase are kept." },
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
