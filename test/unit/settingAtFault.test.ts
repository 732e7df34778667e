// Proves a failure's "Open Settings" goes to the setting that fixes it: a setting the reason names
// by its full id, Ollama's address for an Ollama failure, the payment mode for a wallet that is not
// ready, and none (all of Sell Compute's settings) when no setting can fix it.
import assert from "node:assert/strict"
import { qualifiedId, settingIds } from "../../src/dvm/config"
import { EXTENSION_ID } from "../../src/views/present"
import { settingAtFault, settingsQuery } from "../../src/views/settingAtFault"

describe("settingAtFault", () => {
  it("names the setting a reason names by its full id", () => {
    assert.equal(
      settingAtFault("Cannot go online: the model \"llama9\" set in sellCompute.textGeneration.model is not installed in Ollama"),
      "sellCompute.textGeneration.model"
    )
    assert.equal(settingAtFault("sellCompute.maxConcurrentJobs: Expected a value between 1 and 64, got 0"), "sellCompute.maxConcurrentJobs")
  })

  it("finds every setting by its full id, the longest id rather than a prefix of it", () => {
    for (const id of settingIds) assert.equal(settingAtFault(`Cannot go online: ${qualifiedId(id)} is wrong`), qualifiedId(id))
  })

  it("ignores a sellCompute.* id that is no setting", () => {
    assert.equal(settingAtFault("Cannot go online: sellCompute.nosuch.setting is wrong"), undefined)
  })

  it("sends an Ollama failure to sellCompute.ollama.host", () => {
    assert.equal(settingAtFault("Cannot go online: Ollama is not reachable at http://127.0.0.1:11434 (is it running?)"), "sellCompute.ollama.host")
    assert.equal(settingAtFault("Cannot go online: Ollama at http://127.0.0.1:11434 has no models installed (try `ollama pull llama3.2`)"), "sellCompute.ollama.host")
  })

  it("sends a wallet that is not ready to sellCompute.payment.mode (free needs no wallet)", () => {
    assert.equal(settingAtFault("Cannot go online: the wallet is not ready: no Spark recovery phrase is set up"), "sellCompute.payment.mode")
  })

  it("names no setting when none can fix it", () => {
    assert.equal(settingAtFault("Cannot go online: The stored Nostr secret key is not usable: not a valid nsec"), undefined)
    assert.equal(settingAtFault("Cannot go online: the checks of Ollama and the wallet did not finish within 30 s"), undefined)
    assert.equal(settingAtFault("going online was interrupted"), undefined)
  })

  it("looks at the subject a reason starts with, not at a word further on", () => {
    // The wallet's own error mentions a relay, and Ollama is named inside the model message only.
    assert.equal(settingAtFault("Cannot go online: the wallet is not ready: the NWC relay wss://x did not answer"), "sellCompute.payment.mode")
    assert.equal(settingAtFault("Cannot go online: another window is online with this data dir; Ollama is fine"), undefined)
  })
})

describe("settingsQuery", () => {
  it("shows exactly one setting by its id, or all of the extension's", () => {
    assert.equal(settingsQuery("sellCompute.ollama.host", EXTENSION_ID), "@id:sellCompute.ollama.host")
    assert.equal(settingsQuery(undefined, EXTENSION_ID), "@ext:sell-compute.sell-compute")
  })
})
