/**
 * Which setting a failure is about, so its "Open Settings" opens that one setting rather than all of
 * them. The core's reasons are written for a person and name what failed: a setting by its full id
 * (`sellCompute.textGeneration.model`), or begin with their subject ("Ollama is not reachable at …",
 * "the wallet is not ready: …", after "Cannot go online: "). Free of `vscode`.
 */
import { qualifiedId, SETTINGS_SECTION, type SettingId, settingIds } from "../dvm/config"

/** By the subject a reason starts with, the setting that fixes it. */
const BY_SUBJECT: ReadonlyArray<readonly [RegExp, SettingId]> = [
  // A paid mode needs a wallet; `free` needs none (Set Up Wallet is offered beside it).
  [/^the wallet\b/i, "payment.mode"],
  [/^Ollama\b/, "ollama.host"]
]
const PREFIX = /^Cannot go online: /

/** The full id of the setting at fault (e.g. `sellCompute.ollama.host`), or undefined when none is. */
export const settingAtFault = (reason: string): string | undefined => {
  const named = [...reason.matchAll(new RegExp(`\\b${SETTINGS_SECTION}\\.([\\w.]*\\w)`, "g"))]
    .map((m) => m[1])
    .find((id): id is SettingId => settingIds.includes(id as SettingId))
  if (named) return qualifiedId(named)
  const subject = reason.replace(PREFIX, "")
  const bySubject = BY_SUBJECT.find(([pattern]) => pattern.test(subject))
  return bySubject ? qualifiedId(bySubject[1]) : undefined
}

/** The Settings editor's query that shows exactly this setting, or all of this extension's. */
export const settingsQuery = (setting: string | undefined, extensionId: string): string =>
  setting ? `@id:${setting}` : `@ext:${extensionId}`
