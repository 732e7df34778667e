// Shared by the extension-host tests: the running extension's API, settings changes through the
// real configuration API, and polling.
import * as vscode from "vscode"

export const EXTENSION_ID = "sell-compute.sell-compute"

/** What the extension's activate() returns (see src/extension.ts); read-only snapshots. */
export interface SellComputeApi {
  status(): { state: "offline" | "going-online" | "online" | "going-offline"; activeJobs: number; npub?: string; error?: string }
  statusBarText(): string
  relayStates(): ReadonlyArray<{ url: string; status: "connecting" | "connected" | "disconnected"; lastError?: string }>
  recentJobs(): ReadonlyArray<{
    id: string
    customer: string
    kind: number
    status: "received" | "processing" | "success" | "error"
    model?: string
    promptTokens?: number
    completionTokens?: number
    payment?: string
    error?: string
  }>
  readonly activationMs: number
}

export const extension = (): vscode.Extension<SellComputeApi> => {
  const found = vscode.extensions.getExtension<SellComputeApi>(EXTENSION_ID)
  if (!found) throw new Error(`${EXTENSION_ID} is not installed in this VS Code`)
  return found
}

/** The extension's own API object (activating it if VS Code has not yet). */
export const api = async (): Promise<SellComputeApi> => extension().activate()

export const fixture = (name: string): string => {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set: the fixtures (test/vscode/fixtures.mjs) did not run`)
  return value
}

/** Sets a sellCompute.* user setting and waits until this extension host sees the new value. */
export async function setSetting(id: string, value: unknown): Promise<void> {
  await vscode.workspace.getConfiguration("sellCompute").update(id, value, vscode.ConfigurationTarget.Global)
  await waitFor(
    () => JSON.stringify(vscode.workspace.getConfiguration("sellCompute").get(id)) === JSON.stringify(value),
    5000,
    `sellCompute.${id} to become ${JSON.stringify(value)}`
  )
}

/** Polls until `predicate` returns something truthy and returns it; fails after `timeoutMs`. */
export async function waitFor<T>(predicate: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await predicate()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
