// Proves NIP-04 and NIP-44 encryption as the provider uses it: round trips, scheme detection, and
// decryption of ciphertexts made by other implementations (the official NIP-44 vectors, go-nostr's NIP-04).
import assert from "node:assert/strict"
import * as nip44 from "nostr-tools/nip44"
import { generateSecretKey, getPublicKey } from "nostr-tools/pure"
import { hexToBytes } from "nostr-tools/utils"
import { decryptFrom, detectScheme, encryptFor, type EncryptionScheme } from "../../src/dvm/protocol/encryption"

/**
 * Official NIP-44 v2 test vectors, copied from paulmillr/nip44 `nip44.vectors.json`
 * (v2.valid.encrypt_decrypt and v2.valid.get_conversation_key).
 */
const NIP44_ENCRYPT_DECRYPT = [
  {
    sec1: "0000000000000000000000000000000000000000000000000000000000000001",
    sec2: "0000000000000000000000000000000000000000000000000000000000000002",
    conversation_key: "c41c775356fd92eadc63ff5a0dc1da211b268cbea22316767095b2871ea1412d",
    nonce: "0000000000000000000000000000000000000000000000000000000000000001",
    plaintext: "a",
    payload:
      "AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABee0G5VSK0/9YypIObAtDKfYEAjD35uVkHyB0F4DwrcNaCXlCWZKaArsGrY6M9wnuTMxWfp1RTN9Xga8no+kF5Vsb"
  },
  {
    sec1: "5c0c523f52a5b6fad39ed2403092df8cebc36318b39383bca6c00808626fab3a",
    sec2: "4b22aa260e4acb7021e32f38a6cdf4b673c6a277755bfce287e370c924dc936d",
    conversation_key: "3e2b52a63be47d34fe0a80e34e73d436d6963bc8f39827f327057a9986c20a45",
    nonce: "b635236c42db20f021bb8d1cdff5ca75dd1a0cc72ea742ad750f33010b24f73b",
    plaintext: "表ポあA鷗ŒéＢ逍Üßªąñ丂㐀𠀀",
    payload:
      "ArY1I2xC2yDwIbuNHN/1ynXdGgzHLqdCrXUPMwELJPc7s7JqlCMJBAIIjfkpHReBPXeoMCyuClwgbT419jUWU1PwaNl4FEQYKCDKVJz+97Mp3K+Q2YGa77B6gpxB/lr1QgoqpDf7wDVrDmOqGoiPjWDqy8KzLueKDcm9BVP8xeTJIxs="
  },
  {
    sec1: "8f40e50a84a7462e2b8d24c28898ef1f23359fff50d8c509e6fb7ce06e142f9c",
    sec2: "b9b0a1e9cc20100c5faa3bbe2777303d25950616c4c6a3fa2e3e046f936ec2ba",
    conversation_key: "d5a2f879123145a4b291d767428870f5a8d9e5007193321795b40183d4ab8c2b",
    nonce: "b20989adc3ddc41cd2c435952c0d59a91315d8c5218d5040573fc3749543acaf",
    plaintext: "ability🤝的 ȺȾ",
    payload:
      "ArIJia3D3cQc0sQ1lSwNWakTFdjFIY1QQFc/w3SVQ6yvbG2S0x4Yu86QGwPTy7mP3961I1XqB6SFFTzqDZZavhxoWMj7mEVGMQIsh2RLWI5EYQaQDIePSnXPlzf7CIt+voTD"
  },
  {
    sec1: "875adb475056aec0b4809bd2db9aa00cff53a649e7b59d8edcbf4e6330b0995c",
    sec2: "9c05781112d5b0a2a7148a222e50e0bd891d6b60c5483f03456e982185944aae",
    conversation_key: "3b15c977e20bfe4b8482991274635edd94f366595b1a3d2993515705ca3cedb8",
    nonce: "8d4442713eb9d4791175cb040d98d6fc5be8864d6ec2f89cf0895a2b2b72d1b1",
    plaintext: "pepper👀їжак",
    payload:
      "Ao1EQnE+udR5EXXLBA2Y1vxb6IZNbsL4nPCJWisrctGxY3AduCS+jTUgAAnfvKafkmpy15+i9YMwCdccisRa8SvzW671T2JO4LFSPX31K4kYUKelSAdSPwe9NwO6LhOsnoJ+"
  }
] as const

