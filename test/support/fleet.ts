/**
 * Headless hosts of one fleet (`node dist/cli.js`, `npm run build` first): the same Nostr key and
 * SELL_COMPUTE_DATABASE_URL, each with its own config (its own Ollama) and data dir.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type Running, runCli } from "./cli"
import { waitFor } from "./ollama-server"

export interface FleetHost extends Running {
  readonly name: string
  readonly dataDir: string
  /** SIGTERM and wait for the exit code. */
  readonly stop: () => Promise<number | null>
  /** SIGKILL (a crash) and wait for the exit. */
  readonly kill: () => Promise<void>
}

export interface FleetHostOptions {
  readonly name: string
  readonly databaseUrl: string
  readonly secretKeyHex: string
  readonly config: Record<string, unknown>
  /** Seconds a silent host is taken for dead (tests shorten it). */
  readonly leaseSeconds?: number
  readonly env?: NodeJS.ProcessEnv
  /** Share a data dir with another host (default: one of its own). */
  readonly dataDir?: string
}

const hosts = new Set<FleetHost>()

export const startFleetHost = async (options: FleetHostOptions): Promise<FleetHost> => {
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `sell-compute-fleet-${options.name}-`))
  // A dir made here goes with the host; a shared one is left to whoever made it (the first host).
  const done = () => {
    hosts.delete(host)
    if (options.dataDir === undefined) fs.rmSync(dataDir, { recursive: true, force: true })
  }
  fs.mkdirSync(dataDir, { recursive: true })
  const configFile = path.join(dataDir, `config-${options.name}.json`)
  fs.writeFileSync(configFile, JSON.stringify(options.config))
  const running = runCli(["--config", configFile, "--data-dir", dataDir], {
    SELL_COMPUTE_NOSTR_SECRET_KEY: options.secretKeyHex,
    SELL_COMPUTE_DATABASE_URL: options.databaseUrl,
    ...(options.leaseSeconds !== undefined ? { SELL_COMPUTE_FLEET_LEASE_S: String(options.leaseSeconds) } : {}),
    ...options.env
  })
  const host: FleetHost = {
    ...running,
    name: options.name,
    dataDir,
    stop: async () => {
      running.child.kill("SIGTERM")
      const code = await running.exited
      done()
      return code
    },
    kill: async () => {
      running.child.kill("SIGKILL")
      await running.exited
      done()
    }
  }
  hosts.add(host)
  await waitFor(
    () => running.output().includes("Online as") || running.child.exitCode !== null,
    30_000,
    `${options.name} online: ${running.output()}`
  )
  if (running.child.exitCode !== null) throw new Error(`${options.name} exited: ${running.output()}`)
  return host
}

/** Kills every host still running (for `afterEach`). */
export const killFleetHosts = async () => {
  await Promise.all([...hosts].map((h) => h.kill()))
}
