/**
 * The provider's Nostr identity. On first use with no key stored, a new key is generated for this
 * install and kept in Secrets (never a shared default). The public key is shown as npub.
 */
import { Context, Effect, Layer, Ref, Semaphore } from "effect"
import { IdentityError } from "../errors"
import { generateKeys, type Keys, keysFromSecret, parseSecretKey, secretKeyToHex } from "../protocol/identity"
import { Secrets } from "./Secrets"

export class Identity extends Context.Service<Identity, {
  /** Our keys, loaded from Secrets or generated and stored on first use. */
  readonly keys: Effect.Effect<Keys, IdentityError>
  /** Replaces the key with one the user gives (hex or nsec). */
  readonly useSecretKey: (text: string) => Effect.Effect<Keys, IdentityError>
  /** Replaces the key with a freshly generated one. */
  readonly generate: Effect.Effect<Keys>
}>()("sellCompute/Identity") {
  static readonly layer = Layer.effect(Identity, makeIdentity())
}

function makeIdentity() {
  return Effect.gen(function*() {
    const secrets = yield* Secrets
    const cached = yield* Ref.make<Keys | undefined>(undefined)
    // One at a time: two first calls at once (a restored panel and a command) must not each
    // generate and store a different key.
    const lock = yield* Semaphore.make(1)

    const store = (keys: Keys) =>
      secrets.set("nostrSecretKey", secretKeyToHex(keys.secretKey)).pipe(
        Effect.andThen(Ref.set(cached, keys)),
        Effect.as(keys)
      )

    const generateUnlocked = Effect.suspend(() => store(generateKeys())).pipe(
      Effect.tap((keys) => Effect.logInfo(`Generated a new Nostr identity for this install: ${keys.npub}`))
    )

    const useSecretKey = (text: string) =>
      Effect.gen(function*() {
        const parsed = parseSecretKey(text)
        if ("error" in parsed) return yield* new IdentityError({ message: `Nostr secret key rejected: ${parsed.error}` })
        return yield* store(keysFromSecret(parsed))
      }).pipe(lock.withPermit)

    const keys = Effect.gen(function*() {
      const known = yield* Ref.get(cached)
      if (known) return known
      const stored = yield* secrets.get("nostrSecretKey")
      if (stored === undefined || stored.trim() === "") return yield* generateUnlocked
      const parsed = parseSecretKey(stored)
      if ("error" in parsed) {
        return yield* new IdentityError({ message: `The stored Nostr secret key is not usable: ${parsed.error}` })
      }
      const loaded = keysFromSecret(parsed)
      yield* Ref.set(cached, loaded)
      return loaded
    }).pipe(lock.withPermit)

    return Identity.of({ keys, useSecretKey, generate: lock.withPermit(generateUnlocked) })
  })
}
