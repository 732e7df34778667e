/** Price rules: what a job costs from the token counts Ollama reports. */

export interface Pricing {
  readonly minPriceSats: number
  readonly pricePer1kTokens: number
}

export interface TokenCounts {
  /** Ollama's prompt_eval_count. */
  readonly promptTokens: number
  /** Ollama's eval_count. */
  readonly completionTokens: number
}

/** price = max(minPriceSats, ceil(tokens / 1000 × pricePer1kTokens)) sats. */
export const priceSats = (tokens: TokenCounts, pricing: Pricing): number => {
  const total = tokens.promptTokens + tokens.completionTokens
  return Math.max(pricing.minPriceSats, Math.ceil((total / 1000) * pricing.pricePer1kTokens))
}

export const satsToMsats = (sats: number): number => sats * 1000
