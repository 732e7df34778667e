// The headless host's guards against errors nothing caught: a real Node process with them installed
// keeps running after an uncaught exception and an unhandled rejection, and logs each as one line,
// escaped, without the secret, a stack or an object's contents.
import assert from "node:assert/strict"
import { spawn } from "node:child_process"
import * as path from "node:path"
import { describeUnexpected } from "../../src/headless/processGuards"

const CHILD = path.resolve(__dirname, "../support/guardedProcess.ts")

describe("process guards (headless host)", () => {
  it("a process with them survives an uncaught exception and unhandled rejections, logging one safe line each", async () => {
    const secret = "hunter2-" + "9f".repeat(16)
    const child = spawn(process.execPath, ["--import", "tsx", CHILD], {
      env: { PATH: process.env.PATH, GUARDED_SECRET: secret },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve))
    assert.equal(code, 0, stderr)
    assert.equal(stdout, "still serving\n", "it kept running after both")
    const lines = stderr.trim().split("\n")
    assert.equal(lines.length, 3, stderr)
    assert.match(lines[0]!, /^\S+ ERROR Uncaught exception, kept running: Error: callback failed for \[redacted\]\\n\\x1b\[31mFAKE LOG LINE$/)
    assert.match(lines[1]!, /^\S+ ERROR Unhandled promise rejection, kept running: Error: relay said no to \[NWC connection string\]$/)
    assert.match(lines[2]!, /^\S+ ERROR Unhandled promise rejection, kept running: a value that is not an Error \(\[object Object\]\)$/)
    assert.ok(!stderr.includes(secret) && !stderr.includes("hunter2"), "no secret")
    assert.ok(!stderr.includes("prompt"), "no object contents")
    assert.ok(!/\bat .*\.ts:\d+/.test(stderr), "no stack")
  })

  it("describes an error by name and message, with secrets and secret-shaped text removed", () => {
    assert.equal(describeUnexpected(new TypeError("bad thing")), "TypeError: bad thing")
    assert.equal(describeUnexpected("connection failed"), "connection failed")
    assert.equal(describeUnexpected(undefined), "undefined")
    assert.equal(describeUnexpected(new Error("key nsec1qqqsyqcyq5rqwzqfpg9scrgwpugpzysn")), "Error: key [nsec]")
    assert.equal(describeUnexpected(new Error("url ws://x?secret=abcdef&relay=y")), "Error: url ws://x?secret=[redacted]&relay=y")
    assert.equal(describeUnexpected(new Error("phrase abandon ability able"), ["abandon ability able"]), "Error: phrase [redacted]")
    assert.ok(describeUnexpected(new Error("x".repeat(5000))).length < 400, "capped")
  })
})
