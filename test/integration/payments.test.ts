// Payments that settle, end to end: the provider's real NWC wallet client talks NIP-47 to a
// wallet-service stand-in over a real relay; customers are real NIP-90 clients on the same relay.
import assert from "node:assert/strict"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, SubscriptionRef } from "effect"
import type { Event } from "nostr-tools/pure"
import type { Config } from "../../src/dvm/config"
import { JobStore } from "../../src/dvm/services/JobStore"
import { Kind5050DVM } from "../../src/dvm/services/Kind5050DVM"
import { decodeInvoiceAmountMsats } from "../support/bolt11"
import { Customer, statusOf, tag } from "../support/customer"
import { type NwcWalletService, startNwcWalletService } from "../support/nwcWalletService"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startProvider, type TestProvider } from "../support/provider"
import { type RelayProcess, startRelay } from "../support/relay"

describe("payments over Nostr Wallet Connect", function() {
  this.timeout(60_000)
  let relay: RelayProcess
  let ollama: OllamaStandIn
  let nwc: NwcWalletService
  let provider: TestProvider | undefined
  let customer: Customer
  let dataDir: string

  const config = (patch: Partial<Config> = {}): Partial<Config> => ({
    relays: [relay.url],
    "ollama.host": ollama.url,
    "wallet.backend": "nwc",
    "pricing.minPriceSats": 2,
    // 1 sat per token: the price equals the tokens Ollama counted.
    "pricing.pricePer1kTokens": 1000,
    "textGeneration.maxTokens": 50,
    "limits.jobsPerMinutePerCustomer": 1000,
    ...patch
  })

  const online = async (patch: Partial<Config> = {}, secretKeyHex?: string) => {
    provider = await startProvider(config(patch), {
      realWallet: true,
      secrets: { nwcUrl: nwc.connectionString },
      dataDir,
      ...(secretKeyHex ? { secretKeyHex } : {})
    })
    await provider.goOnline()
    return provider
  }

  const eventually = (check: () => Promise<boolean>, what: string) => waitFor(check, 30_000, what)

  /** Jobs are addressed to the provider under test, so one left by an earlier test is not its business. */
  const jobFor = (prompt: string, tags: Array<Array<string>> = []) =>
    customer.publish(customer.buildJob({ prompt, tags: [["p", (provider as TestProvider).pubkey], ...tags] }))

  const settled = (id: string) => customer.repliesFor(id).feedback.some((f) => ["success", "error"].includes(statusOf(f) ?? ""))

  before(async () => {
    ;[relay, ollama] = await Promise.all([startRelay(), startOllamaStandIn({ models: ["llama3.2:1b"] })])
    nwc = await startNwcWalletService({ relayUrl: relay.url, encryption: "nip44_v2" })
    customer = new Customer([relay.url])
    await customer.listen()
  })
  after(async () => {
    customer?.close()
    await nwc?.close()
    await Promise.all([relay?.stop(), ollama?.close()])
  })
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-pay-"))
    ollama.reset()
    ollama.responder = () => "one two three four five six"
  })
  afterEach(async () => {
    await provider?.dispose()
    provider = undefined
    fs.rmSync(dataDir, { recursive: true, force: true })
  })

  it("pay-after: the result carries an invoice for the price, counted as earned only once the wallet settles", async () => {
    const p = await online({ "payment.mode": "pay-after" })
    const job = await jobFor("three word prompt")
    await waitFor(() => settled(job.id), 15_000, "result")
    const result = customer.repliesFor(job.id).results[0] as Event
    const [, msats, bolt11] = tag(result, "amount") ?? []
    const tokens = 3 + 6
    assert.equal(msats, String(tokens * 1000))
    assert.equal(decodeInvoiceAmountMsats(bolt11 as string), tokens * 1000, "the invoice's own amount is the price")
    assert.deepEqual(nwc.requests.filter((r) => r.method === "make_invoice").map((r) => r.encryption), ["nip44_v2"])

    const earnings = () => p.run(Effect.gen(function*() {
      return yield* (yield* JobStore).earnings
    }))
    assert.equal((await p.jobRecord(job.id))?.payment, "unpaid")
    assert.equal((await earnings()).satsEarnedTotal, 0, "an unpaid invoice is not earnings")
    nwc.settle(bolt11 as string)
    await eventually(async () => (await p.jobRecord(job.id))?.payment === "paid", "marked paid")
    assert.equal((await earnings()).satsEarnedTotal, tokens)
    assert.ok(nwc.requests.some((r) => r.method === "lookup_invoice"), "verified with lookup_invoice")
  })

  it("pay-after: a wallet that fails to make the invoice once is asked again, so the job's work is not wasted", async () => {
    await online({ "payment.mode": "pay-after" })
    nwc.failNext = { code: "INTERNAL", message: "try again" }
    const invoicesBefore = nwc.requests.filter((r) => r.method === "make_invoice").length
    const job = await jobFor("retry the invoice")
    await waitFor(() => settled(job.id), 15_000, "result")
    const result = customer.repliesFor(job.id).results[0] as Event
    assert.ok(result, "a result, not an error")
    assert.equal(decodeInvoiceAmountMsats(tag(result, "amount")?.[2] as string), Number(tag(result, "amount")?.[1]))
    assert.equal(nwc.requests.filter((r) => r.method === "make_invoice").length - invoicesBefore, 2)
    assert.equal(ollama.requests.length, 1, "the model ran once")
  })

  it("pay-first: payment-required for the most the job can cost, no inference before payment, then the result", async () => {
    const p = await online({ "payment.mode": "pay-first" })
    const prompt = "pay me first"
    const job = await jobFor(prompt)
    await waitFor(() => customer.repliesFor(job.id).feedback.some((f) => statusOf(f) === "payment-required"), 15_000, "payment-required")
    const required = customer.repliesFor(job.id).feedback.find((f) => statusOf(f) === "payment-required") as Event
    const [, msats, bolt11] = tag(required, "amount") ?? []
    const worstTokens = Buffer.byteLength(prompt) + 32 + 50 // prompt bound + maxTokens
    assert.equal(msats, String(worstTokens * 1000))
    assert.equal(decodeInvoiceAmountMsats(bolt11 as string), worstTokens * 1000)
    await new Promise((r) => setTimeout(r, 500))
    assert.equal(ollama.requests.length, 0, "no inference before payment")

    nwc.settle(bolt11 as string)
    await waitFor(() => settled(job.id), 15_000, "result after payment")
    const replies = customer.repliesFor(job.id)
    assert.deepEqual(replies.feedback.map(statusOf), ["payment-required", "success"])
    // Paid already: the result asks for nothing more, and the success feedback says what was paid.
    assert.equal(tag(replies.results[0] as Event, "amount"), undefined)
    const success = replies.feedback.find((f) => statusOf(f) === "success") as Event
    assert.match(tag(success, "status")?.[2] ?? "", new RegExp(`^done: \\d+ tokens, ${worstTokens} sats paid in advance$`))
    assert.equal(ollama.requests.length, 1)
    assert.equal((await p.jobRecord(job.id))?.payment, "paid")
  })

  it("pay-first: jobs waiting for payment hold no place in the queue, and are bounded on their own", async () => {
    await online({ "payment.mode": "pay-first", "limits.maxQueuedJobs": 4 })
    const strangers = [new Customer([relay.url]), new Customer([relay.url]), new Customer([relay.url])]
    const late = new Customer([relay.url])
    try {
      await Promise.all(strangers.map((c) => c.listen()))
      const unpaid = await Promise.all(strangers.map((c) =>
        c.publish(c.buildJob({ prompt: "never paid", tags: [["p", (provider as TestProvider).pubkey]] }))))
      await waitFor(() => strangers.every((c, i) => c.repliesFor((unpaid[i] as Event).id).feedback.length > 0), 15_000, "the strangers' answers")
      assert.deepEqual(strangers.map((c, i) => c.repliesFor((unpaid[i] as Event).id).feedback.map(statusOf)), [["payment-required"], ["payment-required"], ["payment-required"]])
      const job = await jobFor("I will pay")
      await waitFor(() => customer.repliesFor(job.id).feedback.length > 0, 15_000, "an answer")
      assert.deepEqual(customer.repliesFor(job.id).feedback.map(statusOf), ["payment-required"], "not busy")
      // Four invoices outstanding: a fifth stranger is told the provider is busy, and no invoice is made.
      await late.listen()
      const invoices = nwc.invoices.size
      const refused = await late.publish(late.buildJob({ prompt: "one too many", tags: [["p", (provider as TestProvider).pubkey]] }))
      await waitFor(() => late.repliesFor(refused.id).feedback.length > 0, 15_000, "the late stranger's answer")
      assert.deepEqual(late.repliesFor(refused.id).feedback.map(statusOf), ["error"])
      assert.match(tag(late.repliesFor(refused.id).feedback[0] as Event, "status")?.[2] ?? "", /busy: 4 jobs are already waiting for payment/)
      assert.equal(nwc.invoices.size, invoices)
      const required = customer.repliesFor(job.id).feedback[0] as Event
      nwc.settle(tag(required, "amount")?.[2] as string)
      await waitFor(() => settled(job.id), 15_000, "result after payment")
      assert.equal(customer.repliesFor(job.id).results.length, 1)
      assert.equal(ollama.requests.length, 1, "only the paid job ran")
    } finally {
      for (const c of [...strangers, late]) c.close()
    }
  })

  it("pay-first: an invoice left unpaid until it expires ends in error feedback, and no work is done", async () => {
    await online({ "payment.mode": "pay-first" })
    const job = await jobFor("never paid")
    await waitFor(() => customer.repliesFor(job.id).feedback.some((f) => statusOf(f) === "payment-required"), 15_000, "payment-required")
    const bolt11 = tag(customer.repliesFor(job.id).feedback[0] as Event, "amount")?.[2] as string
    const record = [...nwc.invoices.values()].find((i) => i.invoice === bolt11)
    assert.ok(record)
    record.expiresAt = Math.floor(Date.now() / 1000) - 1 // the wallet now reports it expired
    await waitFor(() => settled(job.id), 15_000, "expiry error")
    const error = customer.repliesFor(job.id).feedback.find((f) => statusOf(f) === "error") as Event
    assert.match(tag(error, "status")?.[2] ?? "", /expired unpaid; no work was done/)
    assert.equal(ollama.requests.length, 0)
    assert.equal(customer.repliesFor(job.id).results.length, 0)
  })

  it("a bid below the minimum price is answered with our price", async () => {
    await online({ "payment.mode": "pay-after" })
    const job = await jobFor("cheap", [["bid", "1000"]])
    await waitFor(() => settled(job.id), 15_000, "answer")
    const error = customer.repliesFor(job.id).feedback.find((f) => statusOf(f) === "error") as Event
    assert.match(tag(error, "status")?.[2] ?? "", /bid of 1000 msats is below this provider's minimum price of 2000 msats/)
    assert.deepEqual(tag(error, "amount"), ["amount", "2000"])
    assert.equal(ollama.requests.length, 0)
  })

  it("a bid between the minimum and the worst case caps max_tokens so the price never exceeds it", async () => {
    await online({ "payment.mode": "pay-after" })
    ollama.responder = () => Array.from({ length: 100 }, (_, i) => `w${i}`).join(" ")
    const prompt = "bid test"
    const bidSats = Buffer.byteLength(prompt) + 32 + 10 // room for 10 generated tokens
    const job = await jobFor(prompt, [["bid", String(bidSats * 1000)]])
    await waitFor(() => settled(job.id), 15_000, "result")
    assert.equal(ollama.requests[0]?.options.num_predict, 10)
    const amount = Number(tag(customer.repliesFor(job.id).results[0] as Event, "amount")?.[1])
    assert.ok(amount <= bidSats * 1000, `${amount} msats is within the bid of ${bidSats * 1000}`)
    assert.equal(amount, (2 + 10) * 1000, "priced from Ollama's real counts: 2 prompt + 10 generated tokens")
  })

  it("a model that counts more prompt tokens than the bound (its chat template) is still charged at most the bid", async () => {
    await online({ "payment.mode": "pay-after" })
    ollama.responder = () => Array.from({ length: 100 }, (_, i) => `w${i}`).join(" ")
    ollama.promptTokenOverhead = 200 // far past the prompt's byte bound + 32
    try {
      const prompt = "bid test"
      const bidSats = Buffer.byteLength(prompt) + 32 + 10 // room for 10 generated tokens by the bound
      const job = await jobFor(prompt, [["bid", String(bidSats * 1000)]])
      await waitFor(() => settled(job.id), 15_000, "result")
      const result = customer.repliesFor(job.id).results[0]
      assert.ok(result, `a result, not an error: ${customer.repliesFor(job.id).feedback.map((f) => tag(f, "status")?.slice(1).join(" ")).join("; ")}`)
      const [, msats, bolt11] = tag(result, "amount") ?? []
      const invoiced = decodeInvoiceAmountMsats(bolt11 as string)
      // Ollama counted 2 + 200 prompt and 10 generated tokens: 212 sats measured, but the bid is the cap.
      assert.ok(invoiced <= bidSats * 1000, `the invoice asks ${invoiced} msats, over the bid of ${bidSats * 1000}`)
      assert.ok(Number(msats) <= bidSats * 1000, `the amount tag says ${msats} msats, over the bid of ${bidSats * 1000}`)
      assert.equal(invoiced, bidSats * 1000, "charged the whole bid, no more")
      assert.equal(Number(msats), invoiced)
    } finally {
      ollama.promptTokenOverhead = 0
    }
  })

  it("an invoice outstanding across a restart is still verified, and counted once", async () => {
    const first = await online({ "payment.mode": "pay-after" })
    const keyHex = first.secretKeyHex
    const job = await jobFor("restart me")
    await waitFor(() => settled(job.id), 15_000, "result")
    const bolt11 = tag(customer.repliesFor(job.id).results[0] as Event, "amount")?.[2] as string
    await first.dispose()
    provider = undefined
    nwc.settle(bolt11) // paid while the provider was down

    const second = await online({ "payment.mode": "pay-after" }, keyHex)
    await eventually(async () => (await second.jobRecord(job.id))?.payment === "paid", "verified after restart")
    const earnings = await second.run(Effect.gen(function*() {
      return yield* (yield* JobStore).earnings
    }))
    assert.equal(earnings.satsEarnedTotal, 2 + 6)
    const lines = fs.readFileSync(path.join(dataDir, "jobs.jsonl"), "utf8").split("\n").filter((l) => l.includes('"payment":"paid"'))
    assert.equal(lines.length, 1, "paid recorded once")
  })

  it("a prepaid invoice paid after its job was cut off is still counted, and the seller is warned", async () => {
    const first = await online({ "payment.mode": "pay-first" })
    const keyHex = first.secretKeyHex
    const job = await jobFor("cut me off")
    await waitFor(() => customer.repliesFor(job.id).feedback.some((f) => statusOf(f) === "payment-required"), 15_000, "payment-required")
    const required = customer.repliesFor(job.id).feedback.find((f) => statusOf(f) === "payment-required") as Event
    const [, msats, bolt11] = tag(required, "amount") ?? []
    await first.dispose() // the job stops waiting for payment and ends in error
    provider = undefined
    nwc.settle(bolt11 as string) // the customer pays anyway

    const second = await online({ "payment.mode": "pay-first" }, keyHex)
    await eventually(async () => (await second.jobRecord(job.id))?.payment === "paid", "the payment seen after restart")
    const record = await second.jobRecord(job.id)
    assert.equal(record?.status, "error", "the job itself did not run")
    assert.equal(ollama.requests.length, 0)
    const earnings = await second.run(Effect.gen(function*() {
      return yield* (yield* JobStore).earnings
    }))
    assert.equal(earnings.satsEarnedTotal * 1000, Number(msats), "the sats in the wallet are in the earnings")
    assert.ok(second.logs.some((l) => /paid \d+ sats but did not finish .* may ask for a refund/.test(l)), second.logs.join("\n"))
  })

  it("talks NIP-04 to a wallet that announces only NIP-04", async () => {
    const legacy = await startNwcWalletService({ relayUrl: relay.url, encryption: "nip04" })
    try {
      provider = await startProvider(config({ "payment.mode": "pay-after" }), { realWallet: true, secrets: { nwcUrl: legacy.connectionString }, dataDir })
      await provider.goOnline()
      const job = await jobFor("old wallet")
      await waitFor(() => settled(job.id), 15_000, "result")
      assert.ok(tag(customer.repliesFor(job.id).results[0] as Event, "amount")?.[2])
      assert.deepEqual(legacy.requests.filter((r) => r.method === "make_invoice").map((r) => r.encryption), ["nip04"])
    } finally {
      await legacy.close()
    }
  })

  it("refuses to go online in a paid mode when the wallet is not reachable, with the reason", async () => {
    provider = await startProvider(config({ "payment.mode": "pay-after" }), {
      realWallet: true,
      secrets: { nwcUrl: "nostr+walletconnect://" + "ab".repeat(32) + "?relay=ws://127.0.0.1:9&secret=" + "cd".repeat(32) },
      dataDir
    })
    await assert.rejects(provider.goOnline(), /Cannot go online: the wallet is not ready: NWC wallet unreachable/)
  })

  it("switched from free to a paid mode while online with a wallet that cannot bill, shows the problem until it can", async () => {
    const deadWallet = "nostr+walletconnect://" + "ab".repeat(32) + "?relay=ws://127.0.0.1:9&secret=" + "cd".repeat(32)
    provider = await startProvider(config({ "payment.mode": "free" }), { realWallet: true, secrets: { nwcUrl: deadWallet }, dataDir })
    await provider.goOnline()
    const p = provider
    const error = () => p.run(Effect.gen(function*() {
      return (yield* SubscriptionRef.get((yield* Kind5050DVM).status)).error
    }))
    assert.equal(await error(), undefined)
    await p.updateConfig({ "payment.mode": "pay-after" })
    await eventually(async () => (await error()) !== undefined, "the problem shown")
    assert.match((await error()) ?? "", /the wallet is not ready \(NWC wallet unreachable.*\); paid jobs fail until it is/)
    await p.updateConfig({ "payment.mode": "free" })
    await eventually(async () => (await error()) === undefined, "the problem cleared")
  })
})

