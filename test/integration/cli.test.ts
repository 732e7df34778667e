// The headless host as a user runs it: `node dist/cli.js --config FILE --data-dir DIR`, real relay,
// Ollama API stand-in, stopped with SIGTERM. Needs `npm run build` first (npm test does it).
import assert from "node:assert/strict"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { bytesToHex } from "nostr-tools/utils"
import { generateSecretKey, getPublicKey } from "nostr-tools/pure"
import * as nip19 from "nostr-tools/nip19"
import { GENERATED_KEY_FILE } from "../../src/headless/envSecrets"
import { CLI, runCli } from "../support/cli"
import { Customer, statusOf } from "../support/customer"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { type RelayProcess, startRelay } from "../support/relay"

describe("headless host (dist/cli.js)", function() {
  this.timeout(30_000)
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
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-cli-"))
    // An empty relay per test: a job left by an earlier test would be served by the next provider.
    await relay.restart()
    ollama.reset()
  })
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

  const writeConfig = (config: Record<string, unknown>) => {
    const file = path.join(dir, "config.json")
    fs.writeFileSync(file, JSON.stringify(config))
    return file
  }

  it("exits non-zero naming the bad setting when the config is invalid", async () => {
    const file = writeConfig({ "sellCompute.maxConcurrentJobs": 1000 })
    const run = runCli(["--config", file])
    assert.equal(await run.exited, 2)
    assert.match(run.output(), /sellCompute\.maxConcurrentJobs/)
  })

  it("exits non-zero with a reason, without echoing it, when the secret key is malformed", async () => {
    const file = writeConfig({ "sellCompute.relays": [relay.url] })
    const run = runCli(["--config", file, "--data-dir", dir], { SELL_COMPUTE_NOSTR_SECRET_KEY: "nsec1notreallyakey" })
    assert.notEqual(await run.exited, 0)
    assert.match(run.output(), /SELL_COMPUTE_NOSTR_SECRET_KEY is not usable/)
    assert.ok(!run.output().includes("nsec1notreallyakey"))
  })

  it("exits non-zero with a reason, without echoing it, when the wallet phrase is malformed", async () => {
    const file = writeConfig({ "sellCompute.relays": [relay.url] })
    const phrase = "abandon ability able about above absent absorb abstract absurd abuse access accident"
    const run = runCli(["--config", file, "--data-dir", dir], { SELL_COMPUTE_SPARK_MNEMONIC: phrase })
    assert.notEqual(await run.exited, 0)
    assert.match(run.output(), /SELL_COMPUTE_SPARK_MNEMONIC is not usable: not a valid BIP-39 phrase/)
    assert.ok(!run.output().includes("abandon"), "no word of the phrase in the output")
  })

  it("runs as a command of its own (package.json bin)", async () => {
    assert.ok(fs.readFileSync(CLI, "utf8").startsWith("#!/usr/bin/env node\n"))
    fs.chmodSync(CLI, 0o755)
    const child = spawn(CLI, ["--help"], { env: { PATH: process.env.PATH }, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (d) => (output += d))
    assert.equal(await new Promise((resolve) => child.once("exit", resolve)), 0)
    assert.match(output, /Usage: sell-compute --config FILE.json/)
  })

  it("on SIGINT mid-job, with one relay dead, tells the customer, withdraws its announcement and exits 0", async () => {
    ollama.setMode("hang")
    const secretKey = generateSecretKey()
    const pubkey = getPublicKey(secretKey)
    const file = writeConfig({
      "sellCompute.relays": [relay.url, "ws://127.0.0.1:1"],
      "sellCompute.ollama.host": ollama.url,
      "sellCompute.payment.mode": "free"
    })
    const run = runCli(["--config", file, "--data-dir", dir], { SELL_COMPUTE_NOSTR_SECRET_KEY: bytesToHex(secretKey) })
    const customer = new Customer([relay.url])
    try {
      await customer.listen()
      await waitFor(() => run.output().includes("Online as"), 20_000, "online")
      const job = await customer.publish(customer.buildJob({ prompt: "interrupted" }))
      await waitFor(() => ollama.inFlight === 1, 10_000, "inference started")
      run.child.kill("SIGINT")
      assert.equal(await run.exited, 0)
      assert.equal((await customer.pool.querySync([relay.url], { kinds: [5], authors: [pubkey] })).length, 1, "announcement withdrawn")
      const statuses = customer.repliesFor(job.id).feedback.map(statusOf)
      assert.equal(statuses.at(-1), "error", `feedback: ${statuses.join(", ")}`)
    } finally {
      ollama.setMode("ok")
      customer.close()
      run.child.kill("SIGKILL")
    }
  })

  it("goes online, serves a job, and on SIGTERM withdraws its announcement and exits 0", async () => {
    const secretKey = generateSecretKey()
    const pubkey = getPublicKey(secretKey)
    const file = writeConfig({
      "sellCompute.relays": [relay.url],
      "sellCompute.ollama.host": ollama.url,
      "sellCompute.payment.mode": "free"
    })
    const nsec = nip19.nsecEncode(secretKey)
    const run = runCli(["--config", file, "--data-dir", dir], { SELL_COMPUTE_NOSTR_SECRET_KEY: nsec })
    const customer = new Customer([relay.url])
    try {
      await customer.listen()
      await waitFor(() => run.output().includes("Online as"), 15_000, "online")
      const handlers = await customer.pool.querySync([relay.url], { kinds: [31990], authors: [pubkey] })
      assert.equal(handlers.length, 1)

      const job = await customer.publish(customer.buildJob({ prompt: "hello from the cli test" }))
      const replies = customer.repliesFor(job.id)
      await waitFor(() => replies.feedback.some((f) => statusOf(f) === "success"), 15_000, "success")
      assert.equal(replies.results[0]?.pubkey, pubkey)

      run.child.kill("SIGTERM")
      const stoppedAt = Date.now()
      assert.equal(await run.exited, 0)
      assert.ok(Date.now() - stoppedAt < 5000, "exited within 5 s")
      const deletions = await customer.pool.querySync([relay.url], { kinds: [5], authors: [pubkey] })
      assert.equal(deletions.length, 1)
      assert.equal((await customer.pool.querySync([relay.url], { kinds: [31990], authors: [pubkey] })).length, 0)

      const log = run.output()
      assert.ok(!log.includes(nsec) && !log.includes(bytesToHex(secretKey)), "no secret in the log")
      assert.match(log, /Online as npub1/)
    } finally {
      customer.close()
      run.child.kill("SIGKILL")
    }
  })

  it("says at start who it is, each relay connected or failed, kinds, models, payment, price, data dir and where the key is", async () => {
    const secretKey = generateSecretKey()
    const npub = nip19.npubEncode(getPublicKey(secretKey))
    const file = writeConfig({
      "sellCompute.relays": [relay.url, "ws://127.0.0.1:1"],
      "sellCompute.ollama.host": ollama.url,
      "sellCompute.payment.mode": "free",
      "sellCompute.pricing.minPriceSats": 5,
      "sellCompute.pricing.pricePer1kTokens": 1.5
    })
    const run = runCli(["--config", file, "--data-dir", dir], { SELL_COMPUTE_NOSTR_SECRET_KEY: bytesToHex(secretKey) })
    try {
      await waitFor(() => run.output().includes("Key: "), 20_000, "the start summary")
      const log = run.output()
      const line = (pattern: RegExp) => assert.match(log, pattern, log)
      line(new RegExp(`INFO  Serving as ${npub}\n`))
      line(new RegExp(`INFO  Relay ${relay.url}: connected, subscribed, announcement accepted\n`))
      line(/INFO  Relay ws:\/\/127\.0\.0\.1:1: failed.*\(last error: .*ECONNREFUSED.*\)\n/)
      line(/INFO  Kinds: 5050, 5001, 5002\n/)
      line(new RegExp(`INFO  Models: llama3\\.2:1b installed in Ollama at ${ollama.url.replace(/\./g, "\\.")}; `))
      line(/INFO  Payment mode: free \(no invoices\)\n/)
      line(/INFO  Price: at least 5 sats a job, 1\.5 sats per 1,000 tokens \(not charged in free mode\)\n/)
      line(new RegExp(`INFO  Data dir: ${dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\n`))
      line(/INFO  Key: from the environment variable SELL_COMPUTE_NOSTR_SECRET_KEY\n/)
      assert.ok(!log.includes(bytesToHex(secretKey)) && !log.includes(nip19.nsecEncode(secretKey)), "no secret in the log")
      line(/INFO  Reachable through 1 of 2 relays \(connected and subscribed\)\n/)
      assert.ok(!/Needs attention/.test(log), "one relay reaches customers")
    } finally {
      run.child.kill("SIGTERM")
      await run.exited
    }
  })

  it("with only a dead relay, goes online saying it needs attention and why, and where its generated key is kept", async () => {
    const file = writeConfig({ "sellCompute.relays": ["ws://127.0.0.1:1"], "sellCompute.ollama.host": ollama.url, "sellCompute.payment.mode": "free" })
    const run = runCli(["--config", file, "--data-dir", dir])
    try {
      await waitFor(() => run.output().includes("Needs attention"), 20_000, "the warning")
      const log = run.output()
      assert.match(log, /INFO  Relay ws:\/\/127\.0\.0\.1:1: failed.*ECONNREFUSED/)
      assert.match(log, /WARN  Online, but no relay is connected \(ws:\/\/127\.0\.0\.1:1: .*ECONNREFUSED.*\), so no customer can reach this provider; its relays are retried in the background/)
      assert.match(log, /WARN  Needs attention: no customer can reach this provider until a relay connects \(retried in the background\)/)
      assert.ok(log.includes(`Key: generated, kept in ${path.join(dir, GENERATED_KEY_FILE)} (readable by this user only)`), log)
      const key = fs.readFileSync(path.join(dir, GENERATED_KEY_FILE), "utf8").trim()
      assert.ok(key.length > 0 && !log.includes(key), "the generated key is not in the log")
    } finally {
      run.child.kill("SIGTERM")
      assert.equal(await run.exited, 0)
    }
  })

  it("refuses to go online while another process is online with the same data dir", async () => {
    const file = writeConfig({
      "sellCompute.relays": [relay.url],
      "sellCompute.ollama.host": ollama.url,
      "sellCompute.payment.mode": "free"
    })
    const first = runCli(["--config", file, "--data-dir", dir])
    try {
      await waitFor(() => first.output().includes("Online as"), 15_000, "first online")
      const second = runCli(["--config", file, "--data-dir", dir])
      assert.equal(await second.exited, 1)
      assert.match(second.output(), /already online in another window or process \(pid \d+\)/)
    } finally {
      first.child.kill("SIGTERM")
      assert.equal(await first.exited, 0)
    }
    assert.ok(!fs.existsSync(path.join(dir, "online.lock")), "the lock is released on going offline")
  })

  it("generates an identity once per install and keeps it across restarts, without replaying handled jobs", async () => {
    const file = writeConfig({
      "sellCompute.relays": [relay.url],
      "sellCompute.ollama.host": ollama.url,
      "sellCompute.payment.mode": "free"
    })
    const customer = new Customer([relay.url])
    await customer.listen()
    try {
      const first = runCli(["--config", file, "--data-dir", dir])
      await waitFor(() => first.output().includes("Online as"), 15_000, "online")
      const npub = /Online as (npub1\w+)/.exec(first.output())?.[1]
      assert.ok(npub)
      assert.equal(fs.statSync(path.join(dir, GENERATED_KEY_FILE)).mode & 0o777, 0o600)
      ollama.reset()
      const job = await customer.publish(customer.buildJob({ prompt: "only once please" }))
      await waitFor(() => customer.repliesFor(job.id).results.length === 1, 15_000, "result")
      first.child.kill("SIGTERM")
      assert.equal(await first.exited, 0)

      const second = runCli(["--config", file, "--data-dir", dir])
      await waitFor(() => second.output().includes("Online as"), 15_000, "online again")
      assert.equal(/Online as (npub1\w+)/.exec(second.output())?.[1], npub, "same identity after restart")
      // A new job proves the second run is subscribed; the old one (still on the relay) must not rerun.
      const next = await customer.publish(customer.buildJob({ prompt: "a new job" }))
      await waitFor(() => customer.repliesFor(next.id).results.length === 1, 15_000, "second result")
      second.child.kill("SIGTERM")
      assert.equal(await second.exited, 0)
      assert.deepEqual(ollama.requests.map((r) => r.prompt), ["only once please", "a new job"])
      assert.equal(customer.repliesFor(job.id).results.length, 1)
    } finally {
      customer.close()
    }
  })
})
