// Proves parsing a secret key (hex or nsec), deriving pubkey/npub, and generating fresh identities.
import assert from "node:assert/strict"
import { bytesToHex } from "nostr-tools/utils"
import * as nip19 from "nostr-tools/nip19"
import { generateKeys, hexPubkey, keysFromSecret, parseSecretKey, secretKeyToHex } from "../../src/dvm/protocol/identity"

/** NIP-06 test vectors (nostr-protocol/nips 06.md): a secret key with its nsec, pubkey and npub. */
const NIP06_VECTORS = [
  {
    secretHex: "7f7ff03d123792d6ac594bfa67bf6d0c0ab55b6b1fdb6249303fe861f1ccba9a",
    nsec: "nsec10allq0gjx7fddtzef0ax00mdps9t2kmtrldkyjfs8l5xruwvh2dq0lhhkp",
    pubkey: "17162c921dc4d2518f9a101db33695df1afb56ab82f5ff3e5da6eec3ca5cd917",
    npub: "npub1zutzeysacnf9rru6zqwmxd54mud0k44tst6l70ja5mhv8jjumytsd2x7nu"
  },
  {
    secretHex: "c15d739894c81a2fcfd3a2df85a0d2c0dbc47a280d092799f144d73d7ae78add",
    nsec: "nsec1c9wh8xy5eqdzln7n5t0ctgxjcrdug73gp5yj0x03gntn67h83twssdfhel",
    pubkey: "d41b22899549e1f3d335a31002cfd382174006e166d3e658e3a5eecdb6463573",
    npub: "npub16sdj9zv4f8sl85e45vgq9n7nsgt5qphpvmf7vk8r5hhvmdjxx4es8rq74h"
  }
] as const

/** NIP-19 example (nostr-protocol/nips 19.md): an nsec and the hex it decodes to. */
const NIP19_NSEC = {
  nsec: "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5",
  hex: "67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa"
} as const

const expectKey = (parsed: ReturnType<typeof parseSecretKey>): Uint8Array => {
  if (!(parsed instanceof Uint8Array)) assert.fail(`expected a key, got error: ${parsed.error}`)
  return parsed
}

const expectError = (parsed: ReturnType<typeof parseSecretKey>): string => {
  if (parsed instanceof Uint8Array) assert.fail("expected the input to be rejected, but it parsed as a key")
  assert.equal(typeof parsed.error, "string")
  assert.ok(parsed.error.length > 0)
  return parsed.error
}

/** The error message repeats neither the input nor any 8-character piece of it. */
const assertDoesNotLeak = (message: string, input: string) => {
  const trimmed = input.trim()
  if (trimmed === "") return
  assert.ok(!message.includes(trimmed), `message repeats the input: ${message}`)
  for (let i = 0; i + 8 <= trimmed.length; i++) {
    const piece = trimmed.slice(i, i + 8)
    assert.ok(!message.includes(piece), `message contains "${piece}" from the input: ${message}`)
  }
}

