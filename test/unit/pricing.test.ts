// Proves the price rule: max(minPriceSats, ceil(tokens / 1000 × pricePer1kTokens)) sats, and sats → msats.
import assert from "node:assert/strict"
import { maxTokensWithin, priceSats, type Pricing, satsToMsats } from "../../src/dvm/pricing"

const tokens = (promptTokens: number, completionTokens = 0) => ({ promptTokens, completionTokens })
const noMinimum = (pricePer1kTokens: number): Pricing => ({ minPriceSats: 0, pricePer1kTokens })

describe("pricing: priceSats", () => {
  it("charges the minimum for 0 tokens", () => {
    assert.equal(priceSats(tokens(0), { minPriceSats: 3, pricePer1kTokens: 2 }), 3)
  })

  it("charges nothing for 0 tokens when there is no minimum", () => {
    assert.equal(priceSats(tokens(0), noMinimum(2)), 0)
  })

  it("charges exactly pricePer1kTokens for exactly 1000 tokens", () => {
    assert.equal(priceSats(tokens(1000), noMinimum(2)), 2)
    assert.equal(priceSats(tokens(1000), noMinimum(17)), 17)
  })

  it("rounds up: 1001 tokens at 2 sats/1k costs 3 sats", () => {
    assert.equal(priceSats(tokens(1001), noMinimum(2)), 3)
  })

  it("rounds a single token up to a whole sat", () => {
    assert.equal(priceSats(tokens(1), noMinimum(2)), 1)
  })

  it("counts prompt and completion tokens together", () => {
    // 600 + 401 = 1001 tokens → ceil(2.002) = 3; either part alone would cost less.
    assert.equal(priceSats(tokens(600, 401), noMinimum(2)), 3)
    assert.equal(priceSats(tokens(600, 0), noMinimum(2)), 2)
    assert.equal(priceSats(tokens(0, 401), noMinimum(2)), 1)
    assert.equal(priceSats(tokens(2500, 2500), noMinimum(2)), 10)
  })

  it("uses the minimum when the token price is below it", () => {
    // 1000 tokens at 2 sats/1k = 2 sats < minimum 3.
    assert.equal(priceSats(tokens(1000), { minPriceSats: 3, pricePer1kTokens: 2 }), 3)
  })

  it("uses the token price when it is above the minimum", () => {
    // 5000 tokens at 2 sats/1k = 10 sats > minimum 3.
    assert.equal(priceSats(tokens(3000, 2000), { minPriceSats: 3, pricePer1kTokens: 2 }), 10)
  })

  it("equals the minimum exactly at the crossover", () => {
    // 1500 tokens at 2 sats/1k = 3 sats = minimum; 1501 tokens → 4.
    assert.equal(priceSats(tokens(1500), { minPriceSats: 3, pricePer1kTokens: 2 }), 3)
    assert.equal(priceSats(tokens(1501), { minPriceSats: 3, pricePer1kTokens: 2 }), 4)
  })

  it("handles a fractional price per 1k tokens, rounding up", () => {
    // 0.5 sats/1k: 1000 tokens = 0.5 → 1; 2000 = 1 → 1; 2001 = 1.0005 → 2; 4000 = 2.
    assert.equal(priceSats(tokens(1000), noMinimum(0.5)), 1)
    assert.equal(priceSats(tokens(2000), noMinimum(0.5)), 1)
    assert.equal(priceSats(tokens(2001), noMinimum(0.5)), 2)
    assert.equal(priceSats(tokens(4000), noMinimum(0.5)), 2)
  })

  it("charges nothing when both the minimum and the rate are 0 (free)", () => {
    assert.equal(priceSats(tokens(123_456, 7_890), { minPriceSats: 0, pricePer1kTokens: 0 }), 0)
  })

  it("returns a whole number of sats", () => {
    for (const [t, p] of [[333, 1.7], [12_345, 0.3], [1, 0.001], [999_999, 3.3]] as const) {
      assert.ok(Number.isInteger(priceSats(tokens(t), noMinimum(p))), `${t} tokens at ${p}`)
    }
  })
})

describe("pricing: no sat from floating-point error", () => {
  for (const [tokens, per1k, expected] of [[70, 100, 7], [140, 100, 14], [1100, 100, 110], [30, 0.1, 1], [3000, 0.1, 1]] as const) {
    it(`${tokens} tokens at ${per1k} sats/1k cost exactly ${expected}`, () => {
      assert.equal(priceSats({ promptTokens: tokens, completionTokens: 0 }, { minPriceSats: 0, pricePer1kTokens: per1k }), expected)
    })
  }
})

describe("pricing: satsToMsats", () => {
  it("converts sats to millisats (× 1000)", () => {
    assert.equal(satsToMsats(0), 0)
    assert.equal(satsToMsats(1), 1000)
    assert.equal(satsToMsats(3), 3000)
    assert.equal(satsToMsats(1_000_000), 1_000_000_000)
  })

  it("converts a computed price to the msats amount put on the wire", () => {
    assert.equal(satsToMsats(priceSats(tokens(1001), noMinimum(2))), 3000)
  })
})

describe("pricing: maxTokensWithin at its edges", () => {
  it("puts no bound on tokens when tokens cost nothing", () => {
    assert.equal(maxTokensWithin(5, 100, { minPriceSats: 0, pricePer1kTokens: 0 }), Number.MAX_SAFE_INTEGER)
    assert.equal(maxTokensWithin(1, 100, { minPriceSats: 3, pricePer1kTokens: 0 }), Number.MAX_SAFE_INTEGER)
  })

  it("fits no token in a budget below the minimum price, even when the tokens alone would fit", () => {
    assert.equal(maxTokensWithin(2, 0, { minPriceSats: 3, pricePer1kTokens: 100 }), 0)
  })

  it("gives the tokens the budget buys beyond the prompt's", () => {
    // 3 sats at 100 sats/1k = 30 tokens, 10 of them the prompt's.
    assert.equal(maxTokensWithin(3, 10, { minPriceSats: 3, pricePer1kTokens: 100 }), 20)
  })
})