describe("NWC wallet: a malformed connection string", () => {
  it("is not ready, with a reason that does not repeat the string", async () => {
    const { Layer, ManagedRuntime } = await import("effect")
    const { defaultConfig } = await import("../../src/dvm/config")
    const { Secrets } = await import("../../src/dvm/services/Secrets")
    const { Settings } = await import("../../src/dvm/services/Settings")
    const { Wallet } = await import("../../src/dvm/services/Wallet")
    const { walletLayer } = await import("../../src/dvm/services/walletLayer")
    const secret = "zz" + "c".repeat(62)
    const uri = `nostr+walletconnect://${"ab".repeat(32)}?relay=ws://127.0.0.1:9&secret=${secret}`
    const runtime = ManagedRuntime.make(walletLayer().pipe(Layer.provide(Layer.mergeAll(
      Settings.fixed({ ...defaultConfig, "wallet.backend": "nwc" }),
      Secrets.inMemory({ nwcUrl: uri })
    ))))
    try {
      const status = await runtime.runPromise(Effect.gen(function*() {
        return yield* (yield* Wallet).status
      }))
      assert.equal(status.ready, false)
      assert.match(status.error ?? "", /not a valid nostr\+walletconnect/)
      assert.ok(!(status.error ?? "").includes("zz") && !(status.error ?? "").includes("ccc"))
    } finally {
      await runtime.dispose()
    }
  })
})
