/**
 * The headless host: `node dist/cli.js --config FILE.json [--data-dir DIR]`.
 * Settings from the JSON file (keys are the setting ids), secrets from the environment only.
 * Goes online at start; SIGTERM or SIGINT takes it offline (announcement withdrawn) and exits 0.
 * An error nothing else caught is logged as one line and the host keeps serving (processGuards.ts).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer, Logger, ManagedRuntime, Result, Stream, SubscriptionRef } from "effect"
import { offeredModels } from "./dvm/catalogue"
import { type Config, decodeQualifiedConfig } from "./dvm/config"
import { DATABASE_URL_ENV, redactUrl } from "./dvm/fleet/database"
import { FLEET_LEASE_ENV } from "./dvm/fleet/leases"
import { postgresFleetLayer } from "./dvm/fleet/PostgresFleet"
import { providerLayer } from "./dvm/providerLayer"
import { parseMnemonic } from "./dvm/mnemonic"
import { keysFromSecret, parseSecretKey } from "./dvm/protocol/identity"
import { useWasmSignatures } from "./dvm/protocol/signing"
import { serverName } from "./dvm/modelServer"
import { Inference } from "./dvm/services/Inference"
import { Kind5050DVM, reachable, relaySummary, relaysSettled } from "./dvm/services/Kind5050DVM"
import { Nostr, RELAY_TIMEOUT_MS } from "./dvm/services/Nostr"
import { Secrets } from "./dvm/services/Secrets"
import { Settings } from "./dvm/services/Settings"
import { runSelfTest, verdictLine } from "./dvm/selfTest"
import { consoleLogger } from "./headless/consoleLog"
import { walletLayer } from "./dvm/services/walletLayer"
import { uniformDeadlines, WALLET_DEADLINES } from "./dvm/services/walletDeadlines"
import { envSecretsLayer, GENERATED_KEY_FILE, SECRET_ENV } from "./headless/envSecrets"
import { installProcessGuards } from "./headless/processGuards"

/** Optional: one deadline for every wallet call, in seconds (the defaults are in walletDeadlines.ts). */
const WALLET_TIMEOUT_ENV = "SELL_COMPUTE_WALLET_TIMEOUT_S"

const USAGE = `Usage: sell-compute --config FILE.json [--data-dir DIR]
       sell-compute self-test --config FILE.json [--data-dir DIR]

self-test: through each configured relay on its own, a throwaway customer (a key derived from the
provider's, served free: no sats move) finds the announcement and heartbeat, sends a small job and
checks the feedback and result; one line per relay; exit 0 only when every relay passed. The
provider must be online (in another process, or a VS Code window) with the same key.

FILE.json is an object keyed by setting id, e.g. {"sellCompute.relays": ["wss://nos.lol"]}.
Secrets come from the environment: ${SECRET_ENV.nostrSecretKey} (hex or nsec; generated and kept
in the data dir when unset), ${SECRET_ENV.sparkMnemonic} (wallet.backend "spark") and
${SECRET_ENV.nwcUrl} (wallet.backend "nwc"), ${SECRET_ENV.openaiApiKey} (inference.backend "openai",
when the server asks for a key).
${WALLET_TIMEOUT_ENV} (seconds, at most ${WALLET_DEADLINES.invoiceStatusMs / 1000}) shortens how long any wallet call may take.
${DATABASE_URL_ENV} (postgres://user:password@host:5432/db) makes this host one of a fleet: hosts
with the same key and database serve as one provider, their history in the database; a host
silent for ${FLEET_LEASE_ENV} seconds (default 30) is taken for dead and its jobs run by another.`

/** The start summary waits this long at most for every relay's first connection attempt to end. */
const SUMMARY_WAIT_MS = RELAY_TIMEOUT_MS + 2000

/**
 * What this provider serves and how, said once it is online, one plain line each (no secret): who
 * it is, each relay (connected or failed, and why), kinds, models, payment, price, where its data
 * and its key are.
 */
