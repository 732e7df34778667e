/**
 * Jobs as CSV for bookkeeping: RFC 4180 (every field quoted, quotes doubled, CRLF line ends), a
 * header row, times in ISO 8601 UTC. Text from customers or relays can reach a cell (an error
 * reason, a prompt's start), so a cell a spreadsheet would read as a formula (= + - @, or a leading
 * tab or carriage return) is prefixed with ' and shown as text.
 */
import type { JobRecord } from "../services/JobStore"

const iso = (ms: number | undefined) => (ms === undefined || !Number.isFinite(ms) ? "" : new Date(ms).toISOString())

const COLUMNS: ReadonlyArray<readonly [string, (job: JobRecord) => string | number | boolean | undefined]> = [
  ["received", (j) => iso(j.receivedAt)],
  ["id", (j) => j.id],
  ["customer", (j) => j.customer],
  ["kind", (j) => j.kind],
  ["model", (j) => j.model],
  ["status", (j) => j.status],
  ["payment", (j) => j.payment],
  ["price_sats", (j) => j.priceSats],
  ["paid", (j) => iso(j.paidAt)],
  ["prompt_tokens", (j) => j.promptTokens],
  ["completion_tokens", (j) => j.completionTokens],
  ["duration_ms", (j) => (j.startedAt !== undefined && j.finishedAt !== undefined ? j.finishedAt - j.startedAt : undefined)],
  ["encrypted", (j) => j.encrypted === true],
  ["prompt_preview", (j) => j.promptPreview],
  ["error", (j) => j.error],
  ["invoice_id", (j) => j.invoiceId],
  ["result_id", (j) => j.resultId]
]

const FORMULA = /^[=+\-@\t\r]/

export const csvCell = (value: string | number | boolean | undefined): string => {
  const text = value === undefined || value === null ? "" : String(value)
  const safe = FORMULA.test(text) ? `'${text}` : text
  return `"${safe.replace(/"/g, '""')}"`
}

export const CSV_HEADER = COLUMNS.map(([name]) => csvCell(name)).join(",") + "\r\n"

export const csvRow = (job: JobRecord): string => COLUMNS.map(([, value]) => csvCell(value(job))).join(",") + "\r\n"
