// `npm run demo` as a person runs it: scripts/demo.ts starts a relay, the Ollama stand-in and the real
// headless host (dist/cli.js, so `npm run build` first; npm test does it), sends three jobs and exits
// 0 by itself, having shown each job's replies and result.
import assert from "node:assert/strict"
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"

const ROOT = path.resolve(__dirname, "../..")
const DEMO = path.join(ROOT, "scripts", "demo.ts")

/** The lines of one job's section, from its "Job N of 3" heading to the next blank line. */
const sectionOf = (output: string, n: number): string => {
  const start = output.indexOf(`Job ${n} of 3:`)
  assert.ok(start >= 0, `no section for job ${n} in:\n${output}`)
  const end = output.indexOf("\n\n", start)
  return output.slice(start, end < 0 ? undefined : end)
}

/** The result text of a section: the indented lines after "← result". */
const resultOf = (section: string): string => {
  const lines = section.split("\n")
  const at = lines.findIndex((l) => l.includes("← result, kind 60"))
  assert.ok(at >= 0, `no result in:\n${section}`)
  const text: Array<string> = []
  for (const line of lines.slice(at + 1)) {
    if (!line.startsWith("      ")) break
    text.push(line.trim())
  }
  return text.join(" ")
}

describe("npm run demo (scripts/demo.ts)", function() {
  this.timeout(45_000)
  let child: ChildProcess | undefined

  after(() => {
    // Only if an assertion failed mid-run: SIGTERM lets the demo stop what it started.
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
  })

  it("serves a plain, an encrypted and a note-summary job and exits 0 by itself", async () => {
    const started = Date.now()
    child = spawn(process.execPath, ["--import=tsx", DEMO], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    const code = await new Promise<number | null>((resolve) => child!.once("exit", (c) => resolve(c)))
    const took = Date.now() - started

    assert.equal(code, 0, `exit ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`)
    assert.ok(took < 30_000, `took ${took} ms`)

    const plain = sectionOf(stdout, 1)
    assert.match(plain, /← processing/)
    assert.match(plain, /← partial, the text so far: "Echo/)
    assert.match(plain, /← success/)
    assert.match(plain, /took \d+\.\d s/)
    assert.equal(resultOf(plain), "Echo from llama3.2:1b: Write one line about why Nostr relays are useful.")

    const encrypted = sectionOf(stdout, 2)
    assert.match(encrypted, /NIP-44/)
    assert.match(encrypted, /← partial \(decrypted\)/)
    assert.match(encrypted, /← result, kind 6050 \(decrypted\)/)
    assert.match(encrypted, /← success/)
    assert.equal(resultOf(encrypted), "Echo from llama3.2:1b: A private question: what is a good name for a cat?")

    const summary = sectionOf(stdout, 3)
    assert.match(summary, /kind 5001/)
    assert.match(summary, /note published \(kind 1/)
    assert.match(summary, /← result, kind 6001:/)
    assert.match(summary, /← success/)
    // The provider fetched the note by its id and put it in the summary instruction.
    assert.match(resultOf(summary), /^Echo from llama3\.2:1b: Summarize the following text in 1 sentence\. Reply with the summary only, in the language of the text\. Ran my first Nostr data vending machine today/)

    assert.match(stdout, /provider exited 0; its announcement was withdrawn/)
    assert.match(stdout, /Done: 3 of 3 jobs answered/)
    // The throwaway key is never shown: no nsec, and no 64-hex string at all (ids are shortened).
    assert.doesNotMatch(stdout + stderr, /nsec1|\b[0-9a-f]{64}\b/)
  })
})
