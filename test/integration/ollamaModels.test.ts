// What Ollama says of its models (ollamaModels.ts), read from an HTTP server that says anything:
// only names and facts fit for an event are kept, lists and answers are bounded, a slow /api/show
// costs its deadline, and context lengths are asked once per model version.
import assert from "node:assert/strict"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, Exit } from "effect"
import { makeModelDetails, MAX_MODELS } from "../../src/dvm/services/ollamaModels"

interface Hostile {
  url: string
  tags: () => unknown
  show: (model: string) => unknown | "hang" | "huge"
  shows: Array<string>
  close: () => Promise<void>
}

const startHostileOllama = async (): Promise<Hostile> => {
  const sockets = new Set<import("node:net").Socket>()
  const state: Hostile = { url: "", tags: () => ({ models: [] }), show: () => ({}), shows: [], close: async () => {} }
  const server = http.createServer((req, res) => {
    let body = ""
    req.on("data", (d) => (body += d))
    req.on("end", () => {
      if (req.url === "/api/tags") return void res.end(JSON.stringify(state.tags()))
      if (req.url === "/api/show") {
        const model = String(JSON.parse(body || "{}").model)
        state.shows.push(model)
        const answer = state.show(model)
        if (answer === "hang") return // never answers
        if (answer === "huge") return void res.end(`{"model_info":{"x":"${"y".repeat(5 * 1024 * 1024)}"}}`)
        return void res.end(JSON.stringify(answer))
      }
      res.statusCode = 404
      res.end()
    })
  })
  server.on("connection", (s) => {
    sockets.add(s)
    s.on("close", () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  state.close = async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return state
}

const entry = (name: unknown, extra: Record<string, unknown> = {}) => ({ name, digest: "d1", details: { parameter_size: "7B" }, ...extra })
const info = (contextLength: unknown) => ({ model_info: { "general.architecture": "llama", "llama.context_length": contextLength } })

describe("installed models' details from Ollama", function() {
  this.timeout(30_000)
  let ollama: Hostile

  before(async () => {
    ollama = await startHostileOllama()
  })

  after(async () => {
    await ollama?.close()
  })

  beforeEach(() => {
    ollama.shows.length = 0
  })

  it("keeps printable names and facts, drops the rest", async () => {
    ollama.tags = () => ({
      models: [
        entry("llama3.2:latest"),
        entry("bad\nname"),
        entry(""),
        entry(42),
        entry("x".repeat(201)),
        entry("qwen2.5:7b", { details: { parameter_size: "a very long parameter size text" } }),
        "not an object"
      ]
    })
    ollama.show = (model) => (model === "llama3.2:latest" ? info(131072) : info(-5))
    const details = await Effect.runPromise(makeModelDetails().details(ollama.url))
    assert.deepEqual(details, [
      { name: "llama3.2:latest", parameterSize: "7B", contextLength: 131072 },
      { name: "qwen2.5:7b" }
    ])
  })

  it(`lists at most ${MAX_MODELS} models`, async () => {
    ollama.tags = () => ({ models: Array.from({ length: MAX_MODELS + 50 }, (_, i) => entry(`m${i}`)) })
    ollama.show = () => info(4096)
    const details = await Effect.runPromise(makeModelDetails().details(ollama.url))
    assert.equal(details.length, MAX_MODELS)
  })

  it("asks each model version's context length once; a new version is asked again", async () => {
    let digest = "d1"
    ollama.tags = () => ({ models: [entry("a", { digest }), entry("b", { digest })] })
    ollama.show = () => info(8192)
    const models = makeModelDetails()
    await Effect.runPromise(models.details(ollama.url))
    await Effect.runPromise(models.details(ollama.url))
    assert.deepEqual([...ollama.shows].sort(), ["a", "b"])
    digest = "d2"
    await Effect.runPromise(models.details(ollama.url))
    assert.equal(ollama.shows.length, 4)
  })

  it("lists a model whose /api/show hangs or is too large, without its context length", async () => {
    ollama.tags = () => ({ models: [entry("slow"), entry("huge"), entry("fine")] })
    ollama.show = (model) => (model === "slow" ? "hang" : model === "huge" ? "huge" : info(2048))
    const details = await Effect.runPromise(makeModelDetails().details(ollama.url))
    assert.deepEqual(details, [
      { name: "slow", parameterSize: "7B" },
      { name: "huge", parameterSize: "7B" },
      { name: "fine", parameterSize: "7B", contextLength: 2048 }
    ])
  })

  it("fails with a reason when /api/tags is not a model list", async () => {
    ollama.tags = () => ({ nothing: true })
    const exit = await Effect.runPromiseExit(makeModelDetails().details(ollama.url))
    assert.ok(Exit.isFailure(exit))
    assert.match(String(exit.cause), /did not list its models: \/api\/tags did not list models/)
  })
})
