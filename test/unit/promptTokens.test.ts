// Expected prompt tokens: the safe bound for a model never seen, then close to what Ollama counted
// for that model (within 1.5× for prompts like those seen), never above the bound.
import assert from "node:assert/strict"
import { promptTokenBound } from "../../src/dvm/pricing"
import { PromptTokens, utf8Bytes } from "../../src/dvm/promptTokens"

const english = (n: number) => "The quick brown fox jumps over the lazy dog near the river bank today. ".repeat(10).slice(0, n)

describe("expected prompt tokens", () => {
  it("is the safe bound for a model never seen", () => {
    const tokens = new PromptTokens()
    assert.equal(tokens.estimate("llama3.2", english(120)), promptTokenBound(english(120)))
  })

  it("follows what the model counted: within 1.5× for a prompt like those seen, never below the count", () => {
    const tokens = new PromptTokens()
    // About 4 bytes a token, plus a template of 12 tokens, as llama3's tokenizer counts English.
    const counted = (text: string) => Math.ceil(utf8Bytes(text) / 4) + 12
    for (const n of [40, 300, 120, 800]) tokens.observe("llama3.2", utf8Bytes(english(n)), counted(english(n)))
    for (const n of [60, 120, 500]) {
      const estimate = tokens.estimate("llama3.2", english(n))
      assert.ok(estimate >= counted(english(n)), `${n} chars: ${estimate} covers ${counted(english(n))}`)
      assert.ok(estimate <= 1.5 * counted(english(n)), `${n} chars: ${estimate} within 1.5× of ${counted(english(n))}`)
    }
    assert.equal(tokens.estimate("qwen2.5", english(120)), promptTokenBound(english(120)), "another model is still unseen")
  })

  it("never goes above the safe bound, however dense the prompts seen", () => {
    const tokens = new PromptTokens()
    tokens.observe("m", 10, 500)
    assert.equal(tokens.estimate("m", english(200)), promptTokenBound(english(200)))
  })

  it("ignores counts that say nothing (no tokens, or not a number)", () => {
    const tokens = new PromptTokens()
    tokens.observe("m", 100, 0)
    tokens.observe("m", Number.NaN, 10)
    assert.equal(tokens.estimate("m", english(100)), promptTokenBound(english(100)))
  })

  it("learns from the latest jobs: a denser language seen lately raises the estimate", () => {
    const tokens = new PromptTokens()
    tokens.observe("m", 400, 112)
    const before = tokens.estimate("m", english(400))
    tokens.observe("m", 400, 300) // e.g. text in a script the tokenizer splits finely
    assert.ok(tokens.estimate("m", english(400)) > before)
  })
})
