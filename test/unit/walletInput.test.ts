// What a person pastes as an NWC connection string is checked before it is stored, without echoing it.
import assert from "node:assert/strict"
import { nwcUrlProblem } from "../../src/views/walletInput"

const pubkey = "b".repeat(64)
const secret = "7".repeat(64)

describe("nwcUrlProblem", () => {
  it("accepts a connection string with a pubkey, relays and a secret", () => {
    assert.equal(nwcUrlProblem(`nostr+walletconnect://${pubkey}?relay=wss%3A%2F%2Frelay.example&secret=${secret}`), undefined)
    assert.equal(nwcUrlProblem(`  nostr+walletconnect://${pubkey}?relay=wss://a.example&relay=wss://b.example&secret=${secret}\n`), undefined)
  })

  it("says nothing about an empty box", () => {
    assert.equal(nwcUrlProblem("   "), undefined)
  })

  it("names what is wrong, never repeating the secret", () => {
    const cases: Array<[string, RegExp]> = [
      [`https://${pubkey}?relay=wss://a.example&secret=${secret}`, /starts with nostr\+walletconnect/],
      [`nostr+walletconnect://xyz?relay=wss://a.example&secret=${secret}`, /public key/],
      [`nostr+walletconnect://${pubkey}?secret=${secret}`, /no relay/],
      [`nostr+walletconnect://${pubkey}?relay=https://a.example&secret=${secret}`, /ws:\/\/ or wss:\/\//],
      [`nostr+walletconnect://${pubkey}?relay=wss://a.example&secret=abc`, /secret/]
    ]
    for (const [text, expected] of cases) {
      const problem = nwcUrlProblem(text)
      assert.match(problem ?? "", expected, text)
      assert.ok(!problem?.includes(secret))
    }
  })
})
