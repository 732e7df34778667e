/**
 * The context keys that the commands' `when` and `enablement` clauses read (package.json
 * `contributes.commands` and `menus.commandPalette`), following the provider's state: Go Online is
 * offered only while offline, Go Offline only while online.
 */
import * as vscode from "vscode"
import type { DvmStatus } from "../dvm/services/Kind5050DVM"
import type { ProviderModel } from "./ProviderModel"

/** `sellCompute.state`: "offline" | "going-online" | "online" | "going-offline" (unset before activation). */
export const STATE_KEY = "sellCompute.state"
/** `sellCompute.online`: true while the provider is online. */
export const ONLINE_KEY = "sellCompute.online"

export class ContextKeys implements vscode.Disposable {
  readonly #subscription: { dispose(): void }
  #state: DvmStatus["state"] | undefined

  constructor(model: ProviderModel) {
    this.#set(model.snapshot.status.state)
    this.#subscription = model.onDidChange((snapshot) => this.#set(snapshot.status.state))
  }

  /** Only on a change of state: the model changes many times a second while jobs come in. */
  #set(state: DvmStatus["state"]): void {
    if (state === this.#state) return
    this.#state = state
    void vscode.commands.executeCommand("setContext", STATE_KEY, state)
    void vscode.commands.executeCommand("setContext", ONLINE_KEY, state === "online")
  }

  dispose(): void {
    this.#subscription.dispose()
  }
}
