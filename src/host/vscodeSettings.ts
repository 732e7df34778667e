/**
 * Settings from VS Code's own Settings (`sellCompute.*`), live: a change that affects the section
 * updates the ref the core follows. A value the schema rejects is named in a warning and its last
 * good value is kept.
 */
import { Effect, Layer, SubscriptionRef } from "effect"
import * as vscode from "vscode"
import { type Config, defaultConfig, SETTINGS_SECTION } from "../dvm/config"
import { Settings } from "../dvm/services/Settings"
import { decodeLiveConfig, type LiveConfig } from "./liveConfig"

const read = (previous: Config): LiveConfig => {
  const section = vscode.workspace.getConfiguration(SETTINGS_SECTION)
  return decodeLiveConfig((id) => section.get(id), previous)
}

export const vscodeSettingsLayer = Layer.effect(
  Settings,
  Effect.gen(function*() {
    const run = Effect.runForkWith(yield* Effect.context<never>())
    let shown = ""

    const report = ({ problems }: LiveConfig) => {
      const text = problems.map((p) => p.message).join("\n")
      if (text === shown) return // the same problem is not shown again on every other change
      shown = text
      const first = problems[0]
      if (!first) return
      run(Effect.logWarning(`Settings: ${text.replace(/\n/g, "; ")} (the previous value is kept)`))
      const more = problems.length > 1 ? ` (and ${problems.length - 1} more, see the log)` : ""
      void vscode.window
        .showWarningMessage(`Sell Compute: ${first.message}${more}. The previous value is kept.`, "Open Settings")
        .then((choice) => {
          if (choice) void vscode.commands.executeCommand("workbench.action.openSettings", `@id:${first.setting}`)
        })
    }

    const initial = read(defaultConfig)
    report(initial)
    const ref = yield* SubscriptionRef.make(initial.config)

    yield* Effect.acquireRelease(
      Effect.sync(() =>
        vscode.workspace.onDidChangeConfiguration((event) => {
          if (!event.affectsConfiguration(SETTINGS_SECTION)) return
          run(Effect.gen(function*() {
            const next = read(yield* SubscriptionRef.get(ref))
            report(next)
            yield* SubscriptionRef.set(ref, next.config)
          }))
        })
      ),
      (listener) => Effect.sync(() => listener.dispose())
    )

    return Settings.of({ current: SubscriptionRef.get(ref), changes: SubscriptionRef.changes(ref) })
  })
)
