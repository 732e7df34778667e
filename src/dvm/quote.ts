/**
 * What a job may cost before it runs: the worst case (the prompt's expected tokens, see
 * promptTokens.ts, plus max_tokens), fitted to the customer's bid by lowering max_tokens. A bid below
 * our minimum, or too small for even one token, is refused with our price. The charge itself never
 * exceeds the bid, whatever the model counts (JobPipeline caps it).
 */
import { pricePer1kFor } from "./catalogue"
import type { Config } from "./config"
import { maxTokensWithin, priceSats, type Pricing, promptTokenBound, satsToMsats } from "./pricing"
import { generationOptions, type JobRequest } from "./protocol/jobRequest"

/** The price rules for a job on `model` (its own price per 1,000 tokens when one is set). */
export const pricingOf = (config: Config, model?: string): Pricing => ({
  minPriceSats: config["pricing.minPriceSats"],
  pricePer1kTokens: pricePer1kFor(config, model)
})

export type Quote =
  | { readonly maxTokens: number; readonly worstSats: number }
  | { readonly refused: string; readonly priceMsats: number }

/** `promptTokens`: the prompt's expected tokens on the chosen `model` (default: the safe bound). */
export const quoteFor = (job: JobRequest, config: Config, promptTokens = promptTokenBound(job.prompt), model?: string): Quote => {
  const pricing = pricingOf(config, model)
  let maxTokens = generationOptions(job.params, config).maxTokens
  const worst = () => priceSats({ promptTokens, completionTokens: maxTokens }, pricing)
  if (job.bidMsats === undefined || job.bidMsats >= satsToMsats(worst())) return { maxTokens, worstSats: worst() }
  const bidSats = Math.floor(job.bidMsats / 1000)
  if (bidSats < pricing.minPriceSats) {
    return {
      refused: `your bid of ${job.bidMsats} msats is below this provider's minimum price of ${satsToMsats(pricing.minPriceSats)} msats`,
      priceMsats: satsToMsats(pricing.minPriceSats)
    }
  }
  maxTokens = Math.min(maxTokens, maxTokensWithin(bidSats, promptTokens, pricing))
  if (maxTokens < 1) {
    const oneToken = priceSats({ promptTokens, completionTokens: 1 }, pricing)
    return {
      refused: `your bid of ${job.bidMsats} msats does not cover this prompt; it needs at least ${satsToMsats(oneToken)} msats`,
      priceMsats: satsToMsats(oneToken)
    }
  }
  return { maxTokens, worstSats: worst() }
}
