/**
 * Secrets: the Nostr secret key, the Spark mnemonic, an NWC connection string, an OpenAI-compatible
 * server's API key. VS Code keeps them in SecretStorage, the
 * headless host reads them from the environment; they never reach settings, logs or messages.
 */
import { Context, Effect, Layer } from "effect"

export type SecretName = "nostrSecretKey" | "sparkMnemonic" | "nwcUrl" | "openaiApiKey"

export class Secrets extends Context.Service<Secrets, {
  readonly get: (name: SecretName) => Effect.Effect<string | undefined>
  readonly set: (name: SecretName, value: string) => Effect.Effect<void>
  readonly remove: (name: SecretName) => Effect.Effect<void>
}>()("sellCompute/Secrets") {
  /** Secrets held in memory only (tests, and values handed in by the host). */
  static readonly inMemory = (initial: Partial<Record<SecretName, string>> = {}) =>
    Layer.sync(Secrets, () => {
      const values = new Map(Object.entries(initial) as Array<[SecretName, string]>)
      return Secrets.of({
        get: (name) => Effect.sync(() => values.get(name)),
        set: (name, value) => Effect.sync(() => void values.set(name, value)),
        remove: (name) => Effect.sync(() => void values.delete(name))
      })
    })
}
