/** Log lines for a person reading a terminal or journal: time, level, message (and a cause's reason). */
import { Cause, Logger } from "effect"
import { logSafe } from "../dvm/printable"

export const consoleLogger = (write: (line: string) => void) =>
  Logger.make(({ logLevel, message, cause, date }) => {
    const parts = (Array.isArray(message) ? message : [message]).map((m) => (typeof m === "string" ? m : String(m)))
    const reason = cause && cause.reasons.length > 0 ? ` — ${Cause.pretty(cause).split("\n")[0]}` : ""
    // Escaped whole: a message may carry a customer's or a relay's text.
    write(`${date.toISOString()} ${logLevel.toUpperCase().padEnd(5)} ${logSafe(parts.join(" ") + reason)}`)
  })
