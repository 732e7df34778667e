/** The Nostr event shape as it comes off the wire, decoded by Schema before anything trusts it. */
import { Schema } from "effect"

const Hex64 = Schema.String.check(Schema.isPattern(/^[0-9a-f]{64}$/))

export const NostrEvent = Schema.Struct({
  id: Hex64,
  pubkey: Hex64,
  created_at: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  kind: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 65535 })),
  tags: Schema.Array(Schema.Array(Schema.String)),
  content: Schema.String,
  sig: Schema.String.check(Schema.isPattern(/^[0-9a-f]{128}$/))
})
export type NostrEvent = typeof NostrEvent.Type

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
