// Messages from the panel's webview are untrusted: the host acts only on well-formed ones.
import assert from "node:assert/strict"
import { neventEncode, npubEncode } from "nostr-tools/nip19"
import { isWebviewMessage } from "../../src/views/messages"

const npub = npubEncode("b".repeat(64))
const nevent = neventEncode({ id: "c".repeat(64), author: "b".repeat(64) })

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
      { type: "setUpWallet" },
      { type: "useFreeMode" },
      { type: "testProvider" },
      { type: "openWalkthrough", step: "wallet" },
      { type: "query", query: { filter: {}, offset: 0, limit: 50 } },
      { type: "query", query: { filter: { status: "error", payment: "none", model: "llama3.2", customer: "npub1x", id: "abcd" }, offset: 150, limit: 200 } },
      { type: "jobDetail", id: "a".repeat(64) },
      { type: "exportCsv", filter: { payment: "paid" } },
      { type: "copyText", text: npub },
      { type: "copyText", text: nevent }
    ]) assert.ok(isWebviewMessage(message), JSON.stringify(message))
  })

  it("rejects anything else", () => {
    for (const message of [
      null,
      undefined,
      "ready",
      1,
      {},
      [],
      { type: "runCommand", command: "x" },
      { type: "setOnline" },
      { type: "setOnline", online: "yes" },
      { type: "openWalkthrough", step: "anything" },
      { type: "openWalkthrough" },
      { type: "query" },
      { type: "query", query: { filter: {}, offset: 0, limit: 0 } },
      { type: "query", query: { filter: {}, offset: 0, limit: 201 } },
      { type: "query", query: { filter: {}, offset: -1, limit: 50 } },
      { type: "query", query: { filter: {}, offset: 0.5, limit: 50 } },
      { type: "query", query: { filter: { status: "paid" }, offset: 0, limit: 50 } },
      { type: "query", query: { filter: { payment: "success" }, offset: 0, limit: 50 } },
      { type: "query", query: { filter: { model: 3 }, offset: 0, limit: 50 } },
      { type: "query", query: { filter: { model: "m".repeat(201) }, offset: 0, limit: 50 } },
      { type: "query", query: { filter: { where: "1=1" }, offset: 0, limit: 50 } },
      { type: "query", query: { filter: null, offset: 0, limit: 50 } },
      { type: "jobDetail", id: "A".repeat(64) },
      { type: "jobDetail", id: "a".repeat(63) },
      { type: "exportCsv" },
      { type: "exportCsv", filter: { status: "nope" } },
      { type: "copyText", text: "nsec1" + "q".repeat(58) },
      { type: "copyText", text: "hello" },
      { type: "copyText", text: `${npub}\n` }
    ]) {
      assert.equal(isWebviewMessage(message), false, JSON.stringify(message))
    }
  })
})
