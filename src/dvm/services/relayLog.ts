/**
 * Logging what a relay says or does wrong without letting it flood the log: a warning at most once
 * per interval per relay and kind of trouble, carrying how many happened since the last line, and
 * any text from the relay quoted, escaped and cut short.
 */
import { Effect, Queue } from "effect"
import { printable } from "../printable"

export const REPORT_INTERVAL_MS = 60_000

export interface ThrottledWarning {
  /** Notes one occurrence (plain JavaScript, callable from a socket callback). */
  readonly note: (latest: string) => void
  /** Writes the lines: the first occurrence at once, later ones at most once per interval. */
  readonly run: Effect.Effect<never>
}

/** `describe(count, latest)` words a line for `count` occurrences, `latest` the newest one's detail. */
export const throttledWarning = (
  describe: (count: number, latest: string) => string,
  intervalMs: number = REPORT_INTERVAL_MS
): Effect.Effect<ThrottledWarning> =>
  Effect.gen(function*() {
    // One pending wake-up is enough: occurrences between lines are counted, not queued.
    const wake = yield* Queue.dropping<void>(1)
    let count = 0
    let latest = ""
    const note = (detail: string) => {
      count++
      latest = detail
      if (count === 1) Queue.offerUnsafe(wake, undefined)
    }
    const run = Effect.gen(function*() {
      while (true) {
        yield* Queue.take(wake)
        if (count === 0) continue
        const line = describe(count, latest)
        count = 0
        yield* Effect.logWarning(line)
        yield* Effect.sleep(intervalMs)
      }
    })
    return { note, run }
  })

/** Text from a relay, safe for one log line: quoted, control characters escaped (printable.ts), at most `max` characters kept. */
export const quoted = (text: string, max = 120): string => `"${printable(text.replace(/["\\]/g, "\\$&"), max)}"`
