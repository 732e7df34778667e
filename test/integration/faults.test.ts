// The fault suite: what a provider left online overnight meets. Real relay processes, the Ollama
// API stand-in, the real provider. Each case prints offered / answered / rejected-with-reason /
// lost, and lost must be 0.
import assert from "node:assert/strict"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type Event, finalizeEvent } from "nostr-tools/pure"
import type { Config } from "../../src/dvm/config"
import { Inference } from "../../src/dvm/services/Inference"
import { Customer, statusOf, tag } from "../support/customer"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startProvider, type TestProvider } from "../support/provider"
import { type RelayProcess, startRelay } from "../support/relay"
import { report, tally } from "../support/tally"

const settled = (customer: Customer, id: string) =>
  customer.repliesFor(id).feedback.some((f) => ["success", "error"].includes(statusOf(f) ?? ""))

describe("fault suite", function() {
  this.timeout(120_000)
  let relay: RelayProcess
  let ollama: OllamaStandIn
  let provider: TestProvider | undefined

  const online = async (config: Partial<Config> = {}) => {
    provider = await startProvider({ relays: [relay.url], "ollama.host": ollama.url, ...config })
    await provider.goOnline()
    return provider
  }

  before(async () => {
    ;[relay, ollama] = await Promise.all([startRelay(), startOllamaStandIn({ models: ["llama3.2:1b"] })])
  })
  after(async () => {
    await Promise.all([relay?.stop(), ollama?.close()])
  })
  beforeEach(async () => {
    await relay.restart() // an empty relay per case
    ollama.reset()
    ollama.setMode("ok")
    ollama.delayMsPerToken = 0
  })
  afterEach(async () => {
    await provider?.dispose()
    provider = undefined
  })

  it("a relay killed and restarted: jobs published while the provider was cut off are served once", async () => {
    await online({ "limits.jobsPerMinutePerCustomer": 100, "limits.jobsInFlightPerCustomer": 10 })
    const customer = new Customer([relay.url])
    await customer.listen()
    try {
      const before = await customer.publish(customer.buildJob({ prompt: "before the outage" }))
      await waitFor(() => settled(customer, before.id), 10_000, "first job")
      relay.kill("SIGKILL")
      await relay.restart()
      await customer.relisten()
      // Published to the restarted relay before the provider has reconnected (its backoff is ≥ 0.5 s).
      const during: Array<Event> = []
      for (let i = 0; i < 5; i++) during.push(await customer.publish(customer.buildJob({ prompt: `during outage ${i}` })))
      await waitFor(() => during.every((job) => settled(customer, job.id)), 30_000, "jobs from the outage")
      const after = await customer.publish(customer.buildJob({ prompt: "after the outage" }))
      await waitFor(() => settled(customer, after.id), 10_000, "job after")
      const jobs = [before, ...during, after].map((job) => ({ customer, id: job.id }))
      report("relay restart", tally(jobs))
      for (let i = 0; i < 5; i++) {
        assert.equal(ollama.requests.filter((r) => r.prompt === `during outage ${i}`).length, 1, `job ${i} ran once`)
      }
      assert.equal(tally(jobs).answered, 7)
    } finally {
      customer.close()
    }
  })

  it("Ollama hanging past the job timeout, then failing: error feedback with the reason, then recovery", async () => {
    await online({ "limits.jobTimeoutSeconds": 5 })
    const customer = new Customer([relay.url])
    await customer.listen()
    try {
      ollama.setMode("hang")
      const hung = await customer.publish(customer.buildJob({ prompt: "never answered" }))
      await waitFor(() => settled(customer, hung.id), 15_000, "timeout feedback")
      const hungError = customer.repliesFor(hung.id).feedback.find((f) => statusOf(f) === "error") as Event
      assert.match(tag(hungError, "status")?.[2] ?? "", /ran longer than 5 s and was stopped/)
      await waitFor(() => ollama.aborted === 1, 5000, "the hanging request aborted")

      ollama.setMode("errorMidStream")
      const broken = await customer.publish(customer.buildJob({ prompt: "breaks halfway" }))
      await waitFor(() => settled(customer, broken.id), 10_000, "mid-stream failure")

      ollama.setMode("ok")
      const fine = await customer.publish(customer.buildJob({ prompt: "fine again" }))
      await waitFor(() => settled(customer, fine.id), 10_000, "recovery")
      const t = tally([hung, broken, fine].map((job) => ({ customer, id: job.id })))
      report("ollama hang/fail", t)
      assert.equal(t.answered, 1)
      assert.equal(t.rejected, 2)
    } finally {
      customer.close()
    }
  })

  it("Ollama flooding a reply (a line that never ends): cut off at a bound, the customer told, the provider keeps serving", async () => {
    await online()
    const customer = new Customer([relay.url])
    await customer.listen()
    try {
      ollama.setMode("flood")
      const flooded = await customer.publish(customer.buildJob({ prompt: "flood me" }))
      await waitFor(() => settled(customer, flooded.id), 30_000, "the flood cut off")
      const error = customer.repliesFor(flooded.id).feedback.find((f) => statusOf(f) === "error") as Event
      assert.match(tag(error, "status")?.[2] ?? "", /the reply was larger than \d+ bytes/)
      await waitFor(() => ollama.inFlight === 0, 5000, "the flood's connection closed")

      ollama.setMode("ok")
      const fine = await customer.publish(customer.buildJob({ prompt: "calm again" }))
      await waitFor(() => settled(customer, fine.id), 10_000, "recovery")
      assert.equal(customer.repliesFor(fine.id).results.length, 1)
    } finally {
      customer.close()
    }
  })

  it("Ollama's model list is untrusted: unreadable names are left out, a list past 4 MiB is refused with a reason", async () => {
    const provider = await online()
    const models = ollama.models
    try {
      ollama.models = ["llama3.2:1b", "evil\u001b[31mred", "x".repeat(300), "llama3.2:1b"]
      const status = await provider.run(Inference.use((inference) => inference.status))
      assert.deepEqual(status.models, ["llama3.2:1b"])

      ollama.models = Array.from({ length: 20_000 }, (_, i) => `m${i}-${"y".repeat(240)}`)
      const flooded = await provider.run(Inference.use((inference) => inference.status))
      assert.equal(flooded.reachable, false)
      assert.match(flooded.error ?? "", /larger than \d+ bytes/)
    } finally {
      ollama.models = models
    }
  })

  it("a flood of 1,000 jobs from one key next to a normal customer: the normal customer is served", async () => {
    const p = await online({ maxConcurrentJobs: 2 })
    ollama.delayMsPerToken = 1
    const flooder = new Customer([relay.url])
    const normal = new Customer([relay.url])
    await Promise.all([flooder.listen(), normal.listen()])
    try {
      const flood = Array.from({ length: 1000 }, (_, i) => flooder.buildJob({ prompt: `flood ${i}` }))
      const normalJobs: Array<Event> = []
      // As fast as one connection takes them: 100 in flight at a time.
      const publishing = (async () => {
        for (let i = 0; i < flood.length; i += 100) await Promise.all(flood.slice(i, i + 100).map((job) => flooder.publish(job)))
      })()
      // A normal customer: one job at a time, the next once the last is answered.
      for (let i = 0; i < 3; i++) {
        const job = await normal.publish(normal.buildJob({ prompt: `normal ${i}` }))
        normalJobs.push(job)
        await waitFor(() => settled(normal, job.id), 30_000, `normal job ${i}`)
      }
      await publishing
      // Refusals share one reply budget: past it, the flood is dropped unanswered and counted.
      const dropped = () => Number(p.logs.map((line) => /\((\d+) in all\)/.exec(line)?.[1]).filter(Boolean).at(-1) ?? 0)
      const floodJobs = flood.map((job) => ({ customer: flooder, id: job.id }))
      await waitFor(() => p.logs.some((line) => /Reply budget spent/.test(line)), 30_000, "the dropped requests reported")
      await waitFor(() => tally(floodJobs).lost <= 1000 - 120, 30_000, "the budget's worth of refusals")
      const normalTally = tally(normalJobs.map((job) => ({ customer: normal, id: job.id })))
      assert.equal(normalTally.answered, 3, "the normal customer got all three results")
      const floodTally = tally(floodJobs)
      process.stdout.write(`      [flood] offered 1000 / answered ${floodTally.answered} / rejected-with-reason ${floodTally.rejected} / dropped ${floodTally.lost}\n`)
      assert.ok(floodTally.answered <= 10, "the flooder got at most its per-minute share")
      assert.ok(Object.keys(floodTally.reasons).some((r) => /rate limited/.test(r)))
      assert.ok(floodTally.rejected >= 110 && floodTally.rejected <= 400, `refusals stay near the budget (${floodTally.rejected})`)
      assert.ok(dropped() >= 1, "drops are counted in the log")
      assert.equal(floodTally.answered + floodTally.rejected + floodTally.lost, 1000)
    } finally {
      flooder.close()
      normal.close()
    }
  })

  it("fuzzed events: random tags, bad JSON, bad ciphertext, huge content are answered and the provider keeps serving", async () => {
    const p = await online({ "limits.jobsPerMinutePerCustomer": 10_000, "limits.maxQueuedJobs": 1000, "limits.jobsInFlightPerCustomer": 100 })
    const customer = new Customer([relay.url])
    await customer.listen()
    let seed = 42
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    const junk = (n: number) => Array.from({ length: n }, () => String.fromCharCode(32 + Math.floor(random() * 9000))).join("")
    const sign = (tags: Array<Array<string>>, content: string) =>
      finalizeEvent({ kind: 5050, created_at: Math.floor(Date.now() / 1000), tags, content }, customer.secretKey)
    try {
      const fuzzed: Array<Event> = []
      for (let i = 0; i < 40; i++) {
        const tags = Array.from({ length: Math.floor(random() * 6) }, () =>
          Array.from({ length: 1 + Math.floor(random() * 4) }, () => (random() < 0.5 ? ["i", "param", "bid", "relays", "output"][Math.floor(random() * 5)] as string : junk(8))))
        fuzzed.push(sign(tags, random() < 0.5 ? junk(20) : ""))
      }
      fuzzed.push(sign([["p", p.pubkey], ["encrypted"]], "not ciphertext at all"))
      fuzzed.push(sign([["p", p.pubkey], ["encrypted"]], "AAAA?iv=BBBB"))
      fuzzed.push(sign([["p", p.pubkey], ["encrypted"]], Buffer.from("x".repeat(100)).toString("base64")))
      fuzzed.push(customer.buildJob({ encrypt: { scheme: "nip44", provider: p.pubkey }, tags: [["i", "{not json"]] }))
      fuzzed.push(sign([["i", "x".repeat(300_000), "text"]], ""))
      fuzzed.push(sign([["i", "hello", "text"], ["param", "max_tokens", "99999999999999999999"]], ""))
      fuzzed.push(sign([["i", "hello", "text"], ["param", "temperature", "NaN"]], ""))
      fuzzed.push(sign([["i", "hello", "text"], ["bid", "-1"]], ""))
      for (const event of fuzzed) await customer.publish(event)
      const valid = await customer.publish(customer.buildJob({ prompt: "a normal job after the junk" }))
      const all = [...fuzzed, valid].map((event) => ({ customer, id: event.id }))
      await waitFor(() => all.every(({ id }) => settled(customer, id)), 30_000, "every fuzzed event answered")
      const t = tally(all)
      report("fuzz", t)
      assert.equal(customer.repliesFor(valid.id).results.length, 1, "the valid job after the junk was served")
    } finally {
      customer.close()
    }
  })

  it("a customer cancelling mid-inference: Ollama is aborted and no result is sent", async () => {
    await online()
    ollama.setMode("hang")
    const customer = new Customer([relay.url])
    await customer.listen()
    try {
      const job = await customer.publish(customer.buildJob({ prompt: "cancel me" }))
      await waitFor(() => ollama.inFlight === 1, 10_000, "inference started")
      await waitFor(() => customer.repliesFor(job.id).feedback.some((f) => statusOf(f) === "processing"), 10_000, "the customer told the job is running")
      await customer.cancel(job)
      await waitFor(() => ollama.aborted === 1, 10_000, "the Ollama request aborted")
      ollama.setMode("ok")
      const next = await customer.publish(customer.buildJob({ prompt: "the next one" }))
      await waitFor(() => settled(customer, next.id), 10_000, "next job")
      assert.equal(customer.repliesFor(job.id).results.length, 0, "no result for the cancelled job")
      assert.deepEqual(customer.repliesFor(job.id).feedback.map(statusOf), ["processing"])
      const record = await (provider as TestProvider).jobRecord(job.id)
      assert.equal(record?.error, "cancelled by the customer")
      // The customer asked for it: a withdrawn job with no result is cancelled, not lost.
      report("cancel", tally([{ customer, id: job.id, cancelled: true }, { customer, id: next.id }]))
    } finally {
      customer.close()
    }
  })

  it("the host killed with SIGKILL mid-job and restarted: the cut-off job gets error feedback, nothing reruns", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-crash-"))
    const config = path.join(dir, "config.json")
    fs.writeFileSync(config, JSON.stringify({
      "sellCompute.relays": [relay.url],
      "sellCompute.ollama.host": ollama.url,
      "sellCompute.payment.mode": "free"
    }))
    const start = () => {
      const child: ChildProcess = spawn(process.execPath, [path.resolve(__dirname, "../../dist/cli.js"), "--config", config, "--data-dir", dir], {
        env: { PATH: process.env.PATH },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      child.stderr?.on("data", (d) => (output += d))
      child.stdout?.on("data", (d) => (output += d))
      return { child, output: () => output }
    }
    const customer = new Customer([relay.url])
    await customer.listen()
    const first = start()
    try {
      await waitFor(() => first.output().includes("Online as"), 15_000, "online")
      ollama.setMode("hang")
      const cut = await customer.publish(customer.buildJob({ prompt: "interrupted by a crash" }))
      await waitFor(() => ollama.inFlight === 1, 10_000, "inference started")
      first.child.kill("SIGKILL")
      await new Promise((r) => first.child.once("exit", r))
      ollama.setMode("ok")

      const second = start()
      try {
        await waitFor(() => settled(customer, cut.id), 20_000, "feedback for the cut-off job")
        const error = customer.repliesFor(cut.id).feedback.find((f) => statusOf(f) === "error") as Event
        assert.match(tag(error, "status")?.[2] ?? "", /stopped before finishing this job/)
        const next = await customer.publish(customer.buildJob({ prompt: "after the crash" }))
        await waitFor(() => settled(customer, next.id), 10_000, "job after the restart")
        assert.equal(ollama.requests.filter((r) => r.prompt === "interrupted by a crash").length, 1, "not rerun")
        report("crash", tally([cut, next].map((job) => ({ customer, id: job.id }))))
      } finally {
        second.child.kill("SIGTERM")
        await new Promise((r) => second.child.once("exit", r))
      }
    } finally {
      first.child.kill("SIGKILL")
      customer.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
