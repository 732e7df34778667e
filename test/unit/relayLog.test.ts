// A relay's trouble costs at most one log line a minute, counted; its text is quoted safely. On TestClock.
import assert from "node:assert/strict"
import { Effect, Fiber, Layer, Logger, ManagedRuntime } from "effect"
import { TestClock } from "effect/testing"
import { quoted, REPORT_INTERVAL_MS, throttledWarning } from "../../src/dvm/services/relayLog"

describe("relay log", () => {
  it("logs the first occurrence at once, then at most one line per interval with the count since the last", async () => {
    const lines: Array<string> = []
    const logger = Logger.make(({ message }) => {
      lines.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
    })
    const runtime = ManagedRuntime.make(Layer.mergeAll(TestClock.layer(), Logger.layer([logger])))
    try {
      const warning = await runtime.runPromise(throttledWarning((count, latest) => `${count} (latest ${latest})`))
      const fiber = await runtime.runPromise(Effect.forkDetach(warning.run))
      const settle = () => runtime.runPromise(TestClock.adjust(0))

      warning.note("a")
      await settle()
      assert.deepEqual(lines, ["1 (latest a)"])
      for (let i = 0; i < 500; i++) warning.note(`b${i}`)
      await settle()
      await runtime.runPromise(TestClock.adjust(REPORT_INTERVAL_MS - 1))
      assert.equal(lines.length, 1, "nothing more within the minute")
      await runtime.runPromise(TestClock.adjust(1))
      assert.deepEqual(lines, ["1 (latest a)", "500 (latest b499)"])
      await runtime.runPromise(TestClock.adjust(10 * REPORT_INTERVAL_MS))
      assert.equal(lines.length, 2, "quiet when nothing happened")
      warning.note("c")
      await settle()
      assert.deepEqual(lines.at(-1), "1 (latest c)")
      await runtime.runPromise(Fiber.interrupt(fiber))
    } finally {
      await runtime.dispose()
    }
  })

  it("quotes relay text escaped and cut short", () => {
    assert.equal(quoted("blocked: spam"), "\"blocked: spam\"")
    assert.equal(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"")
    assert.equal(quoted("line\nbreak\u001b[31m\u202e"), "\"line\\nbreak\\x1b[31m\\u202e\"")
    assert.equal(quoted("x".repeat(500), 10), `"${"x".repeat(10)}…"`)
  })
})
