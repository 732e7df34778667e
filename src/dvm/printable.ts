/**
 * Text from outside (a customer's tag, a relay's reason, a model server's error) made safe for one
 * log line: every control character escaped (C0, DEL, C1, line and paragraph separators, bidi
 * overrides), so no terminal escape sequence runs and no forged line starts; and capped in length.
 */

// C0 and DEL, C1, U+2028/2029, and the bidi embedding/override/isolate marks that reorder what is shown.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g

const escape = (ch: string) => {
  const code = ch.charCodeAt(0)
  if (ch === "\n") return "\\n"
  if (ch === "\r") return "\\r"
  if (ch === "\t") return "\\t"
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`
}

/** `text` with control characters escaped, cut to `max` characters (an ellipsis says it was cut). */
export const printable = (text: string, max = 200): string => {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text
  return cut.replace(UNPRINTABLE, escape)
}

/** The start of a prompt for the dashboard's job list: whitespace runs made one space, escaped, ~100 characters. */
export const PREVIEW_MAX = 100
export const preview = (text: string, max = PREVIEW_MAX): string => printable(text.slice(0, max * 2).replace(/\s+/g, " ").trim(), max)

/** A whole log line: escaped, and capped so one message cannot flood a log. */
export const LOG_LINE_MAX = 2000
export const logSafe = (line: string): string => printable(line, LOG_LINE_MAX)
