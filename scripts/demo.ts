// `npm run demo`: Sell Compute seen working in one command, on this machine only. Starts a local
// relay (test/support/relay.ts) and a stand-in model speaking Ollama's API (test/support/ollama-server.ts,
// which answers by echoing the prompt), runs the real headless host (dist/cli.js) on them in free mode
// with a throwaway key, sends three jobs as a NIP-90 customer would, prints what happens, and stops
// everything. Exits 0 when all three were answered; otherwise 1 with the reason (every wait is bounded).
// Needs `npm run build` first (`npm run demo` does it).
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type Event, finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure"
import { bytesToHex } from "nostr-tools/utils"
import type { EncryptionScheme } from "../src/dvm/protocol/encryption"
import { Customer, statusOf, tag } from "../test/support/customer"
import { type OllamaStandIn, startOllamaStandIn } from "../test/support/ollama-server"
import { type RelayProcess, startRelay } from "../test/support/relay"

const ROOT = path.resolve(__dirname, "..")
const CLI = path.join(ROOT, "dist", "cli.js")

/** The whole demo, start to exit; the host, relay and model are stopped within it. */
const DEMO_DEADLINE_MS = 50_000
const ONLINE_TIMEOUT_MS = 20_000
const JOB_TIMEOUT_MS = 15_000
const STOP_TIMEOUT_MS = 8_000
/** The stand-in writes one word per this many ms, so the text so far (every 500 ms) shows. */
const MS_PER_WORD = 60
const PARTIAL_INTERVAL_MS = 500

const NOTE = "Ran my first Nostr data vending machine today: it takes jobs from relays, runs them on a local " +
  "model and gets paid over Lightning."

const say = (line = "") => process.stdout.write(line + "\n")
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`
/** One line of text, at most `max` characters; a long one keeps its end, where the new words are. */
const clip = (text: string, max = 72) => {
  const line = text.replace(/\s+/g, " ").trim()
  return line.length <= max ? `"${line}"` : `"…${line.slice(line.length - max + 1)}"`
}
const clipStart = (text: string, max = 72) => {
  const line = text.replace(/\s+/g, " ").trim()
  return line.length <= max ? `"${line}"` : `"${line.slice(0, max - 1)}…"`
}

/** Text as indented lines of at most `width` characters. */
const wrap = (text: string, indent: string, width = 96) => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line !== "" && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line)
      line = word
    } else line = line === "" ? word : `${line} ${word}`
  }
  if (line !== "") lines.push(indent + line)
  return lines.join("\n")
}

class DemoFailure extends Error {}

const within = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DemoFailure(`timed out after ${seconds(ms)} waiting for ${what}`)), ms)
    promise.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error) => (clearTimeout(timer), reject(error))
    )
  })

// ---- what is running, so every exit path can stop it ----------------------------------------------

let relay: RelayProcess | undefined
let model: OllamaStandIn | undefined
let host: ChildProcess | undefined
let hostExited: Promise<number | null> | undefined
let hostLog = ""
let customer: Customer | undefined
let tmpDir: string | undefined

const stopHost = async (): Promise<number | null | undefined> => {
  if (!host || !hostExited) return undefined
  if (host.exitCode === null && host.signalCode === null) host.kill("SIGTERM")
  const timer = setTimeout(() => host?.kill("SIGKILL"), STOP_TIMEOUT_MS)
  const code = await hostExited
  clearTimeout(timer)
  return code
}

const cleanUp = async () => {
  customer?.close()
  customer = undefined
  await stopHost().catch(() => undefined)
  await Promise.all([relay?.stop(), model?.close()]).catch(() => undefined)
  relay = undefined
  model = undefined
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true })
  tmpDir = undefined
}

let failing = false
const failAndExit = async (message: string) => {
  if (failing) return
  failing = true
  // Cleaning up is bounded too: whatever happens, the demo ends.
  setTimeout(() => process.exit(1), 15_000).unref()
  process.stderr.write(`\nDemo FAILED: ${message}\n`)
  const tail = hostLog.trim().split("\n").slice(-15)
  if (tail.length > 0 && tail[0] !== "") {
    process.stderr.write(`Last lines of the provider's log:\n${tail.map((l) => `  | ${l}`).join("\n")}\n`)
  }
  await cleanUp()
  process.exit(1)
}

// ---- the customer's side ----------------------------------------------------------------------------

interface Watch {
  readonly requestId: string
  readonly scheme: EncryptionScheme | undefined
  result?: string
  success?: boolean
  error?: string
  done: () => void
}

