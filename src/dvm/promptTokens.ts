/**
 * How many tokens a prompt will be, before the model has counted it. A model never seen gets the
 * safe bound (its UTF-8 bytes plus a template margin: byte-level tokenizers never produce more).
 * Once the model has run jobs, the estimate follows what Ollama counted for them: the highest
 * tokens-per-byte seen lately (a template allowance added to every prompt so short prompts' fixed
 * template tokens are covered), with a margin, and never above the safe bound. For English that is
 * about a quarter of the bound, so honest bids are no longer refused.
 */
import { promptTokenBound } from "./pricing"

/** Bytes allowed for the model's own template around every prompt, in both the learning and the estimate. */
const TEMPLATE_BYTES = 32
/** Observations kept per model, newest replacing oldest. */
const WINDOW = 50
/** The estimate runs this much above the highest ratio seen, for prompts a little denser than those. */
const MARGIN = 1.15
/** Models remembered; the least recently used is forgotten first. */
const MODELS = 200

export const utf8Bytes = (text: string): number => new TextEncoder().encode(text).length

export class PromptTokens {
  private readonly ratios = new Map<string, Array<number>>()

  /** What Ollama counted for a prompt of `promptBytes` bytes on `model`. */
  observe(model: string, promptBytes: number, promptTokens: number): void {
    if (!(promptBytes >= 0) || !(promptTokens > 0)) return
    const seen = this.ratios.get(model) ?? []
    seen.push(promptTokens / (promptBytes + TEMPLATE_BYTES))
    if (seen.length > WINDOW) seen.shift()
    this.ratios.delete(model)
    this.ratios.set(model, seen)
    if (this.ratios.size > MODELS) this.ratios.delete(this.ratios.keys().next().value as string)
  }

  /** The tokens `prompt` is expected to be on `model`: learned when the model has been seen, else the safe bound. */
  estimate(model: string, prompt: string): number {
    const bound = promptTokenBound(prompt)
    const seen = this.ratios.get(model)
    if (!seen || seen.length === 0) return bound
    const ratio = Math.max(...seen) * MARGIN
    return Math.min(bound, Math.ceil(ratio * (utf8Bytes(prompt) + TEMPLATE_BYTES)))
  }
}
