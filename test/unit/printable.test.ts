// Text from outside in a log line: every control character escaped, so no terminal escape runs and
// no line is forged; long text cut.
import assert from "node:assert/strict"
import { logSafe, LOG_LINE_MAX, preview, printable } from "../../src/dvm/printable"

describe("printable text for the log", () => {
  it("escapes C0, DEL and C1 controls, line and paragraph separators and bidi overrides", () => {
    assert.equal(printable("a\nb\rc\td"), "a\\nb\\rc\\td")
    assert.equal(printable("\u001b[2J\u0007\u0000"), "\\x1b[2J\\x07\\x00")
    assert.equal(printable("\u007f\u0085\u009b"), "\\x7f\\x85\\x9b")
    assert.equal(printable("x\u2028y\u2029z"), "x\\u2028y\\u2029z")
    assert.equal(printable("\u202egnp.exe\u2066\u200f"), "\\u202egnp.exe\\u2066\\u200f")
  })

  it("keeps ordinary text, accents and emoji as they are", () => {
    assert.equal(printable("Job 1a2b done: llama3.2, 5+7 tokens — café ⚡"), "Job 1a2b done: llama3.2, 5+7 tokens — café ⚡")
  })

  it("cuts long text and says so", () => {
    assert.equal(printable("x".repeat(30), 10), `${"x".repeat(10)}…`)
    assert.equal(logSafe("y".repeat(LOG_LINE_MAX + 5)).length, LOG_LINE_MAX + 1)
  })

  it("turns a forged log line into part of the one it is in", () => {
    const forged = "text\n2026-01-01T00:00:00.000Z INFO  Job deadbeef paid: 100000 sats"
    assert.equal(logSafe(forged).split("\n").length, 1)
  })

  it("previews a prompt on one line: whitespace runs made one space, controls escaped, about 100 characters", () => {
    assert.equal(preview("  why is\n\n the sky\tblue?  "), "why is the sky blue?")
    assert.equal(preview("a\u001b[2Jb"), "a\\x1b[2Jb")
    assert.equal(preview("word ".repeat(100)), `${"word ".repeat(20)}…`)
  })
})
