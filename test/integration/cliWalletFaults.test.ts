// The headless host (dist/cli.js, needs `npm run build`) billing through an NWC wallet whose relay
// turns hostile: it refuses our requests (OK false, rate-limited), then the wallet stops answering.
// Each job fails with a readable reason, the process keeps serving (no unhandled rejection ends it),
// and once the wallet is healthy the next job is billed. SELL_COMPUTE_WALLET_TIMEOUT_S keeps the
// wallet's deadline short here.
import assert from "node:assert/strict"
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { generateSecretKey } from "nostr-tools/pure"
import { bytesToHex } from "nostr-tools/utils"
import { runCli } from "../support/cli"
import { Customer, statusOf, tag } from "../support/customer"
import { type NwcWalletService, startNwcWalletService } from "../support/nwcWalletService"
import { startOllamaStandIn, type OllamaStandIn, waitFor } from "../support/ollama-server"
import { type RefusingRelay, startRefusingRelay } from "../support/refusingRelay"
import { type RelayProcess, startRelay } from "../support/relay"

const viaRelay = (connectionString: string, relayUrl: string) => {
  const [head, query] = connectionString.split("?") as [string, string]
  const params = new URLSearchParams(query)
  params.set("relay", relayUrl)
  return `${head}?${params.toString()}`
}

describe("headless host with a hostile wallet relay (dist/cli.js)", function() {
  this.timeout(60_000)
  let relay: RelayProcess
  let ollama: OllamaStandIn
  let nwc: NwcWalletService
  let hostile: RefusingRelay
  let dir: string
  let child: ChildProcess | undefined

  before(async () => {
    ;[relay, ollama] = await Promise.all([startRelay(), startOllamaStandIn({ models: ["llama3.2:1b"] })])
    nwc = await startNwcWalletService({ relayUrl: relay.url, encryption: "nip44_v2" })
    hostile = await startRefusingRelay(relay.url)
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-cli-wallet-"))
  })
  after(async () => {
    child?.kill("SIGKILL")
    await hostile?.close()
    await nwc?.close()
    await Promise.all([relay?.stop(), ollama?.close()])
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it("fails a job whose invoice its wallet's relay refuses, or its wallet never answers, and keeps serving", async () => {
    const file = path.join(dir, "config.json")
    fs.writeFileSync(file, JSON.stringify({
      "sellCompute.relays": [relay.url],
      "sellCompute.ollama.host": ollama.url,
      "sellCompute.payment.mode": "pay-after",
      "sellCompute.wallet.backend": "nwc"
    }))
    const nwcUrl = viaRelay(nwc.connectionString, hostile.url)
    const nostrKey = bytesToHex(generateSecretKey())
    const { child: run, output: outputSoFar, exited } = runCli(["--config", file, "--data-dir", dir], {
      SELL_COMPUTE_NWC_URL: nwcUrl,
      SELL_COMPUTE_NOSTR_SECRET_KEY: nostrKey,
      SELL_COMPUTE_WALLET_TIMEOUT_S: "1.5"
    })
    child = run
    const customer = new Customer([relay.url])
    try {
      await customer.listen()
      await waitFor(() => outputSoFar().includes("Online as"), 20_000, `online: ${outputSoFar()}`)
      const endsWith = async (prompt: string, status: "error" | "success") => {
        const job = await customer.publish(customer.buildJob({ prompt }))
        const replies = customer.repliesFor(job.id)
        await waitFor(() => replies.feedback.some((f) => ["error", "success"].includes(statusOf(f) ?? "")), 30_000, `${prompt}: ${outputSoFar()}`)
        const last = replies.feedback.find((f) => ["error", "success"].includes(statusOf(f) ?? ""))!
        assert.equal(statusOf(last), status, JSON.stringify(last))
        return { replies, said: JSON.stringify(last.tags) + last.content }
      }

      hostile.events = { mode: "refuse", reason: "rate-limited: slow down" }
      const refused = await endsWith("refused by the relay", "error")
      assert.match(refused.said, /could not create an invoice: NWC make_invoice failed: the wallet's relay refused the request \(rate-limited: slow down\)/)

      hostile.events = { mode: "forward" }
      nwc.ignoreRequests = true
      const unanswered = await endsWith("never answered", "error")
      assert.match(unanswered.said, /could not create an invoice: no answer from the wallet within 1\.5 s/)
      assert.equal(run.exitCode, null, "still running")

      nwc.ignoreRequests = false
      const billed = await endsWith("billed", "success")
      const bolt11 = tag(billed.replies.results[0]!, "amount")?.[2]
      assert.ok(bolt11 && [...nwc.invoices.values()].some((i) => i.invoice === bolt11), "the result carries the wallet's invoice")

      run.kill("SIGTERM")
      assert.equal(await exited, 0)
      const output = outputSoFar()
      assert.ok(!/Unhandled promise rejection|Uncaught exception/.test(output), output)
      assert.ok(!output.includes(nwc.clientSecretHex) && !output.includes(nostrKey), "no secret in the log")
      assert.ok(!output.includes("nostr+walletconnect"), "no connection string in the log")
    } finally {
      customer.close()
      run.kill("SIGKILL")
    }
  })
})
