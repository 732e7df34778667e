/**
 * A job's record as read back from the history files, which may be hand-edited or torn: only the
 * JobRecord fields with the right type are kept (strings capped), so the dashboard and the CSV get
 * a JobRecord and nothing else.
 */
import type { JobRecord } from "../services/JobStore"

const STRINGS = ["id", "customer", "model", "invoiceId", "bolt11", "invoiceBackend", "payment", "error", "promptPreview", "resultId", "status"] as const
const NUMBERS = [
  "kind", "requestedAt", "receivedAt", "updatedAt", "promptTokens", "promptBytes", "completionTokens", "priceSats",
  "invoiceExpiresAt", "paidAt", "startedAt", "finishedAt"
] as const
const MAX_STRING = 4000

export const storedRecord = (merged: Record<string, unknown>): JobRecord => {
  const record: Record<string, unknown> = {}
  for (const key of STRINGS) {
    const value = merged[key]
    if (typeof value === "string") record[key] = value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value
  }
  for (const key of NUMBERS) {
    const value = merged[key]
    if (typeof value === "number" && Number.isFinite(value)) record[key] = value
  }
  if (typeof merged.encrypted === "boolean") record.encrypted = merged.encrypted
  return record as unknown as JobRecord
}
