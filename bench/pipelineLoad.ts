/**
 * The other side of bench/pipeline.ts, in a process of its own so the provider's process does only
 * the provider's work (its CPU per job is then the provider's): the Ollama API stand-ins, and the
 * customer of the 200-job burst. Spoken to over the IPC channel:
 *   → { ready, instantUrl, streamingUrl }
 *   ← { burst: { relay, jobs } }  → { built }   ← { go }   → { done, makespanMs, errors }
 */
import type { Event } from "nostr-tools/pure"
import { useWasmSignatures } from "../src/dvm/protocol/signing"
import { Customer, statusOf } from "../test/support/customer"
import { startOllamaStandIn, waitFor } from "../test/support/ollama-server"

/** The streaming model: this many words, one token each, this far apart (the first too). */
export const STREAMING_TOKENS = 20
export const STREAMING_TOKEN_MS = 20

export type LoadReply =
  | { readonly ready: true; readonly instantUrl: string; readonly streamingUrl: string }
  | { readonly built: true }
  /** `signedPerJob`: events the provider signed for each job (feedback and result), as received. */
  | { readonly done: true; readonly makespanMs: number; readonly errors: ReadonlyArray<string>; readonly signedPerJob: number }

export type LoadRequest =
  | { readonly burst: { readonly relay: string; readonly jobs: number } }
  | { readonly go: true }

const send = (reply: LoadReply) => process.send?.(reply)

const main = async () => {
  await useWasmSignatures()
  const instant = await startOllamaStandIn({ models: ["llama3.2:1b"] })
  instant.responder = () => "a short instant answer"
  const streaming = await startOllamaStandIn({ models: ["llama3.2:1b"], delayMsPerToken: STREAMING_TOKEN_MS })
  streaming.responder = () => Array.from({ length: STREAMING_TOKENS }, (_, i) => `word${i}`).join(" ")

  let burst: { customer: Customer; jobs: Array<Event> } | undefined
  process.on("message", (message: LoadRequest) => {
    if ("burst" in message) {
      void (async () => {
        const customer = new Customer([message.burst.relay])
        await customer.listen()
        const jobs = Array.from({ length: message.burst.jobs }, (_, i) => customer.buildJob({ prompt: `concurrent job ${i}` }))
        burst = { customer, jobs }
        send({ built: true })
      })()
    } else if (burst) {
      const { customer, jobs } = burst
      void (async () => {
        const start = performance.now()
        await Promise.all(jobs.map((job) => customer.publish(job)))
        const answered = (job: Event) =>
          customer.repliesFor(job.id).results.length > 0 || customer.repliesFor(job.id).feedback.some((f) => statusOf(f) === "error")
        await waitFor(() => jobs.every(answered), 120_000, "every job answered")
        const makespanMs = performance.now() - start
        const errors = jobs.flatMap((job) =>
          customer.repliesFor(job.id).feedback.filter((f) => statusOf(f) === "error").map((f) => f.tags.find((t) => t[0] === "status")?.[2] ?? "?"))
        // Every job's last word (success or error), so that every event it cost is counted.
        const ended = (job: Event) => customer.repliesFor(job.id).feedback.some((f) => ["success", "error"].includes(statusOf(f) ?? ""))
        await waitFor(() => jobs.every(ended), 30_000, "every job's last feedback")
        const signed = jobs.reduce((sum, job) => sum + customer.repliesFor(job.id).feedback.length + customer.repliesFor(job.id).results.length, 0)
        customer.close()
        send({ done: true, makespanMs, errors, signedPerJob: signed / jobs.length })
      })()
    }
  })
  process.on("disconnect", () => process.exit(0))
  send({ ready: true, instantUrl: instant.url, streamingUrl: streaming.url })
}

void main()
