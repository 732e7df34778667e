/**
 * The headless host's last line of defence: an error nothing else caught (a promise rejected with no
 * handler, an exception thrown from a library's callback) is logged as one line and the host keeps
 * serving, instead of Node ending the process and every job with it. The line names the error only:
 * no stack, no object contents (they could hold an event), no secret, control characters escaped.
 */
import { printable } from "../dvm/printable"

const REDACTIONS: ReadonlyArray<readonly [RegExp, string]> = [
  [/nostr\+walletconnect:\/\/\S*/gi, "[NWC connection string]"],
  [/secret=[^&\s"']*/gi, "secret=[redacted]"],
  [/nsec1[02-9ac-hj-np-z]+/gi, "[nsec]"]
]

/** One line for an unexpected error: its name and message (or a primitive's value), without `secrets`. */
export const describeUnexpected = (error: unknown, secrets: ReadonlyArray<string> = []): string => {
  let text = error instanceof Error
    ? `${error.name}: ${error.message}`
    : typeof error === "string" || typeof error === "number" || typeof error === "boolean" || typeof error === "bigint"
    ? String(error)
    : error === null || error === undefined
    ? String(error)
    : `a value that is not an Error (${Object.prototype.toString.call(error)})`
  for (const secret of secrets) if (secret.length >= 8) text = text.split(secret).join("[redacted]")
  for (const [pattern, replacement] of REDACTIONS) text = text.replace(pattern, replacement)
  return printable(text, 300)
}

/**
 * Logs, and survives, unhandled rejections and uncaught exceptions. `secrets` is asked at the time of
 * an error (the values to keep out of the line). Returns a function that removes the handlers.
 */
export const installProcessGuards = (write: (line: string) => void, secrets: () => ReadonlyArray<string> = () => []) => {
  const report = (what: string) => (error: unknown) => {
    let known: ReadonlyArray<string> = []
    try {
      known = secrets()
    } catch {
      // the line is still redacted by pattern
    }
    write(`${new Date().toISOString()} ERROR ${what}, kept running: ${describeUnexpected(error, known)}`)
  }
  const onRejection = report("Unhandled promise rejection")
  const onException = report("Uncaught exception")
  process.on("unhandledRejection", onRejection)
  process.on("uncaughtException", onException)
  return () => {
    process.off("unhandledRejection", onRejection)
    process.off("uncaughtException", onException)
  }
}
