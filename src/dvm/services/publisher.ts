/**
 * Signing and publishing what the provider says, with relays that did not take it named in the log:
 * the job pipeline and the online session both speak through it.
 */
import { type Context, Effect } from "effect"
import type { Keys } from "../protocol/identity"
import type { EventTemplate, NostrEvent } from "../protocol/nostrEvent"
import { signEvent } from "../protocol/signing"
import type { Nostr } from "./Nostr"

/**
 * What goes out while going offline (a withdrawal, a cut-off job's error) waits at most this for
 * its OK, so a slow relay cannot push going offline past a host's exit deadline.
 */
export const OFFLINE_PUBLISH_TIMEOUT_MS = 3000

export const publisher = (nostr: Context.Service.Shape<typeof Nostr>) => {
  const sign = (keys: Keys, template: EventTemplate) => Effect.sync(() => signEvent(template, keys.secretKey))

  const publishSigned = (event: NostrEvent, what: string, extraRelays: ReadonlyArray<string> = []) =>
    nostr.publish(event, extraRelays).pipe(
      Effect.tap((outcome) =>
        outcome.failed.length > 0
          ? Effect.logWarning(`${what}: not accepted by ${outcome.failed.map((f) => `${f.url} (${f.reason})`).join(", ")}`)
          : Effect.void)
    )

  const publishLogged = (keys: Keys, template: EventTemplate, what: string, extraRelays: ReadonlyArray<string> = []) =>
    sign(keys, template).pipe(Effect.flatMap((event) => publishSigned(event, what, extraRelays)))

  return { sign, publishSigned, publishLogged }
}
