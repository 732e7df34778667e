/**
 * The dashboard's filter turned into a test on the index's rows. Ids and customers come in the
 * forms people copy: hex, or NIP-19 (`nevent`/`note` for a job, `npub` for a customer). A filter
 * that cannot match (an unknown status, a malformed key, an id prefix too short to mean one job)
 * matches nothing rather than failing.
 */
import { nip19 } from "nostr-tools"
import type { HistoryFilter } from "../services/History"
import { HistoryIndex } from "./historyIndex"

const HEX64 = /^[0-9a-f]{64}$/
const HEX_PREFIX = /^[0-9a-f]{4,64}$/
/** Longest text a filter field is looked at (a NIP-19 event pointer with relays can be long). */
const MAX_FIELD = 2000

/** A job id in hex from hex or `nevent`/`note`; a hex prefix (≥ 4) as given; undefined when neither. */
export const jobIdPrefix = (text: string): string | undefined => {
  const value = text.trim().toLowerCase()
  if (value.length > MAX_FIELD) return undefined
  if (HEX_PREFIX.test(value)) return value
  try {
    const decoded = nip19.decode(value)
    if (decoded.type === "note" && HEX64.test(decoded.data)) return decoded.data
    if (decoded.type === "nevent" && HEX64.test(decoded.data.id)) return decoded.data.id
  } catch {
    // not NIP-19
  }
  return undefined
}

/** A customer's hex pubkey from hex or `npub`; undefined when neither. */
export const customerHex = (text: string): string | undefined => {
  const value = text.trim().toLowerCase()
  if (value.length > MAX_FIELD) return undefined
  if (HEX64.test(value)) return value
  try {
    const decoded = nip19.decode(value)
    if (decoded.type === "npub" && HEX64.test(decoded.data)) return decoded.data
  } catch {
    // not NIP-19
  }
  return undefined
}

/** The rows' test, or undefined when the filter can match nothing. */
export const compileFilter = (filter: HistoryFilter, index: HistoryIndex): ((row: number) => boolean) | undefined => {
  const tests: Array<(row: number) => boolean> = []
  if (filter.status !== undefined) {
    const status = HistoryIndex.statusCode(filter.status)
    if (status === 0) return undefined
    tests.push((row) => index.statusCode(row) === status)
  }
  if (filter.payment !== undefined) {
    const payment = filter.payment === "none" ? 0 : HistoryIndex.paymentCode(filter.payment)
    if (payment === 0 && filter.payment !== "none") return undefined
    tests.push((row) => index.paymentCode(row) === payment)
  }
  if (filter.customer !== undefined) {
    const hex = typeof filter.customer === "string" ? customerHex(filter.customer) : undefined
    const customer = hex === undefined ? -1 : index.stringId(hex)
    if (customer < 0) return undefined
    tests.push((row) => index.customerId(row) === customer)
  }
  if (filter.model !== undefined) {
    const model = typeof filter.model === "string" ? index.stringId(filter.model) : -1
    if (model < 0) return undefined
    tests.push((row) => index.modelId(row) === model)
  }
  if (filter.id !== undefined) {
    const prefix = typeof filter.id === "string" ? jobIdPrefix(filter.id) : undefined
    if (prefix === undefined) return undefined
    tests.push((row) => index.ids[row]!.startsWith(prefix))
  }
  return (row) => tests.every((test) => test(row))
}
