// "Sell Compute: Set OpenAI API Key" in the extension host, against the OpenAI API stand-in that
// asks for a key (test/vscode/fixtures/openai.ts): without a key the provider cannot go online and
// says why; with the key given to the command (a masked box) it goes online on that server; the
// key is in no setting. As in secretKey.test.ts, the test answers the input box in the person's place
// by replacing the extension's own vscode.window.showInputBox.
import * as assert from "node:assert/strict"
import * as vscode from "vscode"
import { api, fixture, type SellComputeApi, setSetting } from "./helpers"

describe("Set OpenAI API Key", function() {
  this.timeout(60_000)
  let sellCompute: SellComputeApi
  const key = () => fixture("SELL_COMPUTE_TEST_OPENAI_API_KEY")

  /** Runs the command, the input box answered with `answer`; returns the box's options. */
  const setKey = async (answer: string) => {
    const window = vscode.window as unknown as { showInputBox: typeof vscode.window.showInputBox }
    const original = window.showInputBox
    const asked: Array<vscode.InputBoxOptions | undefined> = []
    window.showInputBox = async (options) => {
      asked.push(options)
      return answer
    }
    try {
      await vscode.commands.executeCommand("sellCompute.setOpenAiApiKey")
    } finally {
      window.showInputBox = original
    }
    assert.equal(asked.length, 1, "the command asked once")
    return asked[0]
  }

  before(async () => {
    sellCompute = await api()
    if (sellCompute.status().state !== "offline") await vscode.commands.executeCommand("sellCompute.goOffline")
    await setSetting("relays", [fixture("SELL_COMPUTE_TEST_RELAY_A")])
    await setSetting("payment.mode", "free")
    await setSetting("openai.baseUrl", fixture("SELL_COMPUTE_TEST_OPENAI"))
    await setSetting("inference.backend", "openai")
  })

  after(async () => {
    await vscode.commands.executeCommand("sellCompute.goOffline")
    await setSetting("inference.backend", "ollama")
  })

  it("without a key, going online is refused naming the server and how to give a key", async () => {
    await setKey("") // removes a key an earlier run may have left
    await vscode.commands.executeCommand("sellCompute.goOnline")
    assert.equal(sellCompute.status().state, "offline")
    assert.match(sellCompute.status().error ?? "", /OpenAI-compatible server at http:\/\/127\.0\.0\.1:\d+\/v1 asks for an API key/)
  })

  it("with the key given to the command (masked), goes online on that server", async () => {
    const options = await setKey(key())
    assert.equal(options?.password, true, "the key is typed into a masked box")
    await vscode.commands.executeCommand("sellCompute.goOnline")
    assert.equal(sellCompute.status().state, "online", `not online: ${sellCompute.status().error}`)
    await vscode.commands.executeCommand("sellCompute.goOffline")
  })

  it("keeps the key out of every setting", () => {
    const section = vscode.workspace.getConfiguration("sellCompute")
    assert.ok(!JSON.stringify(section).includes(key()), "a sellCompute.* setting holds the API key")
    for (const id of ["openai.apiKey", "openaiApiKey", "apiKey"]) {
      assert.ok(!JSON.stringify(section.inspect(id) ?? null).includes(key()), `sellCompute.${id} holds the API key`)
    }
  })
})
