/** Checks what a person pastes as a wallet secret, before it is stored. Errors never repeat the input. */

const HEX_64 = /^[0-9a-f]{64}$/

/** A NIP-47 connection string: `nostr+walletconnect://<wallet pubkey>?relay=wss://…&secret=<hex>`. */
export const nwcUrlProblem = (text: string): string | undefined => {
  const trimmed = text.trim()
  if (trimmed === "") return undefined
  if (!trimmed.startsWith("nostr+walletconnect://")) return "a connection string starts with nostr+walletconnect://"
  let url: URL
  try {
    url = new URL(trimmed)
  } catch {
    return "not a valid connection string"
  }
  const pubkey = url.host || url.pathname.replace(/^\/+/, "")
  if (!HEX_64.test(pubkey)) return "the wallet's public key (after nostr+walletconnect://) must be 64 hex characters"
  const relays = url.searchParams.getAll("relay")
  if (relays.length === 0) return "the connection string names no relay (relay=wss://…)"
  if (!relays.every((r) => /^wss?:\/\/\S+$/.test(r))) return "every relay must be a ws:// or wss:// URL"
  if (!HEX_64.test(url.searchParams.get("secret") ?? "")) return "the secret (secret=…) must be 64 hex characters"
  return undefined
}
