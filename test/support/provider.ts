/**
 * Runs the real provider in-process for integration tests: the production layers with test
 * settings (changeable), in-memory secrets, a captured log and the wallet stand-in.
 */
import { Effect, Layer, Logger, ManagedRuntime, SubscriptionRef } from "effect"
import { bytesToHex } from "nostr-tools/utils"
import { generateSecretKey, getPublicKey } from "nostr-tools/pure"
import { type Config, defaultConfig } from "../../src/dvm/config"
import { providerLayer } from "../../src/dvm/providerLayer"
import type { WalletDeadlines } from "../../src/dvm/services/walletDeadlines"
import { consoleLogger } from "../../src/headless/consoleLog"
import { useWasmSignatures } from "../../src/dvm/protocol/signing"
import type { Inference } from "../../src/dvm/services/Inference"
import { type JobRecord, JobStore } from "../../src/dvm/services/JobStore"
import { Kind5050DVM } from "../../src/dvm/services/Kind5050DVM"
import { type SecretName, Secrets } from "../../src/dvm/services/Secrets"
import { Settings } from "../../src/dvm/services/Settings"
import { Settlement } from "../../src/dvm/services/Settlement"
import { makeWalletStandIn, type WalletStandIn } from "./walletStandIn"

export interface TestProvider {
  /** Our key as given (with `generateKey`: not known until the provider generated one; see `secrets`). */
  readonly pubkey: string
  readonly secretKeyHex: string
  /** What the provider's Secrets hold right now (a key it generated, say). */
  readonly secrets: Partial<Record<SecretName, string>>
  readonly wallet: WalletStandIn
  readonly logs: Array<string>
  /** The same lines as the headless host writes them (its real logger), escaping included. */
  readonly consoleLines: Array<string>
  readonly run: <A, E>(effect: Effect.Effect<A, E, Kind5050DVM | JobStore | Settlement | Inference>) => Promise<A>
  readonly jobRecord: (id: string) => Promise<JobRecord | undefined>
  readonly goOnline: () => Promise<void>
  readonly goOffline: () => Promise<void>
  readonly updateConfig: (patch: Partial<Config>) => Promise<void>
  readonly dispose: () => Promise<void>
}

export interface ProviderOptions {
  readonly dataDir?: string
  readonly secretKeyHex?: string
  /** Use the production wallet layer (Spark/NWC by setting) instead of the stand-in. */
  readonly realWallet?: boolean
  readonly secrets?: Partial<Record<SecretName, string>>
  /** Start with no Nostr key stored, so the provider generates one (as on a first install). */
  readonly generateKey?: boolean
  /** Deadlines for the wallet's calls (default: the product's). */
  readonly walletDeadlines?: WalletDeadlines
}

export const startProvider = async (config: Partial<Config>, options: ProviderOptions = {}): Promise<TestProvider> => {
  await useWasmSignatures() // as the hosts do
  const secretKeyHex = options.secretKeyHex ?? bytesToHex(generateSecretKey())
  const pubkey = getPublicKey(Uint8Array.from(Buffer.from(secretKeyHex, "hex")))
  const wallet = makeWalletStandIn()
  const logs: Array<string> = []
  const consoleLines: Array<string> = []
  // Partial results are off unless a test turns them on: the tests of everything else count feedback exactly.
  const configRef = await Effect.runPromise(SubscriptionRef.make<Config>({ ...defaultConfig, "streaming.intervalMs": 0, ...config }))
  const logger = Logger.make(({ logLevel, message }) => {
    logs.push(`${logLevel} ${(Array.isArray(message) ? message : [message]).map(String).join(" ")}`)
  })
  const secrets: Partial<Record<SecretName, string>> = options.generateKey
    ? { ...options.secrets }
    : { ...options.secrets, nostrSecretKey: secretKeyHex }
  // Held in memory as Secrets.inMemory does, but readable by the test.
  const secretsLayer = Layer.succeed(Secrets, Secrets.of({
    get: (name) => Effect.sync(() => secrets[name]),
    set: (name, value) => Effect.sync(() => void (secrets[name] = value)),
    remove: (name) => Effect.sync(() => void delete secrets[name])
  }))
  const layer = providerLayer({
    dataDir: options.dataDir,
    ...(options.realWallet ? {} : { wallet: wallet.layer }),
    ...(options.walletDeadlines ? { walletDeadlines: options.walletDeadlines } : {})
  }).pipe(
    Layer.provide(Layer.mergeAll(Settings.fromRef(configRef), secretsLayer)),
    Layer.provideMerge(Logger.layer([logger, consoleLogger((line) => consoleLines.push(line))]))
  )
  const runtime = ManagedRuntime.make(layer)
  const run = <A, E>(effect: Effect.Effect<A, E, Kind5050DVM | JobStore | Settlement | Inference>) => runtime.runPromise(effect)
  return {
    pubkey,
    secretKeyHex,
    secrets,
    wallet,
    logs,
    consoleLines,
    run,
    jobRecord: (id) => run(Effect.gen(function*() {
      return yield* (yield* JobStore).get(id)
    })),
    goOnline: () => run(Effect.gen(function*() { yield* (yield* Kind5050DVM).goOnline })),
    goOffline: () => run(Effect.gen(function*() { yield* (yield* Kind5050DVM).goOffline })),
    updateConfig: (patch) => Effect.runPromise(SubscriptionRef.update(configRef, (c) => ({ ...c, ...patch }))),
    dispose: () => runtime.dispose()
  }
}
