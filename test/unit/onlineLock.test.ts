// OnlineLock: one provider online per data dir; a lock left by a dead process or written before a
// reboot (when its pid may belong to another program now) is taken over.
import assert from "node:assert/strict"
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as readline from "node:readline"
import { Effect, Exit } from "effect"
import { LOCK_FILE, OnlineLock } from "../../src/dvm/services/OnlineLock"

const tryAcquire = (dir: string) =>
  Effect.runPromise(Effect.exit(Effect.gen(function*() {
    yield* (yield* OnlineLock).acquire
  }).pipe(Effect.provide(OnlineLock.layer(dir)))))

const bootMinute = () => Math.round((Date.now() - os.uptime() * 1000) / 60_000)

describe("OnlineLock", () => {
  const other = spawn("sleep", ["60"]) // a live process that is not us
  after(() => other.kill())
  let dir: string
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-lock-"))
  })

  it("refuses while a live process that wrote the lock since boot holds it, and says how to clear it", async () => {
    fs.writeFileSync(path.join(dir, LOCK_FILE), `${other.pid} ${bootMinute()}`)
    const exit = await tryAcquire(dir)
    assert.ok(Exit.isFailure(exit))
    assert.match(String(exit.cause), new RegExp(`already online in another window or process \\(pid ${other.pid}\\).*delete`))
  })

  it("takes over a lock written before the last reboot, even if its pid is alive now", async () => {
    fs.writeFileSync(path.join(dir, LOCK_FILE), `${other.pid} ${bootMinute() - 60 * 24}`)
    assert.ok(Exit.isSuccess(await tryAcquire(dir)))
    assert.equal(fs.readFileSync(path.join(dir, LOCK_FILE), "utf8").split(" ")[0], String(process.pid))
  })

  it("takes over a lock of a process that is gone (also in the older pid-only format)", async () => {
    const gone = spawn("true")
    await new Promise((r) => gone.once("exit", r))
    fs.writeFileSync(path.join(dir, LOCK_FILE), String(gone.pid))
    assert.ok(Exit.isSuccess(await tryAcquire(dir)))
  })

  it("creates the lock readable by its owner only, in a dir of its owner's only", async () => {
    const fresh = path.join(dir, "data")
    assert.ok(Exit.isSuccess(await tryAcquire(fresh)))
    assert.equal(fs.statSync(path.join(fresh, LOCK_FILE)).mode & 0o777, 0o600)
    assert.equal(fs.statSync(fresh).mode & 0o777, 0o700)
  })

  it("narrows a lock another version left readable by all, on start", async () => {
    fs.writeFileSync(path.join(dir, LOCK_FILE), `${other.pid} ${bootMinute()}`, { mode: 0o644 })
    fs.chmodSync(path.join(dir, LOCK_FILE), 0o644)
    assert.ok(Exit.isFailure(await tryAcquire(dir)), "still held by the other process")
    assert.equal(fs.statSync(path.join(dir, LOCK_FILE)).mode & 0o777, 0o600)
  })

  it("lets exactly one of several processes take over a stale lock, round after round", async function() {
    this.timeout(120_000)
    const racers = 6
    const rounds = 60
    const children: Array<{ child: ChildProcessWithoutNullStreams; lines: Array<string>; waiting?: () => void }> = []
    try {
      for (let i = 0; i < racers; i++) {
        const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "../support/lockRacer.ts"), dir])
        const entry: (typeof children)[number] = { child, lines: [] }
        readline.createInterface({ input: child.stdout }).on("line", (line) => {
          entry.lines.push(line)
          entry.waiting?.()
        })
        children.push(entry)
      }
      const nextLine = async (entry: (typeof children)[number]) => {
        while (entry.lines.length === 0) await new Promise<void>((resolve) => (entry.waiting = resolve))
        return entry.lines.shift() as string
      }
      for (const entry of children) assert.equal(await nextLine(entry), "ready")
      for (let round = 0; round < rounds; round++) {
        // Left by a process that is alive now but wrote it before a reboot: stale, to be taken over.
        fs.writeFileSync(path.join(dir, LOCK_FILE), `${other.pid} ${bootMinute() - 60 * 24 - round}`)
        const at = Date.now() + 50
        for (const entry of children) entry.child.stdin.write(`go ${round} ${at}\n`)
        const answers = await Promise.all(children.map(nextLine))
        const winners = children.filter((_, i) => answers[i] === `${round} won`)
        assert.equal(winners.length, 1, `round ${round}: ${answers.join(", ")}`)
        assert.equal(fs.readFileSync(path.join(dir, LOCK_FILE), "utf8").split(" ")[0], String(winners[0]?.child.pid))
      }
      assert.deepEqual(fs.readdirSync(dir), [LOCK_FILE], "nothing left beside the lock")
    } finally {
      for (const { child } of children) child.kill()
    }
  })
})