const startSummary = (config: Config, dataDir: string, keyFromEnv: boolean, databaseUrl: string | undefined) =>
  Effect.gen(function*() {
    const dvm = yield* Kind5050DVM
    const nostr = yield* Nostr
    // Each relay connected or failed once; one still trying after the bound is shown as connecting.
    yield* SubscriptionRef.changes(nostr.relayStates).pipe(
      Stream.filter(relaysSettled),
      Stream.take(1),
      Stream.runDrain,
      Effect.timeoutOrElse({ duration: SUMMARY_WAIT_MS, orElse: () => Effect.void })
    )
    const relays = yield* SubscriptionRef.get(nostr.relayStates)
    const status = yield* SubscriptionRef.get(dvm.status)
    const server = yield* (yield* Inference).status
    const name = serverName(server.backend)
    const chosen = config["textGeneration.model"]
    const allowed = config["textGeneration.models"]
    const offered = allowed.length > 0 ? ` (offered: ${offeredModels(server.models, config).join(", ") || "none of textGeneration.models"})` : ""
    const installed = server.reachable
      ? `${server.models.join(", ") || "none"} ${server.backend === "ollama" ? "installed in" : "offered by the"} ${name} at ${server.host}${offered}`
      : `${name} at ${server.host} not reachable now${server.error ? ` (${server.error})` : ""}`
    const mode = config["payment.mode"]
    const lines = [
      `Serving as ${status.npub ?? "(unknown)"}`,
      ...relays.map((r) => `Relay ${r.url}: ${relaySummary(r)}`),
      `Kinds: ${config.supportedJobKinds.join(", ")}`,
      `Models: ${installed}; a job without an installed model of its own gets ${chosen ? `"${chosen}"` : "the first installed"}`,
      `Payment mode: ${mode}${mode === "free" ? " (no invoices)" : ` (wallet: ${config["wallet.backend"]})`}`,
      `Price: at least ${config["pricing.minPriceSats"]} sats a job, ${config["pricing.pricePer1kTokens"]} sats per 1,000 tokens` +
        (mode === "free" ? " (not charged in free mode)" : ""),
      `Data dir: ${dataDir}`,
      ...(databaseUrl ? [`Fleet: job history, settlement and earnings in ${redactUrl(databaseUrl)}, shared by every host with this key`] : []),
      keyFromEnv
        ? `Key: from the environment variable ${SECRET_ENV.nostrSecretKey}`
        : `Key: generated, kept in ${path.join(dataDir, GENERATED_KEY_FILE)} (readable by this user only)`
    ]
    for (const line of lines) yield* Effect.logInfo(line)
    const reaching = relays.filter(reachable).length
    if (status.unreachable) yield* Effect.logWarning(`Needs attention: no customer can reach this provider until a relay connects (retried in the background)`)
    else yield* Effect.logInfo(`Reachable through ${reaching} of ${relays.length} relays (connected and subscribed)`)
  })

/** After a stop signal, exit even if going offline hangs. */
const STOP_DEADLINE_MS = 4500

const fail = (message: string, code = 2): never => {
  process.stderr.write(`sell-compute: ${message}\n`)
  process.exit(code)
}

const parseArgs = (argv: ReadonlyArray<string>) => {
  let config: string | undefined
  let dataDir: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    const [name, inline] = arg.includes("=") ? arg.split(/=(.*)/s, 2) as [string, string] : [arg, undefined]
    const value = () => inline ?? argv[++i] ?? fail(`${name} needs a value\n\n${USAGE}`)
    if (name === "--config") config = value()
    else if (name === "--data-dir") dataDir = value()
    else if (name === "--help" || name === "-h") {
      process.stdout.write(USAGE + "\n")
      process.exit(0)
    } else fail(`unknown argument ${arg}\n\n${USAGE}`)
  }
  if (!config) fail(`--config is required\n\n${USAGE}`)
  return { configFile: config as string, dataDir: path.resolve(dataDir ?? path.join(os.homedir(), ".sell-compute")) }
}

const readConfig = (file: string) => {
  let raw: unknown
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"))
  } catch (e) {
    return fail(`cannot read config ${file}: ${e instanceof Error ? e.message : String(e)}`)
  }
  const decoded = decodeQualifiedConfig(raw)
  if (Result.isFailure(decoded)) return fail(`invalid config ${file}: ${decoded.failure.message}`)
  return decoded.success
}

/** The fleet this host joins (env), or undefined: a host alone, its history in the data dir. */
const fleetOptions = () => {
  const url = process.env[DATABASE_URL_ENV]?.trim()
  if (!url) return undefined
  if (!/^postgres(ql)?:\/\//.test(url)) fail(`${DATABASE_URL_ENV} must be a postgres:// URL (given: ${redactUrl(url)})`)
  const lease = process.env[FLEET_LEASE_ENV]?.trim()
  if (!lease) return { databaseUrl: url }
  const seconds = Number(lease)
  if (!Number.isFinite(seconds) || seconds < 1 || seconds > 600) fail(`${FLEET_LEASE_ENV} must be a number of seconds from 1 to 600`)
  return { databaseUrl: url, leaseMs: Math.round(seconds * 1000) }
}

const walletDeadlines = () => {
  const given = process.env[WALLET_TIMEOUT_ENV]?.trim()
  if (!given) return WALLET_DEADLINES
  const seconds = Number(given)
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds * 1000 > WALLET_DEADLINES.invoiceStatusMs) {
    return fail(`${WALLET_TIMEOUT_ENV} must be a number of seconds above 0 and at most ${WALLET_DEADLINES.invoiceStatusMs / 1000}`)
  }
  return uniformDeadlines(Math.round(seconds * 1000))
}

/** Values no log line may show, read when an unexpected error is reported. */
const secretValues = (dataDir: string): ReadonlyArray<string> => {
  const values = [...Object.values(SECRET_ENV), DATABASE_URL_ENV].map((name) => process.env[name]?.trim() ?? "")
  try {
    const password = decodeURIComponent(new URL(process.env[DATABASE_URL_ENV] ?? "").password)
    if (password) values.push(password)
  } catch {
    // no database URL
  }
  const phrase = parseMnemonic(process.env[SECRET_ENV.sparkMnemonic] ?? "")
  if (typeof phrase === "string") values.push(phrase)
  try {
    values.push(fs.readFileSync(path.join(dataDir, GENERATED_KEY_FILE), "utf8").trim())
  } catch {
    // no generated key yet
  }
  return values.filter((v) => v !== "")
}

