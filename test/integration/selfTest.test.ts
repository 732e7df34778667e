// The self-test as a seller runs it: through each relay on its own, a throwaway customer derived
// from the provider's key finds the announcement and heartbeat, sends a job and checks the replies.
// Against the real provider on real relays: all pass and nothing is billed; a stopped relay fails
// at connect and is named, and `node dist/cli.js self-test` exits 1 for it (0 when all pass).
import assert from "node:assert/strict"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { generateSecretKey } from "nostr-tools/pure"
import { bytesToHex, hexToBytes } from "nostr-tools/utils"
import { Effect } from "effect"
import { runSelfTest, verdictLine } from "../../src/dvm/selfTest"
import { JobStore } from "../../src/dvm/services/JobStore"
import { selfTestPubkey } from "../../src/dvm/selfTestCustomer"
import { runCli } from "../support/cli"
import { Customer } from "../support/customer"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { startProvider, type TestProvider } from "../support/provider"
import { type RelayProcess, startRelay } from "../support/relay"

describe("self-test", function() {
  this.timeout(60_000)
  let relayA: RelayProcess
  let relayB: RelayProcess
  let ollama: OllamaStandIn
  let provider: TestProvider
  let dir: string

  before(async () => {
    ;[relayA, relayB, ollama] = await Promise.all([startRelay(), startRelay(), startOllamaStandIn({ models: ["llama3.2:1b"] })])
    // A paying provider: the self-test's customer is served free all the same.
    provider = await startProvider({ relays: [relayA.url, relayB.url], "ollama.host": ollama.url, "payment.mode": "pay-first", "pricing.minPriceSats": 10 })
    await provider.goOnline()
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "self-test-"))
  })

  after(async () => {
    await provider?.dispose()
    await Promise.all([relayA?.stop(), relayB?.stop(), ollama?.close()])
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it("passes every step on every relay, served free and kept out of earnings", async () => {
    const seen: Array<string> = []
    ollama.reset()
    const report = await runSelfTest({
      relays: [relayA.url, relayB.url],
      providerSecretKey: hexToBytes(provider.secretKeyHex),
      onStep: (url, step) => seen.push(`${url} ${step.step} ${step.ok}`)
    })
    assert.equal(report.ok, true, JSON.stringify(report, null, 2))
    for (const relay of [relayA, relayB]) {
      const verdict = report.relays.find((r) => r.url === relay.url)
      assert.ok(verdict?.ok)
      assert.deepEqual(verdict.steps.map((s) => s.step), ["connect", "announcement", "heartbeat", "request", "feedback", "result"])
      assert.match(verdict.steps[1]?.detail ?? "", /found by a #k query \(kinds 5050, 5001, 5002\)/)
      // The first feedback: success for a job done at once (no processing to wait through), or
      // queued behind the previous relay's job while it sends its success.
      assert.match(verdict.steps[4]?.detail ?? "", /(success: done: \d+ tokens, free|processing: queued: position 1, waiting for Ollama)/)
      assert.ok((verdict.roundTripMs ?? -1) >= 0)
      assert.match(verdictLine(verdict), new RegExp(`^PASS ${relay.url}: .*round trip \\d+\\.\\d s$`))
    }
    assert.equal(seen.length, 12, "each step reported as it ended")
    assert.equal(ollama.requests.length, 2, "one job through each relay")
    assert.equal(provider.wallet.issued.length, 0, "no invoice for the self-test")
    const customer = selfTestPubkey(hexToBytes(provider.secretKeyHex))
    const stored = () => provider.run(Effect.gen(function*() {
      const store = yield* JobStore
      return { records: yield* store.recent(10), earnings: yield* store.earnings }
    }))
    // The result reaches the customer just before the provider records the job's end.
    await waitFor(async () => (await stored()).records.filter((r) => r.customer === customer && r.status === "success").length === 2, 5000, "both jobs recorded")
    const { records, earnings } = await stored()
    const mine = records.filter((r) => r.customer === customer)
    assert.equal(mine.length, 2)
    for (const record of mine) {
      assert.equal(record.status, "success")
      assert.equal(record.payment, "free")
      assert.equal(record.priceSats, 0)
    }
    assert.equal(earnings.satsEarnedTotal, 0)
  })

  it("passes with an allow-list that names only others: the seller's own test is let in", async () => {
    await provider.updateConfig({ "access.allowList": ["f".repeat(64)] })
    try {
      const report = await runSelfTest({ relays: [relayA.url], providerSecretKey: hexToBytes(provider.secretKeyHex) })
      assert.equal(report.ok, true, JSON.stringify(report.relays))
    } finally {
      await provider.updateConfig({ "access.allowList": [] })
    }
  })

  it("a relay added while online hears the heartbeat at once, so the self-test passes there too", async () => {
    const added = await startRelay()
    try {
      await provider.updateConfig({ relays: [relayA.url, relayB.url, added.url] })
      const wire = new Customer([added.url])
      try {
        await waitFor(async () => (await wire.pool.querySync([added.url], { kinds: [11998], authors: [provider.pubkey] })).length > 0, 10_000, "a heartbeat on the added relay")
      } finally {
        wire.close()
      }
      const report = await runSelfTest({ relays: [added.url], providerSecretKey: hexToBytes(provider.secretKeyHex) })
      assert.equal(report.ok, true, JSON.stringify(report.relays))
    } finally {
      await provider.updateConfig({ relays: [relayA.url, relayB.url] })
      await added.stop()
    }
  })

  it("names the step that failed: a provider never online has no announcement", async () => {
    const stranger = generateSecretKey()
    const report = await runSelfTest({ relays: [relayA.url], providerSecretKey: stranger })
    assert.equal(report.ok, false)
    const [verdict] = report.relays
    assert.deepEqual(verdict?.steps.map((s) => [s.step, s.ok]), [["connect", true], ["announcement", false]])
    assert.match(verdictLine(verdict!), new RegExp(`^FAIL ${relayA.url}: announcement failed: no announcement \\(kind 31990 with #k 5050\\) of ours on this relay`))
  })

  it("node dist/cli.js self-test: exit 0 with a PASS line per relay; exit 1 naming the relay that is down", async () => {
    const config = path.join(dir, "config.json")
    fs.writeFileSync(config, JSON.stringify({ "sellCompute.relays": [relayA.url, relayB.url] }))
    const env = { SELL_COMPUTE_NOSTR_SECRET_KEY: provider.secretKeyHex }

    const passing = runCli(["self-test", "--config", config, "--data-dir", dir], env)
    assert.equal(await passing.exited, 0, passing.output())
    const ok = passing.output()
    assert.match(ok, new RegExp(`^PASS ${relayA.url}: `, "m"))
    assert.match(ok, new RegExp(`^PASS ${relayB.url}: `, "m"))
    assert.match(ok, /Verdict: customers can reach this provider through all 2 relay\(s\)/)
    assert.ok(!ok.includes(provider.secretKeyHex), "the key is never printed")

    await relayB.stop()
    const failing = runCli(["self-test", "--config", config, "--data-dir", dir], env)
    assert.equal(await failing.exited, 1, failing.output())
    const out = failing.output()
    assert.match(out, new RegExp(`^PASS ${relayA.url}: `, "m"))
    assert.match(out, new RegExp(`^FAIL ${relayB.url}: connect failed: could not connect`, "m"))
    assert.match(out, /Verdict: 1 of 2 relay\(s\) failed/)
  })

  it("node dist/cli.js self-test without any key says where it looked, exit 2", async () => {
    const config = path.join(dir, "config.json")
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "self-test-nokey-"))
    try {
      const run = runCli(["self-test", "--config", config, "--data-dir", empty])
      assert.equal(await run.exited, 2)
      assert.match(run.output(), /no Nostr key: set SELL_COMPUTE_NOSTR_SECRET_KEY, or give the --data-dir the provider runs with/)
    } finally {
      fs.rmSync(empty, { recursive: true, force: true })
    }
  })

  it("derives the throwaway customer from the provider's key: the same for the same key, another for another", () => {
    const key = generateSecretKey()
    assert.equal(selfTestPubkey(key), selfTestPubkey(Uint8Array.from(key)))
    assert.notEqual(selfTestPubkey(key), selfTestPubkey(generateSecretKey()))
    assert.match(bytesToHex(key), /^[0-9a-f]{64}$/)
  })
})
