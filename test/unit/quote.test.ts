// The quote before a job runs: worst case, bids that cap max_tokens, bids refused with our price.
import assert from "node:assert/strict"
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure"
import { type Config, defaultConfig } from "../../src/dvm/config"
import { maxTokensWithin, priceSats, promptTokenBound } from "../../src/dvm/pricing"
import { parseJobRequest } from "../../src/dvm/protocol/jobRequest"
import { quoteFor } from "../../src/dvm/quote"

const provider = generateSecretKey()
const config: Config = { ...defaultConfig, "pricing.minPriceSats": 3, "pricing.pricePer1kTokens": 100, "textGeneration.maxTokens": 500 }

const job = (prompt: string, tags: Array<Array<string>> = []) => {
  const event = finalizeEvent({ kind: 5050, created_at: Math.floor(Date.now() / 1000), tags: [["i", prompt, "text"], ...tags], content: "" }, generateSecretKey())
  const parsed = parseJobRequest(event, { ourPubkey: getPublicKey(provider), ourSecretKey: provider, supportedKinds: [5050] })
  if (parsed._tag !== "Job") throw new Error(`not a job: ${JSON.stringify(parsed)}`)
  return parsed.job
}

describe("quote", () => {
  it("bounds prompt tokens by UTF-8 bytes plus template room", () => {
    assert.equal(promptTokenBound("abc"), 3 + 32)
    assert.equal(promptTokenBound("€"), 3 + 32)
  })

  it("without a bid, quotes the worst case at our max_tokens", () => {
    const q = quoteFor(job("hello"), config)
    // (5 bytes + 32) + 500 tokens at 100 sats per 1,000 = 53.7 → 54 sats
    assert.deepEqual(q, { maxTokens: 500, worstSats: 54 })
  })

  it("a bid covering the worst case changes nothing", () => {
    assert.deepEqual(quoteFor(job("hello", [["bid", "54000"]]), config), { maxTokens: 500, worstSats: 54 })
  })

  it("a bid between the minimum and the worst case caps max_tokens so the worst case fits the bid", () => {
    const q = quoteFor(job("hello", [["bid", "20000"]]), config)
    assert.ok("maxTokens" in q)
    assert.equal(q.maxTokens, 200 - 37)
    assert.ok(q.worstSats <= 20)
  })

  it("a bid below the minimum is refused with the minimum price", () => {
    const q = quoteFor(job("hello", [["bid", "2999"]]), config)
    assert.ok("refused" in q)
    assert.match(q.refused, /below this provider's minimum price of 3000 msats/)
    assert.equal(q.priceMsats, 3000)
  })

  it("a bid above the minimum but too small for the prompt is refused with what one token costs", () => {
    const long = "x".repeat(100)
    const q = quoteFor(job(long, [["bid", "5000"]]), config)
    assert.ok("refused" in q)
    assert.equal(q.priceMsats, 14_000)
    assert.match(q.refused, /does not cover this prompt/)
  })

  it("maxTokensWithin never lets a price exceed its budget", () => {
    const pricing = { minPriceSats: 1, pricePer1kTokens: 7 }
    for (let budget = 1; budget < 200; budget += 7) {
      for (const prompt of [0, 13, 500]) {
        const m = maxTokensWithin(budget, prompt, pricing)
        if (m > 0) assert.ok(priceSats({ promptTokens: prompt, completionTokens: m }, pricing) <= budget, `${budget}/${prompt}`)
        assert.ok(priceSats({ promptTokens: prompt, completionTokens: m + 1 }, pricing) > budget || m === Number.MAX_SAFE_INTEGER)
      }
    }
  })

  it("a bid of exactly our minimum is served, with max_tokens fitted to it", () => {
    const cheap: Config = { ...config, "pricing.pricePer1kTokens": 10 }
    // 3 sats at 10 sats per 1,000 = 300 tokens, 37 of them the prompt's bound.
    assert.deepEqual(quoteFor(job("hello", [["bid", "3000"]]), cheap), { maxTokens: 263, worstSats: 3 })
  })

  it("a bid that buys exactly one token beyond the prompt is served with max_tokens 1", () => {
    const perToken: Config = { ...config, "pricing.pricePer1kTokens": 1000 }
    // 1 sat per token: the prompt's bound is 37 tokens, so 38 sats leave one.
    assert.deepEqual(quoteFor(job("hello", [["bid", "38000"]]), perToken), { maxTokens: 1, worstSats: 38 })
  })
})
