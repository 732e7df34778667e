// A Nostr key the provider generates for itself (first start, none given) is a secret like any
// other: it never reaches a log line, and no file but the key file holds it, in either host. Checked
// as hex (either case) and as nsec, over a whole session: going online, a served job, going offline.
// The headless half needs `npm run build` first (npm test does it).
import assert from "node:assert/strict"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as nip19 from "nostr-tools/nip19"
import { getPublicKey } from "nostr-tools/pure"
import { GENERATED_KEY_FILE } from "../../src/headless/envSecrets"
import { runCli } from "../support/cli"
import { Customer, statusOf } from "../support/customer"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startProvider, type TestProvider } from "../support/provider"
import { type RelayProcess, startRelay } from "../support/relay"

/** The forms a 32-byte secret key is written in. */
const formsOf = (hex: string) => {
  const bytes = Uint8Array.from(Buffer.from(hex, "hex"))
  return { hex: hex.toLowerCase(), nsec: nip19.nsecEncode(bytes), npub: nip19.npubEncode(getPublicKey(bytes)) }
}

/** Where in `text` the key appears (hex in any case, or nsec), or undefined. */
const leakIn = (text: string, key: ReturnType<typeof formsOf>): string | undefined => {
  if (text.toLowerCase().includes(key.hex)) return "the key in hex"
  if (text.includes(key.nsec)) return "the key as nsec"
  return undefined
}

/** Every file under `dir` (relative paths), recursively. */
const filesUnder = (dir: string, prefix = ""): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(path.join(dir, entry.name), path.join(prefix, entry.name)) : [path.join(prefix, entry.name)])

describe("a generated Nostr key is never logged, nor written anywhere but its key file", function() {
  this.timeout(60_000)
  let relay: RelayProcess
  let ollama: OllamaStandIn
  let dir: string

  before(async () => {
    ;[relay, ollama] = await Promise.all([startRelay(), startOllamaStandIn({ models: ["llama3.2:1b"] })])
  })
  after(async () => {
    await Promise.all([relay?.stop(), ollama?.close()])
  })
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-genkey-"))
    await relay.restart()
    ollama.reset()
  })
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

  /** A job served end to end, so the session writes what a session writes (history, log lines). */
  const serveOneJob = async (customer: Customer) => {
    const job = await customer.publish(customer.buildJob({ prompt: "hello, new provider" }))
    await waitFor(() => customer.repliesFor(job.id).feedback.some((f) => statusOf(f) === "success"), 15_000, "the job served")
  }

  it("headless host (dist/cli.js): not in its output, and in no file of the data dir but nostr-secret-key", async () => {
    const config = path.join(dir, "config.json")
    const dataDir = path.join(dir, "data")
    fs.writeFileSync(config, JSON.stringify({
      "sellCompute.relays": [relay.url],
      "sellCompute.ollama.host": ollama.url,
      "sellCompute.payment.mode": "free"
    }))
    // No SELL_COMPUTE_NOSTR_SECRET_KEY: the host generates a key into the data dir.
    const { child, output: outputSoFar, exited } = runCli(["--config", config, "--data-dir", dataDir])
    const customer = new Customer([relay.url])
    try {
      await customer.listen()
      await waitFor(() => outputSoFar().includes("Online as"), 20_000, "online")
      await serveOneJob(customer)
      child.kill("SIGTERM")
      assert.equal(await exited, 0)
    } finally {
      customer.close()
      child.kill("SIGKILL")
    }

    const output = outputSoFar()
    const keyFile = path.join(dataDir, GENERATED_KEY_FILE)
    const key = formsOf(fs.readFileSync(keyFile, "utf8").trim())
    assert.ok(output.includes(`Online as ${key.npub}`), "the output names the generated identity by its npub (control)")
    assert.equal(leakIn(output, key), undefined, `the output shows ${leakIn(output, key)}:\n${output}`)
    const others = filesUnder(dataDir).filter((f) => f !== GENERATED_KEY_FILE)
    assert.ok(others.includes("jobs.jsonl"), `the session wrote its history (control): ${others.join(", ")}`)
    for (const file of others) {
      const where = leakIn(fs.readFileSync(path.join(dataDir, file), "latin1"), key)
      assert.equal(where, undefined, `${file} holds ${where}`)
    }
    const elsewhere = filesUnder(dir).filter((f) => f !== path.join("data", GENERATED_KEY_FILE))
    for (const file of elsewhere) assert.equal(leakIn(fs.readFileSync(path.join(dir, file), "latin1"), key), undefined, file)
  })

  it("in-process provider (the layers both hosts share): not in any log line, and in no file of the data dir", async () => {
    let provider: TestProvider | undefined
    const customer = new Customer([relay.url])
    try {
      await customer.listen()
      provider = await startProvider({ relays: [relay.url], "ollama.host": ollama.url, "payment.mode": "free" }, { dataDir: dir, generateKey: true })
      assert.equal(provider.secrets.nostrSecretKey, undefined, "no key before going online")
      await provider.goOnline()
      await serveOneJob(customer)
      await provider.goOffline()
      const stored = provider.secrets.nostrSecretKey
      assert.ok(stored, "a key was generated and stored in Secrets")
      const key = formsOf(stored)
      const lines = [...provider.logs, ...provider.consoleLines]
      assert.ok(lines.some((l) => l.includes(key.npub)), "the log names the generated identity by its npub (control)")
      for (const line of lines) assert.equal(leakIn(line, key), undefined, `a log line shows ${leakIn(line, key)}: ${line}`)
      const files = filesUnder(dir)
      assert.ok(files.includes("jobs.jsonl"), `the session wrote its history (control): ${files.join(", ")}`)
      for (const file of files) {
        const where = leakIn(fs.readFileSync(path.join(dir, file), "latin1"), key)
        assert.equal(where, undefined, `${file} holds ${where}`)
      }
    } finally {
      customer.close()
      await provider?.dispose()
    }
  })
})