const watches = new Map<string, Watch>()

const onReply = (providerPubkey: string) => (event: Event) => {
  const requestId = tag(event, "e")?.[1]
  const watch = requestId ? watches.get(requestId) : undefined
  if (!watch || event.pubkey !== providerPubkey) return
  const encrypted = tag(event, "encrypted") !== undefined
  const read = (content: string) => {
    if (!encrypted || content === "") return content
    if (!watch.scheme) return "(encrypted to someone else)"
    return customer?.decrypt(watch.scheme, providerPubkey, content) ?? ""
  }
  const decrypted = encrypted && watch.scheme ? " (decrypted)" : ""
  if (event.kind >= 6000 && event.kind <= 6999) {
    watch.result = read(event.content)
    say(`  ← result, kind ${event.kind}${decrypted}:`)
    say(wrap(watch.result, "      "))
  } else {
    const status = statusOf(event) ?? "(no status)"
    const extra = tag(event, "status")?.[2]
    if (status === "partial") say(`  ← partial${decrypted}, the text so far: ${clip(read(event.content))}`)
    else {
      say(`  ← ${status}${extra ? `: ${extra}` : ""}`)
      if (status === "success") watch.success = true
      if (status === "error") watch.error = [extra, read(event.content)].filter((s) => s).join(": ") || "no reason given"
    }
  }
  if (watch.error !== undefined || (watch.result !== undefined && watch.success)) watch.done()
}

const runJob = async (job: Event, scheme: EncryptionScheme | undefined): Promise<{ text: string; ms: number }> => {
  let done = () => {}
  const finished = new Promise<void>((resolve) => (done = resolve))
  const watch: Watch = { requestId: job.id, scheme, done }
  watches.set(job.id, watch)
  const started = Date.now()
  await within(customer!.publish(job), 5_000, "the relay to accept the job request")
  say(`  → request sent (kind ${job.kind}, id ${job.id.slice(0, 12)}…)`)
  await within(finished, JOB_TIMEOUT_MS, `the answer to job ${job.id.slice(0, 12)}…`)
  const ms = Date.now() - started
  if (watch.error !== undefined) throw new DemoFailure(`the provider answered the job with an error: ${watch.error}`)
  say(`  took ${seconds(ms)}`)
  return { text: watch.result ?? "", ms }
}

// ---- the demo ---------------------------------------------------------------------------------------