const NIP44_CONVERSATION_KEYS = [
  {
    sec1: "315e59ff51cb9209768cf7da80791ddcaae56ac9775eb25b6dee1234bc5d2268",
    pub2: "c2f9d9948dc8c7c38321e4b85c8558872eafa0641cd269db76848a6073e69133",
    conversation_key: "3dfef0ce2a4d80a25e7a328accf73448ef67096f65f79588e358d9a0eb9013f1"
  },
  {
    sec1: "a1e37752c9fdc1273be53f68c5f74be7c8905728e8de75800b94262f9497c86e",
    pub2: "03bb7947065dde12ba991ea045132581d0954f042c84e06d8c00066e23c1a800",
    conversation_key: "4d14f36e81b8452128da64fe6f1eae873baae2f444b02c950b90e43553f2178b"
  },
  {
    sec1: "98a5902fd67518a0c900f0fb62158f278f94a21d6f9d33d30cd3091195500311",
    pub2: "aae65c15f98e5e677b5050de82e3aba47a6fe49b3dab7863cf35d9478ba9f7d1",
    conversation_key: "9c00b769d5f54d02bf175b7284a1cbd28b6911b06cda6666b2243561ac96bad7"
  }
] as const

/** NIP-04 ciphertext made by go-nostr (sk1 → sk2), from nbd-wtf/nostr-tools nip04.test.ts. */
const NIP04_GO_NOSTR = {
  sk1: "91ba716fa9e7ea2fcbad360cf4f8e0d312f73984da63d90f524ad61a6a1e7dbe",
  sk2: "96f6fa197aa07477ab88f6981118466ae3a982faab8ad5db9d5426870c73d220",
  ciphertext: "zJxfaJ32rN5Dg1ODjOlEew==?iv=EV5bUjcc4OX2Km/zPp4ndQ==",
  plaintext: "nanana"
} as const

/** A fixed key that is neither side of the go-nostr vector. */
const UNRELATED_SECRET = "7f7ff03d123792d6ac594bfa67bf6d0c0ab55b6b1fdb6249303fe861f1ccba9a"

const SCHEMES: ReadonlyArray<EncryptionScheme> = ["nip04", "nip44"]

describe("encryption: round trips between two generated keys", () => {
  for (const scheme of SCHEMES) {
    it(`${scheme}: what A encrypts for B, B decrypts with A's pubkey`, () => {
      const a = generateSecretKey()
      const b = generateSecretKey()
      const message = JSON.stringify([["i", "Write a haiku about relays ⚡", "text"], ["param", "model", "llama3.2"]])
      const ciphertext = encryptFor(scheme, a, getPublicKey(b), message)
      assert.notEqual(ciphertext, message)
      assert.ok(!ciphertext.includes("haiku"), "ciphertext must not contain the plaintext")
      assert.equal(decryptFrom(scheme, b, getPublicKey(a), ciphertext), message)
    })

    it(`${scheme}: the sender can decrypt its own message with the peer's pubkey`, () => {
      const a = generateSecretKey()
      const b = generateSecretKey()
      const ciphertext = encryptFor(scheme, a, getPublicKey(b), "reply")
      assert.equal(decryptFrom(scheme, a, getPublicKey(b), ciphertext), "reply")
    })

    it(`${scheme}: two encryptions of the same text differ (random IV/nonce)`, () => {
      const a = generateSecretKey()
      const b = generateSecretKey()
      const pub = getPublicKey(b)
      assert.notEqual(encryptFor(scheme, a, pub, "same"), encryptFor(scheme, a, pub, "same"))
    })
  }

  it("nip04: round-trips a long unicode text", () => {
    const a = generateSecretKey()
    const b = generateSecretKey()
    const message = "🙈 مُنَاقَشَةُ 社會科學院 ".repeat(500)
    assert.equal(decryptFrom("nip04", b, getPublicKey(a), encryptFor("nip04", a, getPublicKey(b), message)), message)
  })

  it("nip44: round-trips a long unicode text", () => {
    const a = generateSecretKey()
    const b = generateSecretKey()
    const message = "🙈 مُنَاقَشَةُ 社會科學院 ".repeat(500)
    assert.equal(decryptFrom("nip44", b, getPublicKey(a), encryptFor("nip44", a, getPublicKey(b), message)), message)
  })
})

describe("encryption: scheme detection", () => {
  it("detects NIP-04 ciphertext by its ?iv= part", () => {
    assert.equal(detectScheme(NIP04_GO_NOSTR.ciphertext), "nip04")
  })

  it("detects a NIP-44 payload (single base64 string)", () => {
    for (const vector of NIP44_ENCRYPT_DECRYPT) assert.equal(detectScheme(vector.payload), "nip44")
  })

  it("detects the scheme of what encryptFor produced", () => {
    const a = generateSecretKey()
    const pub = getPublicKey(generateSecretKey())
    assert.equal(detectScheme(encryptFor("nip04", a, pub, "x")), "nip04")
    assert.equal(detectScheme(encryptFor("nip44", a, pub, "x")), "nip44")
  })
})

