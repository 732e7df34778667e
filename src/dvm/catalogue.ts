/**
 * What the provider offers, model by model: the installed models narrowed by the allow-list
 * (`textGeneration.models`), each with its price (`pricing.perModel`, else the global price) and
 * what Ollama says of it. The announcement lists this catalogue, and the pipeline runs and prices
 * only what is in it. Pure: the models come from ollamaModels.ts.
 */
import type { Config } from "./config"
import type { ModelDetails } from "./services/ollamaModels"

export interface CatalogueModel extends ModelDetails {
  /** Sats per 1,000 tokens on this model. */
  readonly pricePer1kTokens: number
}

/** Ollama names a model with or without its `:latest` tag; both mean the same model. */
export const sameModel = (a: string, b: string): boolean => a === b || `${a}:latest` === b || a === `${b}:latest`

/** The installed models a customer may have: all of them, or those the allow-list names. */
export const offeredModels = (installed: ReadonlyArray<string>, config: Config): ReadonlyArray<string> => {
  const allowed = config["textGeneration.models"]
  return allowed.length === 0 ? installed : installed.filter((model) => allowed.some((name) => sameModel(name, model)))
}

/** Sats per 1,000 tokens on `model`: its own price when set, else the global one. */
export const pricePer1kFor = (config: Config, model: string | undefined): number => {
  if (model !== undefined) {
    for (const [name, price] of Object.entries(config["pricing.perModel"])) if (sameModel(name, model)) return price
  }
  return config["pricing.pricePer1kTokens"]
}

export const catalogueOf = (installed: ReadonlyArray<ModelDetails>, config: Config): ReadonlyArray<CatalogueModel> => {
  const offered = new Set(offeredModels(installed.map((m) => m.name), config))
  return installed.filter((m) => offered.has(m.name)).map((m) => ({ ...m, pricePer1kTokens: pricePer1kFor(config, m.name) }))
}
