/**
 * The Nostr event (NIP-01) as the provider handles it. Nothing from a relay has this type before it
 * passed the door (authentic.ts: exact shape, id recomputed, signature checked).
 */
export interface NostrEvent {
  /** 64 lowercase hex: the sha256 of the event's canonical serialisation. */
  readonly id: string
  /** 64 lowercase hex. */
  readonly pubkey: string
  readonly created_at: number
  readonly kind: number
  readonly tags: ReadonlyArray<ReadonlyArray<string>>
  readonly content: string
  /** 128 lowercase hex. */
  readonly sig: string
}

/**
 * An event as a subscription hands it on, already through the door (authentic.ts). `malformed`
 * says why an authentic event is not well formed (its tags or content were not strings; they are
 * strings in this copy): it is answered with an error and never served.
 */
export type IncomingEvent = NostrEvent & { readonly malformed?: string }

/** An event we are about to sign. */
export interface EventTemplate {
  readonly kind: number
  readonly created_at: number
  readonly tags: Array<Array<string>>
  readonly content: string
}

export type Tag = ReadonlyArray<string>

export const tagValues = (tags: ReadonlyArray<Tag>, name: string): Array<string> =>
  tags.filter((t) => t[0] === name && t[1] !== undefined).map((t) => t[1] as string)

export const nowSeconds = () => Math.floor(Date.now() / 1000)
