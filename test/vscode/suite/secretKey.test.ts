// "Sell Compute: Set Nostr Secret Key" in the extension host: the key given to the command is the
// one the provider goes online with, and it is in no setting of any scope (declared or not), not in
// the user settings file and not in the extension's data directory. That it survives into a new
// extension host (so is in SecretStorage) is the UI tier's reload check in secret-key.test.mjs.
//
// The command takes no argument and asks with vscode.window.showInputBox, which the extension host
// cannot type into. The test answers in its place: this suite is bundled inside the extension's own
// folder, so VS Code gives it the extension's own `vscode` API object, and replacing
// window.showInputBox there is what the command calls. The stand-in checks the box the command asks
// for (masked, validating) and answers with the key; typing into the real box is the UI tier's
// test/vscode/ui/secret-key.test.mjs.
import * as assert from "node:assert/strict"
import * as fs from "node:fs"
import * as path from "node:path"
import { npubEncode, nsecEncode } from "nostr-tools/nip19"
import { generateSecretKey, getPublicKey } from "nostr-tools/pure"
import { bytesToHex } from "nostr-tools/utils"
import * as vscode from "vscode"
import { api, extension, fixture, type SellComputeApi, setSetting, waitFor } from "./helpers"

const COMMAND_TIMEOUT_MS = 10_000

describe("Set Nostr Secret Key", function() {
  this.timeout(60_000)
  let sellCompute: SellComputeApi
  const secretKey = generateSecretKey()
  const hex = bytesToHex(secretKey)
  const nsec = nsecEncode(secretKey)
  const npub = npubEncode(getPublicKey(secretKey))

  /** True when `text` contains the secret key in either form. */
  const leaks = (text: string) => {
    const lower = text.toLowerCase()
    return lower.includes(hex) || lower.includes(nsec)
  }

  before(async () => {
    sellCompute = await api()
    if (sellCompute.status().state !== "offline") await vscode.commands.executeCommand("sellCompute.goOffline")
    await setSetting("relays", [fixture("SELL_COMPUTE_TEST_RELAY_A")])
    await setSetting("ollama.host", fixture("SELL_COMPUTE_TEST_OLLAMA"))
    await setSetting("payment.mode", "free")
  })

  after(async () => {
    await vscode.commands.executeCommand("sellCompute.goOffline")
  })

  it("stores the key given to the command; the provider goes online with its npub", async () => {
    // The npub the provider had before (from an earlier go-online), if any, is not the new key's.
    assert.notEqual(sellCompute.status().npub, npub)

    const window = vscode.window as unknown as { showInputBox: typeof vscode.window.showInputBox }
    const original = window.showInputBox
    const asked: Array<vscode.InputBoxOptions | undefined> = []
    window.showInputBox = async (options) => {
      asked.push(options)
      return nsec
    }
    try {
      let timer: ReturnType<typeof setTimeout> | undefined
      const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), COMMAND_TIMEOUT_MS)))
      const outcome = await Promise.race([vscode.commands.executeCommand("sellCompute.setNostrSecretKey"), timedOut])
      clearTimeout(timer)
      if (outcome === "timeout") {
        // The real box is up: this suite does not share the extension's API object after all.
        await vscode.commands.executeCommand("workbench.action.closeQuickOpen")
        assert.fail("the command did not ask through the extension's vscode.window.showInputBox")
      }
    } finally {
      window.showInputBox = original
    }

    assert.equal(asked.length, 1, "the command asked for the key exactly once")
    const options = asked[0]
    assert.equal(options?.password, true, "the key is typed into a masked box")
    assert.ok(options?.validateInput, "the box checks what is typed")
    const verdict = async (value: string) => {
      const result = await options.validateInput!(value)
      return typeof result === "string" ? result : result?.message
    }
    assert.match((await verdict("nsec1notakey")) ?? "", /not a valid nsec/)
    assert.equal(await verdict(nsec), undefined)
    assert.equal(await verdict(hex), undefined)

    await vscode.commands.executeCommand("sellCompute.goOnline")
    assert.equal(sellCompute.status().state, "online", `not online: ${sellCompute.status().error}`)
    assert.equal(sellCompute.status().npub, npub, "the provider is not online as the key's npub")
    await vscode.commands.executeCommand("sellCompute.goOffline")
  })

  it("keeps the key out of every setting, in every scope", () => {
    const section = vscode.workspace.getConfiguration("sellCompute")
    // One entry per section of Settings.
    const sections = extension().packageJSON.contributes.configuration as Array<{ properties: Record<string, unknown> }>
    const contributed = sections.flatMap((section) => Object.keys(section.properties))
      .map((key) => key.replace(/^sellCompute\./, ""))
    assert.ok(contributed.length > 20, `only ${contributed.length} settings contributed`)
    // Also names a careless implementation might use for an undeclared setting.
    const ids = [...contributed, "nostrSecretKey", "nostr.secretKey", "secretKey", "nsec"]
    for (const id of ids) {
      const inspected = section.inspect(id)
      assert.ok(!leaks(JSON.stringify(inspected ?? null)), `sellCompute.${id} holds the secret key: ${JSON.stringify(inspected)}`)
    }
    // Everything under the section, declared or not, at its effective value.
    assert.ok(!leaks(JSON.stringify(section)), "a sellCompute.* setting holds the secret key")
  })

  it("keeps the key out of the user settings file and the extension's data directory", async function() {
    await vscode.commands.executeCommand("workbench.action.openSettingsJson")
    const document = await waitFor(
      () => vscode.window.activeTextEditor?.document.uri.path.endsWith("/User/settings.json") && vscode.window.activeTextEditor.document,
      5000,
      "the user settings.json to open"
    )
    try {
      assert.ok(document.getText().includes("sellCompute."), "this is not the settings file the tests wrote")
      assert.ok(!leaks(document.getText()), `${document.uri.toString()} contains the secret key`)
    } finally {
      await vscode.commands.executeCommand("workbench.action.closeActiveEditor")
    }

    // <user data>/User/globalStorage/<extension id>: the job log and anything else the extension writes.
    // code-server keeps both on the disk this extension host runs on.
    const dataDir = path.join(path.dirname(document.uri.path), "globalStorage", extension().id)
    if (!fs.existsSync(dataDir)) return this.skip() // not reachable from this extension host
    const files = fs.readdirSync(dataDir, { recursive: true, encoding: "utf8" })
      .map((name) => path.join(dataDir, name))
      .filter((file) => fs.statSync(file).isFile())
    assert.ok(files.some((file) => file.endsWith("jobs.jsonl")), `no job log in ${dataDir}: ${files.join(", ")}`)
    for (const file of files) assert.ok(!leaks(fs.readFileSync(file, "latin1")), `${file} contains the secret key`)
  })
})
