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
  const exact = (total * pricing.pricePer1kTokens) / 1000
  // Floating point can land a hair above a whole number (70 × 100 / 1000); that is not another sat.
  return Math.max(pricing.minPriceSats, Math.ceil(exact - 1e-9))
}

export const satsToMsats = (sats: number): number => sats * 1000

/**
 * An upper bound on the prompt's tokens before Ollama has counted them: byte-level tokenizers never
 * produce more tokens than UTF-8 bytes, plus a margin for the model's template tokens.
 */
export const promptTokenBound = (prompt: string): number => new TextEncoder().encode(prompt).length + 32

/** The most tokens a job may generate so its price stays within `budgetSats`; 0 when none fit. */
export const maxTokensWithin = (budgetSats: number, promptTokens: number, pricing: Pricing): number => {
  if (pricing.pricePer1kTokens <= 0) return Number.MAX_SAFE_INTEGER
  if (budgetSats < pricing.minPriceSats) return 0
  const totalTokens = Math.floor((budgetSats * 1000) / pricing.pricePer1kTokens + 1e-9)
  return Math.max(0, totalTokens - promptTokens)
}
