// The settings' text patterns: relay and Ollama URLs, and the public keys of the allow and deny lists.
import assert from "node:assert/strict"
import { Result } from "effect"
import { decodeConfig, decodeQualifiedConfig } from "../../src/dvm/config"

const NPUB = "npub1zutzeysacnf9rru6zqwmxd54mud0k44tst6l70ja5mhv8jjumytsd2x7nu" // NIP-06 vector
const HEX = "17162c921dc4d2518f9a101db33695df1afb56ab82f5ff3e5da6eec3ca5cd917"

const accepts = (raw: Record<string, unknown>) => assert.ok(Result.isSuccess(decodeConfig(raw)), `expected ${JSON.stringify(raw)} to be accepted`)
const rejection = (raw: Record<string, unknown>) => {
  const decoded = decodeConfig(raw)
  if (Result.isSuccess(decoded)) assert.fail(`expected ${JSON.stringify(raw)} to be rejected`)
  return decoded.failure
}

describe("config: URL patterns", () => {
  it("takes relay URLs with a path, also on a one-letter host", () => {
    accepts({ relays: ["wss://relay.example.com/nostr", "ws://h/x", "wss://h"] })
  })

  for (const url of ["see wss://relay.example.com", "wss://relay.example.com now", "wss://relay.example.com\n"]) {
    it(`refuses the relay ${JSON.stringify(url)}: the whole value must be the URL`, () => {
      assert.match(rejection({ relays: [url] }).message, /must be a ws:\/\/ or wss:\/\/ URL/)
    })
  }

  it("takes an Ollama address with a path, also on a one-letter host", () => {
    accepts({ "ollama.host": "http://localhost:11434/ollama" })
    accepts({ "ollama.host": "https://h/api/v1" })
  })

  for (const url of ["see http://localhost:11434", "http://localhost:11434 now", "http://h/a b"]) {
    it(`refuses the Ollama address ${JSON.stringify(url)}`, () => {
      assert.match(rejection({ "ollama.host": url }).message, /must be an http:\/\/ or https:\/\/ URL/)
    })
  }
})

describe("config: public keys in the allow and deny lists", () => {
  it("takes 64 lowercase hex characters or an npub", () => {
    accepts({ "access.allowList": [HEX, NPUB], "access.denyList": [NPUB, HEX] })
  })

  for (const key of ["a", `0${HEX}`, `${HEX}0`, HEX.toUpperCase(), "npub1q", `x${NPUB}`, `${NPUB}q`, NPUB.replace(/.$/, "b")]) {
    it(`refuses ${JSON.stringify(key.length > 20 ? `${key.slice(0, 8)}…${key.slice(-4)}` : key)}, saying what a key must be`, () => {
      const error = rejection({ "access.denyList": [key] })
      assert.equal(error.setting, "sellCompute.access.denyList")
      assert.match(error.message, /must be a hex public key or an npub/)
    })
  }
})

describe("config: ConfigError", () => {
  it("is tagged ConfigError, and names no setting when the whole file is not an object", () => {
    const decoded = decodeQualifiedConfig([])
    if (Result.isSuccess(decoded)) assert.fail("an array was accepted as the config")
    assert.equal(decoded.failure._tag, "ConfigError")
    assert.equal(decoded.failure.setting, "")
  })
})
