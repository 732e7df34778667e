// The provider inside VS Code's extension host, driven through its commands and settings, against
// real relays and the Ollama stand-in (test/vscode/fixtures.mjs); a NIP-90 test customer
// (test/support/customer.ts) publishes jobs over WebSocket like any client would.
import * as assert from "node:assert/strict"
import { decode } from "nostr-tools/nip19"
import * as vscode from "vscode"
import { Customer, statusOf, tag } from "../../support/customer"
import { api, fixture, type SellComputeApi, setSetting, waitFor } from "./helpers"

describe("Provider in VS Code", function() {
  let sellCompute: SellComputeApi
  let relayA: string
  let relayB: string
  const customers: Array<Customer> = []

  const newCustomer = async (relays: Array<string>) => {
    const customer = new Customer(relays)
    customers.push(customer)
    await customer.listen()
    return customer
  }

  /** Publishes a job and waits for its result event; returns the job and the result. */
  const serveOne = async (customer: Customer, prompt: string) => {
    const job = await customer.publish(customer.buildJob({ prompt }))
    const replies = customer.repliesFor(job.id)
    const result = await waitFor(() => replies.results[0], 10_000, `the result of job ${job.id.slice(0, 8)}`)
    return { job, result, replies }
  }

  const providerPubkey = () => {
    const npub = sellCompute.status().npub
    assert.ok(npub, "online without an npub")
    const decoded = decode(npub)
    assert.equal(decoded.type, "npub")
    return decoded.data as string
  }

  before(async () => {
    sellCompute = await api()
    relayA = fixture("SELL_COMPUTE_TEST_RELAY_A")
    relayB = fixture("SELL_COMPUTE_TEST_RELAY_B")
    await setSetting("relays", [relayA])
    await setSetting("ollama.host", fixture("SELL_COMPUTE_TEST_OLLAMA"))
    await setSetting("payment.mode", "free")
  })

  after(async () => {
    for (const customer of customers) customer.close()
    await vscode.commands.executeCommand("sellCompute.goOffline")
  })

  it("starts offline, with the status bar saying so", () => {
    assert.equal(sellCompute.status().state, "offline")
    assert.match(sellCompute.statusBarText(), /Sell Compute: Offline/)
  })

  it("goes online against the local relay and Ollama and serves a customer's job", async () => {
    await vscode.commands.executeCommand("sellCompute.goOnline")
    assert.equal(sellCompute.status().state, "online", `not online: ${sellCompute.status().error}`)
    assert.match(sellCompute.statusBarText(), /Sell Compute: Online/)
    await waitFor(() => sellCompute.relayStates().find((r) => r.url === relayA && r.status === "connected"), 5000, `${relayA} connected`)

    const customer = await newCustomer([relayA])
    const prompt = "Say hello from inside VS Code"
    const { job, result, replies } = await serveOne(customer, prompt)

    assert.equal(result.kind, 6050)
    assert.equal(result.pubkey, providerPubkey(), "the result is not signed by the provider's identity")
    assert.equal(result.content, `Echo from ${fixture("SELL_COMPUTE_TEST_MODEL")}: ${prompt}`)
    assert.equal(tag(result, "e")?.[1], job.id)
    assert.equal(tag(result, "p")?.[1], customer.pubkey)
    assert.equal(tag(result, "amount"), undefined, "free mode: no amount tag, nothing to pay")
    // The job's last word: success, saying what it cost (a job this quick says no processing first).
    const success = await waitFor(() => replies.feedback.find((f) => statusOf(f) === "success"), 5000, "the success feedback")
    assert.match(tag(success, "status")?.[2] ?? "", /^done: \d+ tokens, free$/)

    const record = await waitFor(
      () => sellCompute.recentJobs().find((j) => j.id === job.id && j.status === "success"),
      5000,
      "the job in the extension's recent jobs as success"
    )
    assert.equal(record.customer, customer.pubkey)
    assert.equal(record.kind, 5050)
    assert.equal(record.model, fixture("SELL_COMPUTE_TEST_MODEL"))
    assert.ok((record.completionTokens ?? 0) > 0, "no tokens counted")
    assert.equal(record.payment, "free")
  })

  it("connects a relay added in settings while online, without a restart, and serves jobs from it", async () => {
    assert.equal(sellCompute.status().state, "online")
    assert.ok(!sellCompute.relayStates().some((r) => r.url === relayB), `${relayB} connected before it was added`)

    await setSetting("relays", [relayA, relayB])
    await waitFor(() => sellCompute.relayStates().find((r) => r.url === relayB && r.status === "connected"), 10_000, `${relayB} connected`)
    assert.equal(sellCompute.status().state, "online", "adding a relay took the provider offline")
    assert.ok(sellCompute.relayStates().some((r) => r.url === relayA && r.status === "connected"), `${relayA} dropped`)

    // A customer who only knows the new relay is served: the provider listens there, not only connects.
    const customer = await newCustomer([relayB])
    const { result } = await serveOne(customer, "Are you on the new relay?")
    assert.equal(result.pubkey, providerPubkey())
    assert.equal(result.content, `Echo from ${fixture("SELL_COMPUTE_TEST_MODEL")}: Are you on the new relay?`)
  })

  it("drops a relay removed from settings while online", async () => {
    await setSetting("relays", [relayB])
    await waitFor(() => !sellCompute.relayStates().some((r) => r.url === relayA) && sellCompute.relayStates(), 10_000, `${relayA} dropped`)
    assert.equal(sellCompute.status().state, "online")
    assert.ok(sellCompute.relayStates().some((r) => r.url === relayB && r.status === "connected"))
  })

  it("Test My Provider: the self-test passes through the relay it serves on", async () => {
    assert.equal(sellCompute.status().state, "online")
    const report = await vscode.commands.executeCommand<{ ok: boolean; relays: Array<{ url: string; ok: boolean; steps: Array<{ step: string }> }> }>("sellCompute.testProvider")
    assert.ok(report, "the command returned no report")
    assert.equal(report.ok, true, JSON.stringify(report))
    assert.deepEqual(report.relays.map((r) => r.url), [relayB])
    assert.deepEqual(report.relays[0]?.steps.map((s) => s.step), ["connect", "announcement", "heartbeat", "request", "feedback", "result"])
  })

  it("goes offline by command", async () => {
    await vscode.commands.executeCommand("sellCompute.goOffline")
    assert.equal(sellCompute.status().state, "offline")
    assert.match(sellCompute.statusBarText(), /Sell Compute: Offline/)
    await waitFor(() => sellCompute.relayStates().length === 0, 5000, "the relays to be let go")
  })

  it("stays offline and says why when Ollama is not running", async () => {
    const down = fixture("SELL_COMPUTE_TEST_OLLAMA_DOWN")
    await setSetting("ollama.host", down)
    try {
      await vscode.commands.executeCommand("sellCompute.goOnline")
      const status = sellCompute.status()
      assert.equal(status.state, "offline")
      assert.match(status.error ?? "", /Ollama is not reachable/)
      assert.ok(status.error?.includes(down), `the reason does not name ${down}: ${status.error}`)
      assert.match(sellCompute.statusBarText(), /Sell Compute: Offline/)
      assert.equal(sellCompute.relayStates().length, 0, "relays connected although the provider cannot serve")
    } finally {
      await setSetting("ollama.host", fixture("SELL_COMPUTE_TEST_OLLAMA"))
    }
  })

  it("goes online again once Ollama is back", async () => {
    await vscode.commands.executeCommand("sellCompute.goOnline")
    assert.equal(sellCompute.status().state, "online", `not online: ${sellCompute.status().error}`)
    assert.match(sellCompute.statusBarText(), /Sell Compute: Online/)
    await vscode.commands.executeCommand("sellCompute.goOffline")
    assert.equal(sellCompute.status().state, "offline")
  })
})