/** `self-test`: the provider's key resolved as the host does (never generated here), then each relay tested. */
const selfTest = async (args: ReadonlyArray<string>) => {
  const { configFile, dataDir } = parseArgs(args)
  installProcessGuards((line) => process.stderr.write(line + "\n"), () => secretValues(dataDir))
  const config = readConfig(configFile)
  const stored = await Effect.runPromise(
    Effect.gen(function*() {
      return yield* (yield* Secrets).get("nostrSecretKey")
    }).pipe(Effect.provide(envSecretsLayer(process.env, dataDir)))
  )
  if (stored === undefined) {
    return fail(`no Nostr key: set ${SECRET_ENV.nostrSecretKey}, or give the --data-dir the provider runs with (its key is kept there)`)
  }
  const secretKey = parseSecretKey(stored)
  if ("error" in secretKey) return fail(`the provider's key is not usable: ${secretKey.error}`)
  await useWasmSignatures()
  const out = (line: string) => process.stdout.write(line + "\n")
  out(`Self-test of ${keysFromSecret(secretKey).npub} through ${config.relays.length} relay(s), each on its own, as a throwaway customer (served free: no sats are spent)`)
  const report = await runSelfTest({
    relays: config.relays,
    providerSecretKey: secretKey,
    onStep: (url, step) => out(`  ${url}: ${step.ok ? "ok" : "FAILED"} ${step.step}: ${step.detail}`)
  })
  for (const verdict of report.relays) out(verdictLine(verdict))
  const failed = report.relays.filter((r) => !r.ok).length
  out(report.ok ? `Verdict: customers can reach this provider through all ${report.relays.length} relay(s)` : `Verdict: ${failed} of ${report.relays.length} relay(s) failed`)
  process.exit(report.ok ? 0 : 1)
}

const main = async () => {
  if (process.argv[2] === "self-test") return selfTest(process.argv.slice(3))
  const { configFile, dataDir } = parseArgs(process.argv.slice(2))
  installProcessGuards((line) => process.stderr.write(line + "\n"), () => secretValues(dataDir))
  const config = readConfig(configFile)
  const givenKey = process.env[SECRET_ENV.nostrSecretKey]
  const keyFromEnv = givenKey !== undefined && givenKey.trim() !== ""
  if (keyFromEnv) {
    const parsed = parseSecretKey(givenKey)
    if ("error" in parsed) fail(`${SECRET_ENV.nostrSecretKey} is not usable: ${parsed.error}`)
  }
  const givenMnemonic = process.env[SECRET_ENV.sparkMnemonic]
  if (givenMnemonic && givenMnemonic.trim() !== "") {
    // Checked here, so a typo is named at start and never reaches the SDK (whose errors may quote it).
    const parsed = parseMnemonic(givenMnemonic)
    if (typeof parsed !== "string") fail(`${SECRET_ENV.sparkMnemonic} is not usable: ${parsed.error}`)
  }
  const deadlines = walletDeadlines()
  const fleet = fleetOptions()
  fs.mkdirSync(dataDir, { recursive: true })
  await useWasmSignatures()

  // A wallet not set up is named with this host's way to set it: the environment.
  const setUpHint = { spark: `set ${SECRET_ENV.sparkMnemonic}`, nwc: `set ${SECRET_ENV.nwcUrl}` }
  const layer = providerLayer({ dataDir, wallet: walletLayer({ deadlines, setUpHint }), ...(fleet ? { fleet: postgresFleetLayer(fleet) } : {}) }).pipe(
    Layer.provide(Layer.mergeAll(Settings.fixed(config), envSecretsLayer(process.env, dataDir))),
    Layer.provideMerge(Logger.layer([consoleLogger((line) => process.stderr.write(line + "\n"))]))
  )
  const runtime = ManagedRuntime.make(layer)

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    process.stderr.write(`Received ${signal}, going offline…\n`)
    setTimeout(() => process.exit(0), STOP_DEADLINE_MS).unref()
    runtime.dispose().then(() => process.exit(0), () => process.exit(0))
  }
  process.on("SIGTERM", () => stop("SIGTERM"))
  process.on("SIGINT", () => stop("SIGINT"))

  const started = await runtime.runPromiseExit(
    Effect.gen(function*() {
      const dvm = yield* Kind5050DVM
      yield* dvm.goOnline
    })
  )
  if (started._tag === "Failure") {
    const reason = started.cause.reasons.map((r) => (r._tag === "Fail" ? (r.error as { message?: string }).message : String(r))).join("; ")
    await runtime.dispose()
    fail(reason || "could not go online", 1)
  }
  if (!stopping) await runtime.runPromise(startSummary(config, dataDir, keyFromEnv, fleet?.databaseUrl).pipe(Effect.ignore))
}

main().catch((e) => fail(`unexpected error: ${e instanceof Error ? e.message : String(e)}`, 1))
