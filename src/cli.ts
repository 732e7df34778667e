/**
 * The headless host: `node dist/cli.js --config FILE.json [--data-dir DIR]`.
 * Settings from the JSON file (keys are the setting ids), secrets from the environment only.
 * Goes online at start; SIGTERM or SIGINT takes it offline (announcement withdrawn) and exits 0.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer, Logger, ManagedRuntime, Result } from "effect"
import { decodeQualifiedConfig } from "./dvm/config"
import { providerLayer } from "./dvm/providerLayer"
import { parseMnemonic } from "./dvm/mnemonic"
import { parseSecretKey } from "./dvm/protocol/identity"
import { useWasmSignatures } from "./dvm/protocol/signing"
import { Kind5050DVM } from "./dvm/services/Kind5050DVM"
import { Settings } from "./dvm/services/Settings"
import { consoleLogger } from "./headless/consoleLog"
import { envSecretsLayer, SECRET_ENV } from "./headless/envSecrets"

const USAGE = `Usage: sell-compute --config FILE.json [--data-dir DIR]

FILE.json is an object keyed by setting id, e.g. {"sellCompute.relays": ["wss://nos.lol"]}.
Secrets come from the environment: ${SECRET_ENV.nostrSecretKey} (hex or nsec; generated and kept
in the data dir when unset), ${SECRET_ENV.sparkMnemonic} (wallet.backend "spark") and
${SECRET_ENV.nwcUrl} (wallet.backend "nwc").`

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

const main = async () => {
  const { configFile, dataDir } = parseArgs(process.argv.slice(2))
  const config = readConfig(configFile)
  const givenKey = process.env[SECRET_ENV.nostrSecretKey]
  if (givenKey && givenKey.trim() !== "") {
    const parsed = parseSecretKey(givenKey)
    if ("error" in parsed) fail(`${SECRET_ENV.nostrSecretKey} is not usable: ${parsed.error}`)
  }
  const givenMnemonic = process.env[SECRET_ENV.sparkMnemonic]
  if (givenMnemonic && givenMnemonic.trim() !== "") {
    // Checked here, so a typo is named at start and never reaches the SDK (whose errors may quote it).
    const parsed = parseMnemonic(givenMnemonic)
    if (typeof parsed !== "string") fail(`${SECRET_ENV.sparkMnemonic} is not usable: ${parsed.error}`)
  }
  fs.mkdirSync(dataDir, { recursive: true })
  await useWasmSignatures()

  const layer = providerLayer({ dataDir }).pipe(
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
}

main().catch((e) => fail(`unexpected error: ${e instanceof Error ? e.message : String(e)}`, 1))
