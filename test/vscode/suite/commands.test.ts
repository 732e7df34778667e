// The extension is active in this VS Code: every command the manifest contributes is registered,
// it registers no command the manifest does not show, and it reports how long activation took.
import * as assert from "node:assert/strict"
import * as vscode from "vscode"
import { api, extension } from "./helpers"

describe("Activation", () => {
  it("activates and reports how long activate() took", async () => {
    const { activationMs } = await api()
    assert.ok(extension().isActive)
    assert.ok(Number.isFinite(activationMs) && activationMs > 0 && activationMs < 10_000, `activationMs is ${activationMs}`)
  })

  it("has not loaded the Spark SDK bundle (it loads on first use of a Spark wallet)", async () => {
    await api()
    const loaded = Object.keys(require.cache).filter((file) => file.endsWith("sparkSdk.js"))
    assert.ok(Object.keys(require.cache).some((file) => file.endsWith("extension.js")), "the extension's own bundle is in the cache")
    assert.deepEqual(loaded, [])
  })
})

describe("Commands", () => {
  before(async () => {
    await api()
  })

  it("every sellCompute.* command in package.json is registered", async () => {
    const contributed: Array<{ command: string }> = extension().packageJSON.contributes.commands
    assert.ok(contributed.length > 0, "package.json contributes no commands")
    const registered = new Set(await vscode.commands.getCommands(true))
    const missing = contributed.map((c) => c.command).filter((id) => !registered.has(id))
    assert.deepEqual(missing, [], `contributed but not registered: ${missing.join(", ")}`)
  })

  it("every registered sellCompute.* command is in package.json", async () => {
    const contributed = new Set(extension().packageJSON.contributes.commands.map((c: { command: string }) => c.command))
    const registered = (await vscode.commands.getCommands(true)).filter((id) => id.startsWith("sellCompute."))
    const unlisted = registered.filter((id) => !contributed.has(id))
    assert.deepEqual(unlisted, [], `registered but not in package.json (not in the palette): ${unlisted.join(", ")}`)
  })
})
