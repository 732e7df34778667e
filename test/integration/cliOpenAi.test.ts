// The headless host with an OpenAI-compatible server: `"sellCompute.inference.backend": "openai"` in
// the config file, the key in SELL_COMPUTE_OPENAI_API_KEY. Real relay, a server speaking the OpenAI
// API. Needs `npm run build` first (npm test does it).
import assert from "node:assert/strict"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { bytesToHex } from "nostr-tools/utils"
import { generateSecretKey } from "nostr-tools/pure"
import { runCli } from "../support/cli"
import { Customer, statusOf } from "../support/customer"
import { waitFor } from "../support/ollama-server"
import { startOpenAiStandIn, type OpenAiStandIn } from "../support/openai-server"
import { type RelayProcess, startRelay } from "../support/relay"

const API_KEY = "sk-headless-9e8d7c6b5a4f3e2d1c0b"

describe("headless host with an OpenAI-compatible server", function() {
  this.timeout(30_000)
  let relay: RelayProcess
  let server: OpenAiStandIn
  let dir: string

  before(async () => {
    ;[relay, server] = await Promise.all([startRelay(), startOpenAiStandIn({ models: ["qwen2.5-0.5b-instruct"], apiKey: API_KEY })])
  })
  after(async () => {
    await Promise.all([relay?.stop(), server?.close()])
  })
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-cli-openai-"))
    await relay.restart()
    server.reset()
  })
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

  const configFile = () => {
    const file = path.join(dir, "config.json")
    fs.writeFileSync(file, JSON.stringify({
      "sellCompute.relays": [relay.url],
      "sellCompute.inference.backend": "openai",
      "sellCompute.openai.baseUrl": server.baseUrl,
      "sellCompute.payment.mode": "free"
    }))
    return file
  }

  it("serves with the key from SELL_COMPUTE_OPENAI_API_KEY, sent as a Bearer token and never printed", async () => {
    const run = runCli(["--config", configFile(), "--data-dir", dir], {
      SELL_COMPUTE_NOSTR_SECRET_KEY: bytesToHex(generateSecretKey()),
      SELL_COMPUTE_OPENAI_API_KEY: API_KEY,
      // Headers the openai client would add from the environment cannot replace the key.
      OPENAI_CUSTOM_HEADERS: "Authorization: Bearer sk-from-custom-headers"
    })
    const customer = new Customer([relay.url])
    try {
      await customer.listen()
      await waitFor(() => run.output().includes("Key: "), 20_000, "the start summary")
      assert.match(run.output(), new RegExp(`INFO  Models: qwen2\\.5-0\\.5b-instruct offered by the OpenAI-compatible server at ${server.baseUrl.replace(/\./g, "\\.")}; `))
      const job = await customer.publish(customer.buildJob({ prompt: "hello from the headless host" }))
      await waitFor(() => customer.repliesFor(job.id).feedback.some((f) => statusOf(f) === "success"), 15_000, "success")
      assert.equal(customer.repliesFor(job.id).results[0]?.content, "Echo from qwen2.5-0.5b-instruct: hello from the headless host")
      assert.ok(server.authorizations.length >= 2, "models listed and a completion asked for")
      assert.ok(server.authorizations.every((a) => a === `Bearer ${API_KEY}`), "every request carried the key")
    } finally {
      customer.close()
      run.child.kill("SIGTERM")
      assert.equal(await run.exited, 0)
    }
    assert.ok(!run.output().includes(API_KEY), "the key is not in the output")
  })

  it("without the key, refuses to go online saying how to give one, and never sends the user's own OPENAI_API_KEY", async () => {
    const run = runCli(["--config", configFile(), "--data-dir", dir], {
      SELL_COMPUTE_NOSTR_SECRET_KEY: bytesToHex(generateSecretKey()),
      // The openai client would read these by default: a key for api.openai.com must not reach another server.
      OPENAI_API_KEY: "sk-the-users-own-openai-key",
      OPENAI_ORG_ID: "org-users-own",
      OPENAI_CUSTOM_HEADERS: "Authorization: Bearer sk-from-custom-headers"
    })
    assert.equal(await run.exited, 1)
    assert.match(run.output(), /OpenAI-compatible server at http:\/\/127\.0\.0\.1:\d+\/v1 asks for an API key \(set one with .*SELL_COMPUTE_OPENAI_API_KEY headless\) \(HTTP 401\)/)
    assert.deepEqual(server.authorizations, [undefined], "no Authorization header without a key")
  })
})
