/**
 * The model server the settings select, as a person reads it: its name and address. Pure, shared by
 * the Inference backends and the views (which must not load the backends' clients to say a name).
 */
import type { Config, INFERENCE_BACKENDS } from "./config"

export type InferenceBackend = (typeof INFERENCE_BACKENDS)[number]

/** Status checks answer within this even when the server does not (a dead address, a hung server). */
export const STATUS_TIMEOUT_MS = 5000

/** How the server in use is named to a person. */
export const serverName = (backend: InferenceBackend): string => (backend === "openai" ? "OpenAI-compatible server" : "Ollama")

/** The address of the server the settings select. */
export const serverAddress = (config: Config): string =>
  config["inference.backend"] === "openai" ? config["openai.baseUrl"] : config["ollama.host"]
