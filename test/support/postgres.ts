/**
 * A real PostgreSQL for the tests: one server per test run (started on first use, stopped when the
 * process exits), a fresh database per test file (`freshDatabase`). Debian's binaries under
 * /usr/lib/postgresql/<version>/bin (`.ci/run` installs the `postgresql` package when they are
 * missing). The cluster lives in a temp dir, listens on 127.0.0.1 on a free port only (no Unix
 * socket), and requires a password, so the tests can check it never shows. PostgreSQL refuses to
 * run as root: as root, the cluster belongs to `nobody` and its programs run through `setpriv`.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import pg from "pg"

export const DB_USER = "sellcompute"
/** The tests look for this in logs and errors: it must never appear. */
export const DB_PASSWORD = "fleet-db-pw-d41d8cd98f"

export interface PostgresServer {
  readonly port: number
  /** postgres://user:password@127.0.0.1:port/<database> */
  readonly urlFor: (database: string) => string
}

/** The newest installed version's bin dir, or undefined. */
export const postgresBinDir = (): string | undefined => {
  const root = "/usr/lib/postgresql"
  if (!fs.existsSync(root)) return undefined
  const versions = fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a))
  return versions[0] === undefined ? undefined : path.join(root, versions[0], "bin")
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

const asRoot = process.getuid?.() === 0
/** Runs a PostgreSQL program as the cluster's owner. */
const command = (program: string, args: ReadonlyArray<string>): [string, Array<string>] =>
  asRoot ? ["setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", program, ...args]] : [program, [...args]]

let started: Promise<PostgresServer> | undefined

export const postgres = (): Promise<PostgresServer> => (started ??= start())

const start = async (): Promise<PostgresServer> => {
  const bin = postgresBinDir()
  if (!bin) throw new Error("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): apt-get install -y postgresql")
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-pg-"))
  const data = path.join(dir, "data")
  const pwfile = path.join(dir, "pw")
  fs.writeFileSync(pwfile, DB_PASSWORD + "\n", { mode: 0o600 })
  if (asRoot) {
    fs.chmodSync(dir, 0o755)
    for (const p of [dir, pwfile]) fs.chownSync(p, 65534, 65534)
  }
  const run = (program: string, args: ReadonlyArray<string>) => {
    const [file, argv] = command(path.join(bin, program), args)
    execFileSync(file, argv, { stdio: ["ignore", "pipe", "pipe"], cwd: dir })
  }
  run("initdb", ["-D", data, "-U", DB_USER, "--pwfile", pwfile, "--auth=scram-sha-256", "-E", "UTF8", "--no-sync"])
  fs.rmSync(pwfile, { force: true })
  const port = await freePort()
  const stop = () => {
    const [file, argv] = command(path.join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"])
    spawnSync(file, argv, { stdio: "ignore", cwd: dir })
    fs.rmSync(dir, { recursive: true, force: true })
  }
  process.once("exit", stop)
  // fsync off: a test cluster need not survive a power cut, and the machine is shared.
  const options = `-p ${port} -h 127.0.0.1 -k '' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`
  run("pg_ctl", ["-D", data, "-l", path.join(dir, "log"), "-o", options, "-w", "-t", "60", "start"])
  return {
    port,
    urlFor: (database) => `postgres://${DB_USER}:${DB_PASSWORD}@127.0.0.1:${port}/${database}`
  }
}

let databases = 0

/** A new, empty database on the shared server; its URL. */
export const freshDatabase = async (label = "test"): Promise<string> => {
  const server = await postgres()
  const name = `${label.replace(/[^a-z0-9_]/gi, "_").toLowerCase()}_${process.pid}_${++databases}`
  const client = new pg.Client({ connectionString: server.urlFor("postgres") })
  await client.connect()
  try {
    await client.query(`CREATE DATABASE "${name}"`)
  } finally {
    await client.end()
  }
  return server.urlFor(name)
}

/** One query on a database (for tests that look at what the fleet wrote). */
export const query = async <R extends pg.QueryResultRow = pg.QueryResultRow>(url: string, text: string, values: Array<unknown> = []) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<R>(text, values)).rows
  } finally {
    await client.end()
  }
}
