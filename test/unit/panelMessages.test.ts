// Messages from the panel's webview are untrusted: the host acts only on well-formed ones.
import assert from "node:assert/strict"
import { isWebviewMessage } from "../../src/views/messages"

describe("isWebviewMessage", () => {
  it("accepts every message the panel sends", () => {
    for (const message of [
      { type: "ready" },
      { type: "setOnline", online: true },
      { type: "setOnline", online: false },
      { type: "refresh" },
      { type: "copyNpub" },
      { type: "openSettings" },
      { type: "showLog" },
      { type: "setUpWallet" }
    ]) assert.ok(isWebviewMessage(message), JSON.stringify(message))
  })

  it("rejects anything else", () => {
    for (const message of [null, undefined, "ready", 1, {}, { type: "runCommand", command: "x" }, { type: "setOnline" }, { type: "setOnline", online: "yes" }]) {
      assert.equal(isWebviewMessage(message), false, JSON.stringify(message))
    }
  })
})
