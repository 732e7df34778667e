/**
 * A test customer on a real relay: publishes job requests (plain or encrypted) and collects the
 * provider's feedback and result for each, as a real NIP-90 client would.
 */
import WebSocket from "ws"
import { AbstractSimplePool } from "nostr-tools/abstract-pool"
import { useWebSocketImplementation } from "nostr-tools/pool"
import { type Event, finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure"
import { decryptFrom, encryptFor, type EncryptionScheme } from "../../src/dvm/protocol/encryption"
import type { NostrEvent } from "../../src/dvm/protocol/nostrEvent"
import { verifySignature } from "../../src/dvm/protocol/signing"

useWebSocketImplementation(WebSocket)

export interface JobReplies {
  readonly feedback: Array<Event>
  readonly results: Array<Event>
}

export interface JobOptions {
  readonly prompt?: string
  readonly tags?: Array<Array<string>>
  readonly content?: string
  readonly kind?: number
  /** Encrypt the i/param tags to the provider. */
  readonly encrypt?: { readonly scheme: EncryptionScheme; readonly provider: string }
  readonly createdAt?: number
}

export class Customer {
  readonly secretKey = generateSecretKey()
  readonly pubkey = getPublicKey(this.secretKey)
  // Verifies with the same (WASM when loaded) verifier as the provider, so customer-side CPU does not
  // dominate the benchmark's latency figures.
  readonly pool = new AbstractSimplePool({
    verifyEvent: (event) => verifySignature(event as NostrEvent),
    websocketImplementation: WebSocket as unknown as typeof globalThis.WebSocket,
    maxWaitForConnection: 3000
  })
  readonly replies = new Map<string, JobReplies>()
  private closer: { close: () => void } | undefined

  constructor(readonly relays: ReadonlyArray<string>) {}

  /** Listens for everything addressed to this customer. Resolves once the relays answered EOSE. */
  listen(): Promise<void> {
    return new Promise((resolve) => {
      this.closer = this.pool.subscribe([...this.relays], { kinds: [6050, 6001, 6002, 7000], "#p": [this.pubkey] }, {
        onevent: (event) => {
          const requestId = event.tags.find((t) => t[0] === "e")?.[1]
          if (!requestId) return
          const entry = this.repliesFor(requestId)
          if (event.kind === 7000) entry.feedback.push(event)
          else entry.results.push(event)
        },
        oneose: () => resolve()
      })
    })
  }

  /** Subscribes again, e.g. after its relay restarted; replies already received are kept. */
  relisten(): Promise<void> {
    this.closer?.close()
    return this.listen()
  }

  /** Asks the provider to stop a job (NIP-09 deletion of the request). */
  async cancel(job: Event): Promise<Event> {
    const deletion = finalizeEvent({
      kind: 5,
      created_at: Math.floor(Date.now() / 1000),
      tags: [["e", job.id], ["k", String(job.kind)]],
      content: "cancelled"
    }, this.secretKey)
    await Promise.all(this.pool.publish([...this.relays], deletion))
    return deletion
  }

  repliesFor(id: string): JobReplies {
    let entry = this.replies.get(id)
    if (!entry) {
      entry = { feedback: [], results: [] }
      this.replies.set(id, entry)
    }
    return entry
  }

  buildJob(options: JobOptions = {}): Event {
    const inputTags: Array<Array<string>> = options.prompt !== undefined ? [["i", options.prompt, "text"]] : []
    const tags = [...inputTags, ...(options.tags ?? [])]
    if (options.encrypt) {
      const content = encryptFor(options.encrypt.scheme, this.secretKey, options.encrypt.provider, JSON.stringify(tags))
      return finalizeEvent({
        kind: options.kind ?? 5050,
        created_at: options.createdAt ?? Math.floor(Date.now() / 1000),
        tags: [["p", options.encrypt.provider], ["encrypted"]],
        content
      }, this.secretKey)
    }
    return finalizeEvent({
      kind: options.kind ?? 5050,
      created_at: options.createdAt ?? Math.floor(Date.now() / 1000),
      tags,
      content: options.content ?? ""
    }, this.secretKey)
  }

  async publish(event: Event, relays: ReadonlyArray<string> = this.relays): Promise<Event> {
    this.repliesFor(event.id)
    await Promise.all(this.pool.publish([...relays], event))
    return event
  }

  decrypt(scheme: EncryptionScheme, provider: string, content: string): string {
    return decryptFrom(scheme, this.secretKey, provider, content)
  }

  close(): void {
    this.closer?.close()
    this.pool.destroy()
  }
}

export const statusOf = (event: Event) => event.tags.find((t) => t[0] === "status")?.[1]
export const tag = (event: Event, name: string) => event.tags.find((t) => t[0] === name)
