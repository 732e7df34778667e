/** Secrets in VS Code's SecretStorage (the OS keychain on desktop), under fixed typed keys. */
import { Effect, Layer } from "effect"
import type * as vscode from "vscode"
import { type SecretName, Secrets } from "../dvm/services/Secrets"

export const SECRET_KEYS: Record<SecretName, string> = {
  nostrSecretKey: "sellCompute.nostrSecretKey",
  sparkMnemonic: "sellCompute.sparkMnemonic",
  nwcUrl: "sellCompute.nwcUrl",
  openaiApiKey: "sellCompute.openaiApiKey"
}

/** The storage's own error is replaced: it could echo what was being stored. */
const storageFailure = (action: string, name: SecretName) => () =>
  new Error(`SecretStorage could not ${action} ${name} (is the OS keychain available?)`)

export const secretStorageLayer = (storage: vscode.SecretStorage) =>
  Layer.succeed(
    Secrets,
    Secrets.of({
      get: (name) =>
        Effect.tryPromise({ try: async () => storage.get(SECRET_KEYS[name]), catch: storageFailure("read", name) }).pipe(Effect.orDie),
      set: (name, value) =>
        Effect.tryPromise({ try: async () => storage.store(SECRET_KEYS[name], value), catch: storageFailure("store", name) }).pipe(
          Effect.orDie
        ),
      remove: (name) =>
        Effect.tryPromise({ try: async () => storage.delete(SECRET_KEYS[name]), catch: storageFailure("delete", name) }).pipe(
          Effect.orDie
        )
    })
  )
