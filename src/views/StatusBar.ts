/** The one status bar item: the provider's state at a glance; a click toggles online/offline. */
import * as vscode from "vscode"
import type { ProviderModel, ProviderSnapshot } from "./ProviderModel"
import { statusBarAccessibilityLabel, statusBarText, statusBarTooltip, tooltipCommands } from "./present"

export class StatusBar implements vscode.Disposable {
  readonly #item: vscode.StatusBarItem
  readonly #subscription: { dispose(): void }

  constructor(model: ProviderModel) {
    this.#item = vscode.window.createStatusBarItem("sellCompute.status", vscode.StatusBarAlignment.Right, 100)
    this.#item.name = "Sell Compute"
    this.#item.command = "sellCompute.toggleOnline"
    this.#render(model.snapshot)
    this.#subscription = model.onDidChange((snapshot) => this.#render(snapshot))
    this.#item.show()
  }

  get text(): string {
    return this.#item.text
  }

  #render(snapshot: ProviderSnapshot): void {
    this.#item.text = statusBarText(snapshot)
    const tooltip = new vscode.MarkdownString(statusBarTooltip(snapshot), true)
    tooltip.isTrusted = { enabledCommands: tooltipCommands }
    this.#item.tooltip = tooltip
    this.#item.accessibilityInformation = { label: statusBarAccessibilityLabel(snapshot), role: "button" }
  }

  dispose(): void {
    this.#subscription.dispose()
    this.#item.dispose()
  }
}
