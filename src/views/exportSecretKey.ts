/**
 * "Sell Compute: Export Nostr Secret Key": the way to back up the provider's identity before it is
 * replaced or lost. It asks first (a modal warning: whoever holds the key is this provider), then
 * copies the nsec to the clipboard. The key is never shown, logged or put in a message.
 */
import { Effect, Exit, type ManagedRuntime } from "effect"
import { nsecEncode } from "nostr-tools/nip19"
import * as vscode from "vscode"
import { Identity } from "../dvm/services/Identity"
import { reasonOf } from "./ProviderActions"

export const COPY_SECRET_KEY = "Copy Secret Key"

export async function exportSecretKey(runtime: ManagedRuntime.ManagedRuntime<Identity, unknown>, npub: string | undefined): Promise<void> {
  const choice = await vscode.window.showWarningMessage(
    "Copy this provider's Nostr secret key to the clipboard?",
    {
      modal: true,
      detail: `Anyone who has the key can act as this provider${npub ? ` (${npub})` : ""}: sign its results and take its customers. ` +
        "Paste it only into a password manager or another safe place, then copy something else over it. " +
        "Sell Compute keeps it in VS Code's secret storage and never shows or logs it."
    },
    COPY_SECRET_KEY
  )
  if (choice !== COPY_SECRET_KEY) return
  const exit = await runtime.runPromiseExit(Identity.use((identity) => identity.keys))
  if (Exit.isFailure(exit)) {
    void vscode.window.showErrorMessage(reasonOf(exit.cause))
    return
  }
  await vscode.env.clipboard.writeText(nsecEncode(exit.value.secretKey))
  await runtime.runPromise(Effect.logInfo(`The Nostr secret key of ${exit.value.npub} was copied to the clipboard (Export Nostr Secret Key)`))
  vscode.window.setStatusBarMessage("$(key) Copied the Nostr secret key (nsec) to the clipboard: paste it somewhere safe", 6000)
}