describe("identity: parseSecretKey", () => {
  it("accepts 64 lowercase hex characters", () => {
    const key = expectKey(parseSecretKey(NIP06_VECTORS[0].secretHex))
    assert.equal(key.length, 32)
    assert.equal(bytesToHex(key), NIP06_VECTORS[0].secretHex)
  })

  it("accepts 64 uppercase hex characters as the same key", () => {
    const key = expectKey(parseSecretKey(NIP06_VECTORS[0].secretHex.toUpperCase()))
    assert.equal(bytesToHex(key), NIP06_VECTORS[0].secretHex)
  })

  it("accepts mixed-case hex as the same key", () => {
    const mixed = NIP06_VECTORS[1].secretHex.replace(/[a-f]/g, (c, i: number) => (i % 2 === 0 ? c.toUpperCase() : c))
    assert.notEqual(mixed, NIP06_VECTORS[1].secretHex)
    assert.equal(bytesToHex(expectKey(parseSecretKey(mixed))), NIP06_VECTORS[1].secretHex)
  })

  it("accepts an nsec (NIP-06 vectors)", () => {
    for (const vector of NIP06_VECTORS) {
      assert.equal(bytesToHex(expectKey(parseSecretKey(vector.nsec))), vector.secretHex)
    }
  })

  it("accepts the NIP-19 example nsec", () => {
    assert.equal(bytesToHex(expectKey(parseSecretKey(NIP19_NSEC.nsec))), NIP19_NSEC.hex)
  })

  it("ignores surrounding whitespace (pasted keys)", () => {
    assert.equal(bytesToHex(expectKey(parseSecretKey(`  ${NIP06_VECTORS[0].secretHex}\n`))), NIP06_VECTORS[0].secretHex)
    assert.equal(bytesToHex(expectKey(parseSecretKey(`\t${NIP06_VECTORS[0].nsec} `))), NIP06_VECTORS[0].secretHex)
  })

  const hex = NIP06_VECTORS[0].secretHex
  const nsec = NIP06_VECTORS[0].nsec
  const brokenChecksum = nsec.slice(0, -1) + (nsec.endsWith("p") ? "q" : "p")
  for (const [label, input] of [
    ["junk text", "correct horse battery staple"],
    ["the empty string", ""],
    ["63 hex characters", hex.slice(0, 63)],
    ["65 hex characters", `${hex}0`],
    ["hex with a non-hex character", `${hex.slice(0, 63)}g`],
    ["0x-prefixed hex", `0x${hex}`],
    ["an nsec with a broken checksum", brokenChecksum],
    ["a truncated nsec", nsec.slice(0, 40)],
    ["an npub instead of an nsec", NIP06_VECTORS[0].npub]
  ] as const) {
    it(`rejects ${label} with a message that does not repeat the input`, () => {
      const message = expectError(parseSecretKey(input))
      assertDoesNotLeak(message, input)
    })
  }

  it("says what is expected for input that is neither hex nor nsec", () => {
    assert.match(expectError(parseSecretKey("not a key")), /64 hex characters or an nsec/)
  })

  it("says the nsec is not valid for a broken nsec", () => {
    assert.match(expectError(parseSecretKey(brokenChecksum)), /not a valid nsec/)
  })
})

describe("identity: parseSecretKey refuses scalars outside the curve order", () => {
  for (const hex of ["0".repeat(64), "f".repeat(64), "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"]) {
    it(`refuses ${hex.slice(0, 8)}…`, () => {
      const parsed = parseSecretKey(hex)
      assert.ok("error" in parsed)
      assert.match(parsed.error, /out of range/)
    })
  }
  it("refuses an nsec of all zeros", () => {
    const parsed = parseSecretKey(nip19.nsecEncode(new Uint8Array(32)))
    assert.ok("error" in parsed)
  })
})

describe("identity: keysFromSecret", () => {
  for (const [index, vector] of NIP06_VECTORS.entries()) {
    it(`derives the NIP-06 vector #${index} pubkey and npub`, () => {
      const keys = keysFromSecret(expectKey(parseSecretKey(vector.secretHex)))
      assert.equal(keys.pubkey, vector.pubkey)
      assert.equal(keys.npub, vector.npub)
      assert.equal(bytesToHex(keys.secretKey), vector.secretHex)
    })
  }

  it("gives the same identity from the hex and the nsec of one key", () => {
    const vector = NIP06_VECTORS[1]
    const fromHex = keysFromSecret(expectKey(parseSecretKey(vector.secretHex)))
    const fromNsec = keysFromSecret(expectKey(parseSecretKey(vector.nsec)))
    assert.equal(fromHex.npub, fromNsec.npub)
    assert.equal(fromHex.pubkey, fromNsec.pubkey)
  })

  it("secretKeyToHex gives back the lowercase hex", () => {
    const key = expectKey(parseSecretKey(NIP06_VECTORS[0].secretHex.toUpperCase()))
    assert.equal(secretKeyToHex(key), NIP06_VECTORS[0].secretHex)
  })
})

describe("identity: generateKeys", () => {
  it("gives a different key on each call", () => {
    const a = generateKeys()
    const b = generateKeys()
    assert.notEqual(secretKeyToHex(a.secretKey), secretKeyToHex(b.secretKey))
    assert.notEqual(a.pubkey, b.pubkey)
    assert.notEqual(a.npub, b.npub)
  })

  it("gives a consistent identity: 32-byte key, 64-hex pubkey, matching npub", () => {
    const keys = generateKeys()
    assert.equal(keys.secretKey.length, 32)
    assert.match(keys.pubkey, /^[0-9a-f]{64}$/)
    assert.match(keys.npub, /^npub1[02-9ac-hj-np-z]{58}$/)
    assert.deepEqual(keysFromSecret(keys.secretKey), keys)
  })

  it("gives a key that round-trips through its hex form", () => {
    const keys = generateKeys()
    const reparsed = keysFromSecret(expectKey(parseSecretKey(secretKeyToHex(keys.secretKey))))
    assert.equal(reparsed.npub, keys.npub)
  })
})

