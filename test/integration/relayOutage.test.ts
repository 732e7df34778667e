// Relays that fail one at a time: the provider alone cut off from a relay that keeps running, a
// configured relay that is down, a relay that hangs. Real relay processes, the real provider.
import assert from "node:assert/strict"
import * as net from "node:net"
import { RELAY_TIMEOUT_MS } from "../../src/dvm/services/Nostr"
import { Customer, statusOf } from "../support/customer"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startProvider, type TestProvider } from "../support/provider"
import { type RelayProcess, startRelay } from "../support/relay"
import { startTcpProxy, type TcpProxy } from "../support/tcpProxy"

const settled = (customer: Customer, id: string) =>
  customer.repliesFor(id).feedback.some((f) => ["success", "error"].includes(statusOf(f) ?? ""))
const succeeded = (customer: Customer, id: string) =>
  customer.repliesFor(id).feedback.some((f) => statusOf(f) === "success")

/** Shorter than RELAY_TIMEOUT_MS: a publish that waited out a bad relay could not finish within it. */
const NO_STALL_MS = 6000

/** A port on 127.0.0.1 with nothing listening (bound, then released). */
const closedPort = async () => {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

describe("relay outages", function() {
  this.timeout(60_000)
  let relay: RelayProcess
  let ollama: OllamaStandIn
  let provider: TestProvider | undefined
  let customer: Customer | undefined

  before(async () => {
    assert.ok(NO_STALL_MS < RELAY_TIMEOUT_MS)
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
    customer?.close()
    customer = undefined
    await provider?.dispose()
    provider = undefined
  })

  describe("the provider alone cut off from a relay that keeps running", () => {
    let proxy: TcpProxy
    beforeEach(async () => {
      proxy = await startTcpProxy(relay.port)
    })
    afterEach(async () => {
      await proxy.close()
    })

    it("a request dated years ahead does not make the resubscribe skip jobs published during the outage", async () => {
      provider = await startProvider({ relays: [proxy.url], "ollama.host": ollama.url, "limits.jobsPerMinutePerCustomer": 100 })
      await provider.goOnline()
      customer = new Customer([relay.url])
      await customer.listen()

      const tenYears = 10 * 365 * 24 * 3600
      await customer.publish(customer.buildJob({ prompt: "from the future", createdAt: Math.floor(Date.now() / 1000) + tenYears }))
      // Events of one subscription arrive in order: once this job is answered, the provider has seen the future one.
      const before = await customer.publish(customer.buildJob({ prompt: "before the outage" }))
      await waitFor(() => settled(customer!, before.id), 10_000, "the job before the outage")

      proxy.cutOff()
      const during = await customer.publish(customer.buildJob({ prompt: "during the outage" }))
      // A refused reconnect: the provider noticed, and the job was published while it was away.
      await waitFor(() => proxy.refused >= 1, 10_000, "a refused reconnect")
      proxy.restore()

      await waitFor(() => settled(customer!, during.id), 15_000, "the job published during the outage")
      // A later job answered: any second delivery of the outage job would have been handled by now.
      const later = await customer.publish(customer.buildJob({ prompt: "after the outage" }))
      await waitFor(() => settled(customer!, later.id), 10_000, "the job after the outage")
      assert.equal(customer.repliesFor(during.id).results.length, 1, "one result")
      assert.ok(succeeded(customer, during.id))
      assert.equal(ollama.requests.filter((r) => r.prompt === "during the outage").length, 1, "ran once")
      assert.equal(ollama.requests.filter((r) => r.prompt === "from the future").length, 0, "the future request was not served")
    })

    it("a result that no relay accepted is sent again once the relay is back, and the job ends a success", async () => {
      provider = await startProvider({ relays: [proxy.url], "ollama.host": ollama.url })
      await provider.goOnline()
      customer = new Customer([relay.url])
      await customer.listen()
      ollama.delayMsPerToken = 150 // about a second of "inference": time to cut the provider off mid-job
      const job = await customer.publish(customer.buildJob({ prompt: "deliver me later" }))
      await waitFor(() => ollama.inFlight === 1, 10_000, "inference started")
      proxy.cutOff()
      await waitFor(() => ollama.inFlight === 0, 10_000, "inference done while cut off")
      await waitFor(() => proxy.refused >= 1, 10_000, "a refused reconnect")
      proxy.restore()
      await waitFor(() => succeeded(customer!, job.id), 20_000, "the result after the relay came back")
      assert.equal(customer.repliesFor(job.id).results.length, 1)
      assert.equal((await provider.jobRecord(job.id))?.status, "success")
      ollama.delayMsPerToken = 0
    })
  })

  it("a configured relay that is down does not hold up results or feedback", async () => {
    const dead = `ws://127.0.0.1:${await closedPort()}`
    provider = await startProvider({ relays: [relay.url, dead], "ollama.host": ollama.url })
    await provider.goOnline()
    customer = new Customer([relay.url])
    await customer.listen()

    const job = await customer.publish(customer.buildJob({ prompt: "served despite a dead relay" }))
    await waitFor(() => succeeded(customer!, job.id), NO_STALL_MS, "success feedback without waiting out the dead relay")
    const replies = customer.repliesFor(job.id)
    assert.equal(replies.results.length, 1)
    assert.deepEqual(replies.feedback.map(statusOf), ["success"])
    const warnings = provider.logs.filter((line) => line.includes(job.id.slice(0, 8)) && line.includes(dead))
    assert.ok(warnings.some((line) => /not connected/.test(line)), `the dead relay reported failed:\n${provider.logs.join("\n")}`)
  })

  describe("a relay that accepts connections but never answers", () => {
    let hung: RelayProcess
    before(async () => {
      hung = await startRelay()
    })
    after(async () => {
      hung?.kill("SIGCONT")
      await hung?.stop()
    })

    it("next to a working relay, a job's result and success feedback arrive", async () => {
      provider = await startProvider({ relays: [relay.url, hung.url], "ollama.host": ollama.url })
      await provider.goOnline()
      customer = new Customer([relay.url])
      await customer.listen()
      hung.kill("SIGSTOP")

      const job = await customer.publish(customer.buildJob({ prompt: "served despite a hung relay" }))
      await waitFor(() => succeeded(customer!, job.id), NO_STALL_MS, "success feedback without waiting out the hung relay")
      const replies = customer.repliesFor(job.id)
      assert.equal(replies.results.length, 1)
      const warnings = provider.logs.filter((line) => line.includes(job.id.slice(0, 8)) && line.includes(hung.url))
      assert.ok(warnings.some((line) => /no OK within the grace/.test(line)), `the hung relay reported failed:\n${provider.logs.join("\n")}`)
    })
  })
})