const main = async () => {
  const began = Date.now()
  if (!fs.existsSync(CLI)) throw new DemoFailure(`${path.relative(ROOT, CLI)} is missing: run \`npm run build\` first (\`npm run demo\` does)`)
  say("Sell Compute demo: a provider, a relay, a model and a customer, all on this machine.")
  say()

  ;[relay, model] = await Promise.all([
    startRelay(),
    startOllamaStandIn({ models: ["llama3.2:1b"], delayMsPerToken: MS_PER_WORD })
  ])
  say(`  relay     ${relay.url}  (a local Nostr relay, events kept in memory)`)
  say(`  model     ${model.url}  (a stand-in speaking Ollama's API; it answers by echoing the prompt)`)

  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-demo-"))
  const dataDir = path.join(tmpDir, "data")
  const configFile = path.join(tmpDir, "config.json")
  fs.writeFileSync(configFile, JSON.stringify({
    "sellCompute.relays": [relay.url],
    "sellCompute.ollama.host": model.url,
    "sellCompute.payment.mode": "free",
    "sellCompute.streaming.intervalMs": PARTIAL_INTERVAL_MS
  }, null, 2))

  // A throwaway identity for this run only; the secret goes to the host's environment and nowhere else.
  const providerSecret = generateSecretKey()
  const providerPubkey = getPublicKey(providerSecret)
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("SELL_COMPUTE_")))
  env.SELL_COMPUTE_NOSTR_SECRET_KEY = bytesToHex(providerSecret)
  say(`  provider  node ${path.relative(ROOT, CLI)} --config <temp> --data-dir <temp>  (payment mode free, partial results every ${PARTIAL_INTERVAL_MS} ms)`)
  const startedHost = Date.now()
  host = spawn(process.execPath, [CLI, "--config", configFile, "--data-dir", dataDir], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] })
  hostExited = new Promise((resolve) => host!.once("exit", (code) => resolve(code)))
  host.stdout!.setEncoding("utf8").on("data", (d: string) => (hostLog += d))
  host.stderr!.setEncoding("utf8").on("data", (d: string) => (hostLog += d))
  const hostDiedEarly = hostExited.then((code) => {
    throw new DemoFailure(`the provider exited early (code ${code})`)
  })
  hostDiedEarly.catch(() => undefined)

  const online = new Promise<string>((resolve) => {
    const check = () => {
      const npub = /Online as (npub1\w+)/.exec(hostLog)?.[1]
      if (npub) return resolve(npub)
      setTimeout(check, 25)
    }
    check()
  })
  const npub = await within(Promise.race([online, hostDiedEarly]), ONLINE_TIMEOUT_MS, "the provider to go online")
  say(`  Provider online as ${npub.slice(0, 16)}…${npub.slice(-6)} after ${seconds(Date.now() - startedHost)}`)

  customer = new Customer([relay.url])
  await within(new Promise<void>((resolve) => {
    customer!.pool.subscribe([relay!.url], { kinds: [6050, 6001, 7000], "#p": [customer!.pubkey] }, {
      onevent: onReply(providerPubkey),
      oneose: () => resolve()
    })
  }), 5_000, "the customer's subscription to the relay")

  const results: Array<string> = []
  const jobs = async () => {
    say()
    say("Job 1 of 3: plain text generation (kind 5050); anyone on the relay can read it")
    const plainPrompt = "Write one line about why Nostr relays are useful."
    say(`  prompt: ${clipStart(plainPrompt)}`)
    const plain = await runJob(customer!.buildJob({ prompt: plainPrompt }), undefined)
    results.push(`  1. plain       ${seconds(plain.ms).padStart(6)}  ${clipStart(plain.text, 60)}`)

    say()
    say("Job 2 of 3: encrypted (kind 5050, NIP-44); only the provider can read the prompt")
    const secretPrompt = "A private question: what is a good name for a cat?"
    say(`  prompt: ${clipStart(secretPrompt)}`)
    const encryptedJob = customer!.buildJob({ prompt: secretPrompt, encrypt: { scheme: "nip44", provider: providerPubkey } })
    say(`  on the relay it is only ciphertext: "${encryptedJob.content.slice(0, 40)}…"`)
    const secret = await runJob(encryptedJob, "nip44")
    results.push(`  2. encrypted   ${seconds(secret.ms).padStart(6)}  ${clipStart(secret.text, 60)}`)

    say()
    say("Job 3 of 3: a summary of a note (kind 5001): the job names the note by id, and the")
    say("  provider fetches it from the relay itself")
    const author = generateSecretKey()
    const note = finalizeEvent({ kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: NOTE }, author)
    await within(Promise.all(customer!.pool.publish([relay!.url], note)), 5_000, "the relay to accept the note")
    say(`  → note published (kind 1, id ${note.id.slice(0, 12)}…): ${clipStart(note.content, 40)}`)
    const summaryJob = customer!.buildJob({ kind: 5001, tags: [["i", note.id, "event", relay!.url], ["param", "length", "1 sentence"]] })
    const summary = await runJob(summaryJob, undefined)
    results.push(`  3. summary     ${seconds(summary.ms).padStart(6)}  ${clipStart(summary.text, 60)}`)
  }
  await Promise.race([jobs(), hostDiedEarly])

  say()
  say("Stopping the provider (SIGTERM): it withdraws its announcement and goes offline…")
  const code = await stopHost()
  host = undefined
  if (code !== 0) throw new DemoFailure(`the provider exited with code ${code} after SIGTERM`)
  const withdrawn = await within(
    customer.pool.querySync([relay.url], { kinds: [5], authors: [providerPubkey] }, { maxWait: 3_000 }),
    5_000,
    "the provider's withdrawal (kind 5) on the relay"
  )
  say(`  provider exited 0; its announcement was ${withdrawn.length > 0 ? "withdrawn (a kind 5 is on the relay)" : "NOT withdrawn"}`)
  customer.close()
  customer = undefined
  await cleanUp()

  say()
  say(`Done: 3 of 3 jobs answered in ${seconds(Date.now() - began)}, no sats charged (free mode).`)
  for (const line of results) say(line)
  say()
  say("With a real Ollama, public relays and a wallet: see \"Install (VS Code)\" and \"Run headless\" in README.md.")
}

setTimeout(() => void failAndExit(`the demo did not finish within ${seconds(DEMO_DEADLINE_MS)}`), DEMO_DEADLINE_MS).unref()
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void failAndExit(`stopped by ${signal}`))

main().then(
  () => process.exit(0),
  (error) => void failAndExit(error instanceof Error ? error.message : String(error))
)