describe("identity service: the key generated on first use", () => {
  it("is one key even when several callers ask for it at once, and it is the one stored", async () => {
    const { Effect, Layer } = await import("effect")
    const { Identity } = await import("../../src/dvm/services/Identity")
    const { Secrets } = await import("../../src/dvm/services/Secrets")
    const [npubs, stored] = await Effect.runPromise(Effect.gen(function*() {
      const identity = yield* Identity
      // A Secrets store that answers slowly, as VS Code's SecretStorage does (it is asynchronous).
      const all = yield* Effect.all(Array.from({ length: 5 }, () => identity.keys), { concurrency: "unbounded" })
      return [all.map((k) => k.npub), yield* (yield* Secrets).get("nostrSecretKey")] as const
    }).pipe(Effect.provide(Identity.layer.pipe(Layer.provideMerge(Layer.effect(Secrets, Effect.gen(function*() {
      const inner = yield* Secrets
      return Secrets.of({ ...inner, get: (name) => Effect.andThen(Effect.sleep("5 millis"), inner.get(name)) })
    }).pipe(Effect.provide(Secrets.inMemory()))))))))
    assert.equal(new Set(npubs).size, 1, `one identity, got ${new Set(npubs).size}`)
    assert.equal(keysFromSecret(parseSecretKey(stored as string) as Uint8Array).npub, npubs[0])
  })
})

describe("identity service: a generated key is never logged", () => {
  it("logs the new identity by its npub only: never the key, in hex or as nsec (first use and Generate)", async () => {
    const { Cause, Effect, Layer, Logger } = await import("effect")
    const { Identity } = await import("../../src/dvm/services/Identity")
    const { Secrets } = await import("../../src/dvm/services/Secrets")
    const { consoleLogger } = await import("../../src/headless/consoleLog")
    // Everything a logger is handed (the message parts and any cause), and the headless host's lines.
    const lines: Array<string> = []
    const everything = Logger.make(({ message, cause }) => {
      lines.push([
        ...(Array.isArray(message) ? message : [message]).map((m) => (typeof m === "string" ? m : JSON.stringify(m))),
        cause && cause.reasons.length > 0 ? Cause.pretty(cause) : ""
      ].join(" "))
    })
    const layer = Identity.layer.pipe(
      Layer.provideMerge(Secrets.inMemory()),
      Layer.provideMerge(Logger.layer([everything, consoleLogger((line) => lines.push(line))]))
    )
    const keys = await Effect.runPromise(Effect.gen(function*() {
      const identity = yield* Identity
      const secrets = yield* Secrets
      const first = yield* identity.keys
      const firstStored = yield* secrets.get("nostrSecretKey")
      const second = yield* identity.generate
      const secondStored = yield* secrets.get("nostrSecretKey")
      return [[first, firstStored], [second, secondStored]] as const
    }).pipe(Effect.provide(layer)))
    for (const [generated, stored] of keys) {
      assert.equal(stored, secretKeyToHex(generated.secretKey), "the generated key is the one stored")
      const hex = secretKeyToHex(generated.secretKey)
      const nsec = nip19.nsecEncode(generated.secretKey)
      assert.ok(lines.some((l) => l.includes(generated.npub)), `the new identity is logged by its npub (control): ${lines.join("\n")}`)
      for (const line of lines) {
        assert.ok(!line.toLowerCase().includes(hex), `a log line shows the key in hex: ${line}`)
        assert.ok(!line.includes(nsec), `a log line shows the key as nsec: ${line}`)
        assert.ok(!line.includes(Array.from(generated.secretKey).join(",")), `a log line shows the key's bytes: ${line}`)
      }
    }
  })
})

describe("identity: hexPubkey (allow and deny lists accept hex or npub)", () => {
  const { pubkey, npub } = NIP06_VECTORS[0]

  it("reads an npub as its hex public key", () => {
    assert.equal(hexPubkey(npub), pubkey)
    assert.equal(hexPubkey(`  ${npub}\n`), pubkey)
  })

  it("gives hex keys in lower case, without surrounding whitespace", () => {
    assert.equal(hexPubkey(pubkey), pubkey)
    assert.equal(hexPubkey(` ${pubkey.toUpperCase()} `), pubkey)
    assert.equal(hexPubkey("AbC"), "abc")
  })

  it("keeps a mistyped npub as written (trimmed), so it matches no one", () => {
    const broken = `${npub.slice(0, -1)}${npub.endsWith("q") ? "p" : "q"}`
    assert.equal(hexPubkey(` ${broken} `), broken)
    assert.equal(hexPubkey("npub1"), "npub1")
  })
})
