/** Wallet seed phrases (BIP-39, English): made here, checked before they are stored. */
import { generateMnemonic, validateMnemonic } from "@scure/bip39"
import { wordlist } from "@scure/bip39/wordlists/english.js"

export const newMnemonic = (): string => generateMnemonic(wordlist, 128)

/** Normalizes spacing and case; the error never repeats the words. */
export const parseMnemonic = (text: string): string | { readonly error: string } => {
  const words = text.trim().toLowerCase().split(/\s+/)
  if (![12, 15, 18, 21, 24].includes(words.length)) return { error: `expected 12 or 24 words, got ${words.length}` }
  const phrase = words.join(" ")
  return validateMnemonic(phrase, wordlist) ? phrase : { error: "not a valid BIP-39 phrase (a word is misspelled or the checksum fails)" }
}
