// The headless host's generated key file: readable by its owner only, also when an older version or
// a copy left it wider.
import assert from "node:assert/strict"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { Secrets } from "../../src/dvm/services/Secrets"
import { envSecretsLayer, GENERATED_KEY_FILE } from "../../src/headless/envSecrets"

const withSecrets = <A>(dir: string, use: (secrets: Secrets["Service"]) => Effect.Effect<A>) =>
  Effect.runPromise(Effect.gen(function*() {
    return yield* use(yield* Secrets)
  }).pipe(Effect.provide(envSecretsLayer({}, dir))))

const mode = (file: string) => fs.statSync(file).mode & 0o777
const KEY = "ab".repeat(32)

describe("envSecrets: the generated key file", () => {
  it("is narrowed to its owner at start when it was left readable by others", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-secrets-"))
    const file = path.join(dir, GENERATED_KEY_FILE)
    fs.writeFileSync(file, KEY + "\n")
    fs.chmodSync(file, 0o644)
    assert.equal(await withSecrets(dir, (secrets) => secrets.get("nostrSecretKey")), KEY)
    assert.equal(mode(file), 0o600)
  })

  it("is created, and rewritten over a wider one, readable by its owner only, in a dir of its owner's only", async () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-secrets-")), "data")
    const file = path.join(dir, GENERATED_KEY_FILE)
    await withSecrets(dir, (secrets) => secrets.set("nostrSecretKey", KEY))
    assert.equal(mode(file), 0o600)
    assert.equal(mode(dir), 0o700)
    fs.chmodSync(file, 0o644)
    fs.chmodSync(dir, 0o755)
    await withSecrets(dir, (secrets) => Effect.andThen(Effect.sync(() => fs.chmodSync(file, 0o644)), secrets.set("nostrSecretKey", "cd".repeat(32))))
    assert.equal(mode(file), 0o600)
    assert.equal(mode(dir), 0o700)
    assert.equal(fs.readFileSync(file, "utf8").trim(), "cd".repeat(32))
  })
})

describe("envSecrets: from the environment", () => {
  it("reads the OpenAI-compatible server's API key from SELL_COMPUTE_OPENAI_API_KEY, trimmed, and never writes it", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-secrets-"))
    const read = (env: NodeJS.ProcessEnv) =>
      Effect.runPromise(Effect.gen(function*() {
        const secrets = yield* Secrets
        yield* secrets.set("openaiApiKey", "ignored")
        return yield* secrets.get("openaiApiKey")
      }).pipe(Effect.provide(envSecretsLayer(env, dir))))
    assert.equal(await read({ SELL_COMPUTE_OPENAI_API_KEY: "  sk-abc  " }), "sk-abc")
    assert.equal(await read({}), undefined, "set() does not store it: the environment is its only source")
    assert.equal(await read({ OPENAI_API_KEY: "sk-for-openai-com" }), undefined, "the OpenAI client's own variable is not ours")
    assert.deepEqual(fs.readdirSync(dir), [], "nothing written")
  })
})