describe("encryption: foreign NIP-44 vectors (paulmillr/nip44)", () => {
  for (const [index, vector] of NIP44_ENCRYPT_DECRYPT.entries()) {
    it(`decrypts encrypt_decrypt vector #${index} as the receiver (sec2, pub1)`, () => {
      const pub1 = getPublicKey(hexToBytes(vector.sec1))
      assert.equal(decryptFrom("nip44", hexToBytes(vector.sec2), pub1, vector.payload), vector.plaintext)
    })

    it(`decrypts encrypt_decrypt vector #${index} as the sender (sec1, pub2)`, () => {
      const pub2 = getPublicKey(hexToBytes(vector.sec2))
      assert.equal(decryptFrom("nip44", hexToBytes(vector.sec1), pub2, vector.payload), vector.plaintext)
    })
  }

  for (const [index, vector] of NIP44_CONVERSATION_KEYS.entries()) {
    it(`derives the vector's conversation key for get_conversation_key vector #${index}`, () => {
      // Encrypt with the vector's conversation key itself; decryptFrom can only read it if it derives
      // the same key from (sec1, pub2).
      const payload = nip44.encrypt("conversation key check", hexToBytes(vector.conversation_key))
      assert.equal(decryptFrom("nip44", hexToBytes(vector.sec1), vector.pub2, payload), "conversation key check")
    })
  }

  it("refuses a vector payload when one byte of it is altered (MAC check)", () => {
    const vector = NIP44_ENCRYPT_DECRYPT[2]
    const pub1 = getPublicKey(hexToBytes(vector.sec1))
    const middle = Math.floor(vector.payload.length / 2)
    const flipped = vector.payload[middle] === "A" ? "B" : "A"
    const tampered = vector.payload.slice(0, middle) + flipped + vector.payload.slice(middle + 1)
    assert.throws(() => decryptFrom("nip44", hexToBytes(vector.sec2), pub1, tampered))
  })
})

describe("encryption: foreign NIP-04 vector (go-nostr)", () => {
  it("decrypts go-nostr's ciphertext as the receiver (sk2, pk1)", () => {
    const pk1 = getPublicKey(hexToBytes(NIP04_GO_NOSTR.sk1))
    assert.equal(decryptFrom("nip04", hexToBytes(NIP04_GO_NOSTR.sk2), pk1, NIP04_GO_NOSTR.ciphertext), NIP04_GO_NOSTR.plaintext)
  })

  it("decrypts go-nostr's ciphertext as the sender (sk1, pk2)", () => {
    const pk2 = getPublicKey(hexToBytes(NIP04_GO_NOSTR.sk2))
    assert.equal(decryptFrom("nip04", hexToBytes(NIP04_GO_NOSTR.sk1), pk2, NIP04_GO_NOSTR.ciphertext), NIP04_GO_NOSTR.plaintext)
  })
})

describe("encryption: the wrong key", () => {
  it("nip44: decrypting with a third party's key throws", () => {
    const a = generateSecretKey()
    const b = generateSecretKey()
    const eve = generateSecretKey()
    const ciphertext = encryptFor("nip44", a, getPublicKey(b), "for b only")
    assert.throws(() => decryptFrom("nip44", eve, getPublicKey(a), ciphertext))
  })

  it("nip44: decrypting a vector with an unrelated key throws", () => {
    const vector = NIP44_ENCRYPT_DECRYPT[1]
    const pub1 = getPublicKey(hexToBytes(vector.sec1))
    assert.throws(() => decryptFrom("nip44", hexToBytes(UNRELATED_SECRET), pub1, vector.payload))
  })

  it("nip04: decrypting go-nostr's ciphertext with an unrelated key throws", () => {
    // Fixed inputs: AES-CBC without a MAC can by chance unpad garbage, so a random key would be flaky.
    const pk1 = getPublicKey(hexToBytes(NIP04_GO_NOSTR.sk1))
    assert.throws(() => decryptFrom("nip04", hexToBytes(UNRELATED_SECRET), pk1, NIP04_GO_NOSTR.ciphertext))
  })

  it("nip04 ciphertext given to the nip44 decoder throws", () => {
    const pk1 = getPublicKey(hexToBytes(NIP04_GO_NOSTR.sk1))
    assert.throws(() => decryptFrom("nip44", hexToBytes(NIP04_GO_NOSTR.sk2), pk1, NIP04_GO_NOSTR.ciphertext))
  })
})
