/** Log lines for a person reading a terminal or journal: time, level, message (and a cause's reason). */
import { Cause, Logger } from "effect"

export const consoleLogger = (write: (line: string) => void) =>
  Logger.make(({ logLevel, message, cause, date }) => {
    const parts = (Array.isArray(message) ? message : [message]).map((m) => (typeof m === "string" ? m : String(m)))
    const reason = cause && cause.reasons.length > 0 ? ` — ${Cause.pretty(cause).split("\n")[0]}` : ""
    write(`${date.toISOString()} ${logLevel.toUpperCase().padEnd(5)} ${parts.join(" ")}${reason}`)
  })
