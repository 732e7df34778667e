/**
 * The activity bar's summary (a native tree view): the provider's state, today's and all-time
 * earnings, what blocks going online, and the way to the full dashboard in the editor area.
 */
import * as vscode from "vscode"
import { blockerOf, onlineProblem } from "./present"
import type { ProviderModel, ProviderSnapshot } from "./ProviderModel"

// Not "sellCompute.…": VS Code registers `<view id>.focus` and friends, which are not our commands.
export const SUMMARY_VIEW_ID = "sellComputeSummary"

const plural = (n: number, word: string) => `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`

const item = (label: string, icon: string, options: { description?: string; command?: string; tooltip?: string; args?: Array<unknown> } = {}) => {
  const tree = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.None)
  tree.iconPath = new vscode.ThemeIcon(icon)
  if (options.description) tree.description = options.description
  if (options.tooltip) tree.tooltip = options.tooltip
  if (options.command) tree.command = { command: options.command, title: label, arguments: options.args ?? [] }
  return tree
}

export const summaryItems = (s: ProviderSnapshot): Array<vscode.TreeItem> => {
  const problem = onlineProblem(s)
  const blocker = s.status.state === "offline" ? blockerOf(s) : undefined
  const state = s.status.state === "online"
    ? item("Online", problem ? "warning" : "broadcast", { description: s.status.activeJobs > 0 ? `${s.status.activeJobs} running` : "", tooltip: problem ?? "Click to go offline", command: "sellCompute.toggleOnline" })
    : s.status.state === "offline"
    ? item("Offline", s.status.error ? "warning" : "debug-disconnect", {
      tooltip: s.status.error ?? (blocker ? `Click to open the setup guide: ${blocker.reason}` : "Click to go online"),
      command: "sellCompute.toggleOnline"
    })
    : item(s.status.state === "going-online" ? "Going online…" : "Going offline…", "sync~spin")
  return [
    state,
    ...(blocker ? [item(blocker.reason, "info", { command: "sellCompute.openWalkthrough", tooltip: "Open the setup guide at this step", args: [blocker.step] })] : []),
    // JobStore's count: jobs served (succeeded) today, as the status bar's tooltip counts them.
    item("Today", "calendar", { description: `${plural(s.earnings.jobsToday, "job")} served, ${plural(s.earnings.satsEarnedToday, "sat")}` }),
    item("All time", "graph", { description: plural(s.earnings.satsEarnedTotal, "sat") }),
    item("Open Dashboard", "dashboard", { command: "sellCompute.openPanel" }),
    item("Setup Guide", "book", { command: "sellCompute.openWalkthrough" })
  ]
}

export class SummaryView implements vscode.TreeDataProvider<vscode.TreeItem>, vscode.Disposable {
  readonly #changed = new vscode.EventEmitter<void>()
  readonly onDidChangeTreeData = this.#changed.event
  readonly #model: ProviderModel
  readonly #subscription: { dispose(): void }

  constructor(model: ProviderModel) {
    this.#model = model
    this.#subscription = model.onDidChange(() => this.#changed.fire())
  }

  getTreeItem(element: vscode.TreeItem): vscode.TreeItem {
    return element
  }

  getChildren(): Array<vscode.TreeItem> {
    return summaryItems(this.#model.snapshot)
  }

  dispose(): void {
    this.#subscription.dispose()
    this.#changed.dispose()
  }
}
