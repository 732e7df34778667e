// OnlineLock: one provider online per data dir; a lock left by a dead process or written before a
// reboot (when its pid may belong to another program now) is taken over.
import assert from "node:assert/strict"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
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
})
