// "Sell Compute: Export Nostr Secret Key" in the extension host: it asks first, in a modal warning;
// confirmed, the clipboard (code-server's, the browser's) holds the nsec of the key the provider
// signs with; cancelled, the clipboard is untouched. The key reaches no log file.
//
// The command asks with vscode.window.showWarningMessage, which the extension host cannot click.
// As in secretKey.test.ts, this suite shares the extension's `vscode` API object, so the test
// answers in the person's place by replacing showWarningMessage there, and checks what was asked.
import * as assert from "node:assert/strict"
import * as fs from "node:fs"
import * as path from "node:path"
import { decode, npubEncode } from "nostr-tools/nip19"
import { getPublicKey } from "nostr-tools/pure"
import { bytesToHex } from "nostr-tools/utils"
import * as vscode from "vscode"
import { api, waitFor } from "./helpers"

interface Asked {
  readonly message: string
  readonly options: vscode.MessageOptions | undefined
  readonly items: ReadonlyArray<string>
}

/** Runs the command, answering its warning with `answer`; returns what it asked. */
async function exportAnswering(answer: string | undefined): Promise<Array<Asked>> {
  const window = vscode.window as unknown as { showWarningMessage: (...args: Array<unknown>) => Thenable<unknown> }
  const original = window.showWarningMessage
  const asked: Array<Asked> = []
  window.showWarningMessage = async (message: unknown, ...rest: Array<unknown>) => {
    const options = typeof rest[0] === "object" && rest[0] !== null ? rest.shift() as vscode.MessageOptions : undefined
    asked.push({ message: String(message), options, items: rest.map(String) })
    return answer
  }
  try {
    await vscode.commands.executeCommand("sellCompute.exportSecretKey")
  } finally {
    window.showWarningMessage = original
  }
  return asked
}

describe("Export Nostr Secret Key", function() {
  this.timeout(30_000)
  let npub: string

  before(async () => {
    await api()
    // The provider's public key, as Copy Public Key gives it (the identity exists from then on).
    await vscode.env.clipboard.writeText("")
    await vscode.commands.executeCommand("sellCompute.copyPublicKey")
    npub = await waitFor(async () => {
      const text = await vscode.env.clipboard.readText()
      return text.startsWith("npub1") && text
    }, 5000, "Copy Public Key to put the npub on the clipboard")
  })

  it("asks first, in a modal warning, and copies nothing when cancelled", async () => {
    const sentinel = `not a key ${Date.now()}`
    await vscode.env.clipboard.writeText(sentinel)
    const asked = await exportAnswering(undefined)
    assert.equal(asked.length, 1, "the command did not ask exactly once")
    const [question] = asked
    assert.equal(question?.options?.modal, true, "the warning is not modal")
    assert.match(question?.message ?? "", /secret key/i)
    assert.match(question?.options?.detail ?? "", /anyone who has the key can act as this provider/i)
    assert.ok(question?.options?.detail?.includes(npub), "the warning does not say whose key it is")
    assert.deepEqual(question?.items, ["Copy Secret Key"])
    assert.equal(await vscode.env.clipboard.readText(), sentinel, "cancelling changed the clipboard")
  })

  it("copies the nsec of the provider's key once confirmed", async () => {
    await vscode.env.clipboard.writeText("")
    const asked = await exportAnswering("Copy Secret Key")
    assert.equal(asked.length, 1)
    const copied = await vscode.env.clipboard.readText()
    assert.match(copied, /^nsec1[02-9ac-hj-np-z]{58}$/, "the clipboard holds no nsec")
    const decoded = decode(copied)
    assert.equal(decoded.type, "nsec")
    assert.equal(npubEncode(getPublicKey(decoded.data as Uint8Array)), npub, "the nsec is not the key of the provider's npub")
  })

  it("writes the key to no log file", async function() {
    const secret = await vscode.env.clipboard.readText()
    assert.ok(secret.startsWith("nsec1"), "the previous test left no nsec on the clipboard")
    const hex = bytesToHex(decode(secret).data as Uint8Array)
    // <user data>/User/settings.json → <user data>/logs/…: every log of this VS Code, the extension's included.
    await vscode.commands.executeCommand("workbench.action.openSettingsJson")
    const settingsFile = await waitFor(
      () => vscode.window.activeTextEditor?.document.uri.path.endsWith("/User/settings.json") && vscode.window.activeTextEditor.document.uri.path,
      5000,
      "the user settings.json to open"
    )
    await vscode.commands.executeCommand("workbench.action.closeActiveEditor")
    const logsDir = path.join(path.dirname(path.dirname(settingsFile)), "logs")
    if (!fs.existsSync(logsDir)) return this.skip() // not on this extension host's disk
    const logFiles = () =>
      fs.readdirSync(logsDir, { recursive: true, encoding: "utf8" })
        .map((name) => path.join(logsDir, name))
        .filter((file) => fs.statSync(file).isFile())
    // The log is written a moment later: wait for the export's own line, so the check below sees it.
    await waitFor(
      () => logFiles().some((file) => path.basename(file).includes("Sell Compute") && fs.readFileSync(file, "utf8").includes("copied to the clipboard")),
      10_000,
      `the export's line in the extension's log under ${logsDir}`
    )
    for (const file of logFiles()) {
      const text = fs.readFileSync(file, "latin1").toLowerCase()
      assert.ok(!text.includes(secret) && !text.includes(hex), `${file} contains the secret key`)
    }
  })
})
