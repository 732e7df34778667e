/**
 * Secrets for the headless host: from the environment, never from the config file. A Nostr key
 * generated on first start (none in the environment) is kept in `<data-dir>/nostr-secret-key`,
 * readable by the owner only (narrowed again at every start, in case it was copied in wider), so the
 * provider keeps one identity across restarts.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Layer } from "effect"
import { ensurePrivateDir, FILE_MODE, makePrivate } from "../dvm/dataDir"
import { parseMnemonic } from "../dvm/mnemonic"
import { type SecretName, Secrets } from "../dvm/services/Secrets"

export const SECRET_ENV: Record<SecretName, string> = {
  nostrSecretKey: "SELL_COMPUTE_NOSTR_SECRET_KEY",
  sparkMnemonic: "SELL_COMPUTE_SPARK_MNEMONIC",
  nwcUrl: "SELL_COMPUTE_NWC_URL",
  openaiApiKey: "SELL_COMPUTE_OPENAI_API_KEY"
}

export const GENERATED_KEY_FILE = "nostr-secret-key"

export const envSecretsLayer = (env: NodeJS.ProcessEnv, dataDir: string) =>
  Layer.sync(Secrets, () => {
    const keyFile = path.join(dataDir, GENERATED_KEY_FILE)
    makePrivate(keyFile)
    const fromEnv = (name: SecretName) => {
      const value = env[SECRET_ENV[name]]?.trim()
      if (!value) return undefined
      // The phrase as the wallet expects it: lower case, single spaces (cli.ts rejects an invalid one).
      if (name === "sparkMnemonic") {
        const phrase = parseMnemonic(value)
        return typeof phrase === "string" ? phrase : value
      }
      return value
    }
    return Secrets.of({
      get: (name) =>
        Effect.sync(() => {
          const value = fromEnv(name)
          if (value !== undefined || name !== "nostrSecretKey") return value
          return fs.existsSync(keyFile) ? fs.readFileSync(keyFile, "utf8").trim() : undefined
        }),
      set: (name, value) =>
        Effect.sync(() => {
          if (name !== "nostrSecretKey") return // other secrets come from the environment only
          ensurePrivateDir(dataDir)
          makePrivate(keyFile) // before writing: the mode below applies only when the file is created
          fs.writeFileSync(keyFile, value + "\n", { mode: FILE_MODE })
        }),
      remove: (name) =>
        Effect.sync(() => {
          if (name === "nostrSecretKey") fs.rmSync(keyFile, { force: true })
        })
    })
  })
