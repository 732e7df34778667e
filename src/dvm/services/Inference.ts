/**
 * Inference: the model server that runs the jobs, behind one interface. Is it reachable, which
 * models it offers, and streaming generation that stops (aborting the HTTP request) when the job's
 * fiber is interrupted. One file per backend: OllamaInference.ts (Ollama's own API) and
 * OpenAiInference.ts (any server speaking the OpenAI API: vLLM, llama.cpp's server, LM Studio, TGI).
 * The backend is read from the settings on every call, so a change applies to the next job.
 */
import { Context, Effect, Layer } from "effect"
import type { InferenceError } from "../errors"
import type { InferenceBackend } from "../modelServer"
import type { GenerationOptions } from "../protocol/jobRequest"
import { makeOllamaInference } from "./OllamaInference"
import { makeOpenAiInference } from "./OpenAiInference"
import { Secrets } from "./Secrets"
import { Settings } from "./Settings"

export interface InferenceStatus {
  /** Which kind of server answered (or did not). */
  readonly backend: InferenceBackend
  readonly reachable: boolean
  /** Where it is: Ollama's host, or the OpenAI-compatible base URL. */
  readonly host: string
  readonly version?: string
  readonly models: ReadonlyArray<string>
  readonly error?: string
}

export interface GenerationRequest {
  readonly model: string
  readonly prompt: string
  readonly options: GenerationOptions
  /** Told the text so far each time the model adds to it (for partial results); must not block. */
  readonly onText?: (textSoFar: string) => void
}

export interface Generation {
  readonly text: string
  readonly model: string
  /** The server's own counts (Ollama's prompt_eval_count and eval_count, OpenAI's usage), or ours when it sends none. */
  readonly promptTokens: number
  readonly completionTokens: number
}

/** What each backend provides: the service's shape. */
export interface InferenceApi {
  readonly status: Effect.Effect<InferenceStatus>
  readonly generate: (request: GenerationRequest) => Effect.Effect<Generation, InferenceError>
}

export class Inference extends Context.Service<Inference, InferenceApi>()("sellCompute/Inference") {
  static readonly layer = Layer.effect(Inference, makeInference())
}

function makeInference() {
  return Effect.gen(function*() {
    const settings = yield* Settings
    const backends: Record<InferenceBackend, InferenceApi> = {
      ollama: makeOllamaInference(settings),
      openai: makeOpenAiInference(settings, yield* Secrets)
    }
    const current = Effect.map(settings.current, (config) => backends[config["inference.backend"]])
    return Inference.of({
      status: Effect.flatMap(current, (backend) => backend.status),
      generate: (request) => Effect.flatMap(current, (backend) => backend.generate(request))
    })
  })
}
