/**
 * The open internet's cost: the provider's memory (RSS and heap after a full GC) before and after
 * 1,000 strangers each send one job at once, what became of them (served, refused within the reply
 * budget, dropped), and how many invoices are outstanding after 120 strangers send pay-first jobs
 * they never pay, with the wallet checks those invoices cost per second.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, SubscriptionRef } from "effect"
import type { Event } from "nostr-tools/pure"
import { AbstractRelay } from "nostr-tools/abstract-relay"
import WebSocket from "ws"
import { Kind5050DVM } from "../src/dvm/services/Kind5050DVM"
import { floodJobs } from "../test/support/flood"
import { startOllamaStandIn, waitFor } from "../test/support/ollama-server"
import { startProvider, type TestProvider } from "../test/support/provider"
import { startRelay } from "../test/support/relay"

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`
const memory = () => {
  globalThis.gc?.()
  const { rss, heapUsed } = process.memoryUsage()
  return `RSS ${mb(rss)}, heap ${mb(heapUsed)}`
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Every 7000 and 6xxx the provider published, by the request it answers. */
const watchAnswers = async (relayUrl: string, provider: string) => {
  const answers = new Map<string, Array<string>>()
  const relay = new AbstractRelay(relayUrl, { verifyEvent: () => true, websocketImplementation: WebSocket as unknown as typeof globalThis.WebSocket })
  await relay.connect()
  relay.subscribe([{ kinds: [7000, 6050], authors: [provider] }], {
    onevent: (event) => {
      const id = event.tags.find((t) => t[0] === "e")?.[1]
      if (!id) return
      const statuses = answers.get(id) ?? []
      statuses.push(event.kind === 6050 ? "result" : event.tags.find((t) => t[0] === "status")?.[1] ?? "?")
      answers.set(id, statuses)
    }
  })
  return { answers, close: () => relay.close() }
}

const activeJobs = (provider: TestProvider) =>
  provider.run(Effect.gen(function*() {
    return (yield* SubscriptionRef.get((yield* Kind5050DVM).status)).activeJobs
  }))

const benchFlood = async () => {
  const [relay, ollama] = await Promise.all([startRelay(), startOllamaStandIn({ models: ["llama3.2:1b"] })])
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-bench-flood-"))
  const provider = await startProvider({ relays: [relay.url], "ollama.host": ollama.url, "payment.mode": "free", maxConcurrentJobs: 2 }, { dataDir })
  try {
    await provider.goOnline()
    const watcher = await watchAnswers(relay.url, provider.pubkey)
    await sleep(500)
    const before = memory()
    const started = performance.now()
    const flood: Array<Event> = await floodJobs(relay.url, 1000)
    await waitFor(() => provider.logs.some((line) => /Reply budget spent/.test(line)), 60_000, "the drops")
    await waitFor(async () => (await activeJobs(provider)) === 0, 120_000, "the admitted jobs")
    const seconds = (performance.now() - started) / 1000
    await sleep(1000)
    const after = memory()
    let served = 0
    let refused = 0
    for (const event of flood) {
      const statuses = watcher.answers.get(event.id) ?? []
      if (statuses.includes("result")) served++
      else if (statuses.includes("error")) refused++
    }
    watcher.close()
    console.log("1,000 strangers, one job each, at once (free mode, 2 at a time, queue of 20, 120 refusals a minute)")
    console.log(`  memory before: ${before}`)
    console.log(`  memory after:  ${after}`)
    console.log(`  served ${served}, refused with a reason ${refused}, dropped unanswered ${1000 - served - refused}, in ${seconds.toFixed(1)} s`)
  } finally {
    await provider.dispose()
    await Promise.all([relay.stop(), ollama.close()])
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}

const benchPayFirst = async () => {
  const [relay, ollama] = await Promise.all([startRelay(), startOllamaStandIn({ models: ["llama3.2:1b"] })])
  const provider = await startProvider({ relays: [relay.url], "ollama.host": ollama.url, "payment.mode": "pay-first" })
  try {
    await provider.goOnline()
    const watcher = await watchAnswers(relay.url, provider.pubkey)
    const strangers = await floodJobs(relay.url, 120, { tags: [["p", provider.pubkey]] })
    await waitFor(() => strangers.every((e) => (watcher.answers.get(e.id) ?? []).length > 0), 60_000, "an answer to every stranger")
    const required = strangers.filter((e) => watcher.answers.get(e.id)?.includes("payment-required")).length
    const busy = strangers.filter((e) => watcher.answers.get(e.id)?.includes("error")).length
    // How much watching the outstanding invoices costs: wallet checks over 10 s.
    const checksBefore = provider.wallet.checks
    await sleep(10_000)
    const checks = provider.wallet.checks - checksBefore
    watcher.close()
    console.log("120 strangers send pay-first jobs and never pay (queue of 20)")
    console.log(`  invoices issued and outstanding: ${provider.wallet.issued.length} (payment-required ${required}, told busy ${busy})`)
    console.log(`  wallet checks while they wait: ${(checks / 10).toFixed(1)} a second`)
  } finally {
    await provider.dispose()
    await Promise.all([relay.stop(), ollama.close()])
  }
}

export const benchHostile = async () => {
  console.log("\n== the open internet ==")
  await benchFlood()
  await benchPayFirst()
}
