// The prompt-token estimate (promptTokens.ts) against a real tokenizer's counts: Llama 3's own
// vocabulary and merges (llama3-tokenizer-js, pinned, tests only), plus the tokens a chat template
// adds, stand in for what Ollama counts. Never seen: at least the real count, for every language.
// Learned from ordinary English prompts: English within 1.5× of the real count and never below it.
import assert from "node:assert/strict"
import llama3Tokenizer from "llama3-tokenizer-js"
import { PromptTokens, utf8Bytes } from "../../src/dvm/promptTokens"

/** Tokens Llama 3's chat template puts around a prompt (<|begin_of_text|>, the header ids, <|eot_id|>, …). */
const TEMPLATE_TOKENS = 10
const counted = (text: string) => llama3Tokenizer.encode(text, { bos: false, eos: false }).length + TEMPLATE_TOKENS

/** What the model ran before: the estimate learns from these. */
const LEARNED = [
  "Tell me a joke about programmers.",
  "Summarize the history of the Roman Empire in three sentences.",
  "How do I reverse a linked list in Python? Show the code.",
  "Write a haiku about autumn leaves falling in a quiet park.",
  "What are the main differences between TCP and UDP?"
]

const ENGLISH = [
  "Write a short poem about the sea and the wind over the harbour at night.",
  "Explain in two sentences why relays matter for Nostr data vending machines and their customers.",
  "What is the capital of France? Answer with one word.",
  "Hi",
  "The quick brown fox jumps over the lazy dog. ".repeat(20)
]

const OTHER_LANGUAGES: Record<string, string> = {
  Spanish: "Escribe un poema corto sobre el mar y el viento sobre el puerto por la noche.",
  German: "Schreibe ein kurzes Gedicht über das Meer und den Wind über dem Hafen in der Nacht.",
  Russian: "Напиши короткое стихотворение о море и ветре над гаванью ночью.",
  Japanese: "夜の港の上の海と風について短い詩を書いてください。",
  Chinese: "写一首关于夜晚港口上空的海和风的短诗。"
}

describe("prompt-token estimate against Llama 3's tokenizer", () => {
  const learned = new PromptTokens()
  before(() => {
    for (const text of LEARNED) learned.observe("llama3", utf8Bytes(text), counted(text))
  })

  it("the tokenizer is the real one: known counts for known texts", () => {
    assert.equal(llama3Tokenizer.encode("Hello world!", { bos: false, eos: false }).length, 3)
    assert.equal(llama3Tokenizer.decode(llama3Tokenizer.encode("Hola desde rust-nostr", { bos: false, eos: false })), "Hola desde rust-nostr")
  })

  for (const text of [...ENGLISH, ...Object.values(OTHER_LANGUAGES)]) {
    it(`a model never seen is quoted at least its real count: ${JSON.stringify(text.slice(0, 30))}`, () => {
      assert.ok(new PromptTokens().estimate("llama3", text) >= counted(text))
    })
  }

  for (const text of ENGLISH) {
    it(`learned from English, English is within 1.5× of the real count and never below: ${JSON.stringify(text.slice(0, 30))}`, () => {
      const estimate = learned.estimate("llama3", text)
      const real = counted(text)
      assert.ok(estimate >= real, `${estimate} below the real ${real}`)
      assert.ok(estimate <= 1.5 * real, `${estimate} more than 1.5× the real ${real}`)
    })
  }

  for (const [language, text] of Object.entries(OTHER_LANGUAGES)) {
    it(`learned from English, ${language} is not under-quoted, and within 1.5× once ${language} was seen`, () => {
      assert.ok(learned.estimate("llama3", text) >= counted(text))
      const own = new PromptTokens()
      own.observe("llama3", utf8Bytes(text), counted(text))
      const estimate = own.estimate("llama3", text)
      assert.ok(estimate >= counted(text) && estimate <= 1.5 * counted(text), `${estimate} vs ${counted(text)}`)
    })
  }
})
