/**
 * One provider online per data dir: two VS Code windows (or a window and a headless host sharing a
 * dir) would otherwise both serve every job and write one history. The lock is a file holding the
 * owner's pid; a lock whose process is gone is taken over.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Context, Effect, Layer } from "effect"
import { GoOnlineError } from "../errors"

export const LOCK_FILE = "online.lock"

export class OnlineLock extends Context.Service<OnlineLock, {
  readonly acquire: Effect.Effect<void, GoOnlineError>
  readonly release: Effect.Effect<void>
}>()("sellCompute/OnlineLock") {
  static readonly layer = (dataDir: string | undefined) =>
    Layer.sync(OnlineLock, () => (dataDir ? fileLock(path.join(dataDir, LOCK_FILE)) : OnlineLock.of({ acquire: Effect.void, release: Effect.void })))
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM" // exists, owned by someone else
  }
}

const fileLock = (file: string) => {
  let held = false
  const acquire = Effect.suspend(() => {
    if (held) return Effect.void
    fs.mkdirSync(path.dirname(file), { recursive: true })
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(file, String(process.pid), { flag: "wx" })
        held = true
        return Effect.void
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
          return Effect.fail(new GoOnlineError({ message: `Cannot go online: the lock ${file} cannot be written` }))
        }
        const owner = Number(fs.readFileSync(file, "utf8").trim())
        if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
          return Effect.fail(new GoOnlineError({
            message: `Cannot go online: Sell Compute is already online in another window or process (pid ${owner}) using the same data`
          }))
        }
        fs.rmSync(file, { force: true }) // left by a process that is gone
      }
    }
    return Effect.fail(new GoOnlineError({ message: `Cannot go online: the lock ${file} is contested` }))
  })
  const release = Effect.sync(() => {
    if (!held) return
    held = false
    fs.rmSync(file, { force: true })
  })
  return OnlineLock.of({ acquire, release })
}
