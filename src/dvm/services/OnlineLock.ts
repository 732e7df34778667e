/**
 * One provider online per data dir: two VS Code windows (or a window and a headless host sharing a
 * dir) would otherwise both serve every job and write one history. The lock is a file holding the
 * owner's pid and when the machine booted; a lock whose process is gone, or written before the last
 * reboot (its pid may now be another program's), is taken over.
 */
import * as fs from "node:fs"
import * as os from "node:os"
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

/** When this machine booted, in whole minutes (os.uptime() drifts by a second or so between reads). */
const bootMinute = () => Math.round((Date.now() - os.uptime() * 1000) / 60_000)

/** The owner recorded in a lock, if it may still hold it. */
const liveOwner = (text: string): number | undefined => {
  const [pidText, bootText] = text.trim().split(/\s+/)
  const owner = Number(pidText)
  if (!Number.isInteger(owner) || owner <= 0 || owner === process.pid) return undefined
  if (bootText !== undefined && Math.abs(Number(bootText) - bootMinute()) > 2) return undefined // written before a reboot
  return alive(owner) ? owner : undefined
}

const fileLock = (file: string) => {
  let held = false
  const acquire = Effect.suspend(() => {
    if (held) return Effect.void
    fs.mkdirSync(path.dirname(file), { recursive: true })
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(file, `${process.pid} ${bootMinute()}`, { flag: "wx" })
        held = true
        return Effect.void
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
          return Effect.fail(new GoOnlineError({ message: `Cannot go online: the lock ${file} cannot be written` }))
        }
        const owner = liveOwner(fs.readFileSync(file, "utf8"))
        if (owner !== undefined) {
          return Effect.fail(new GoOnlineError({
            message: `Cannot go online: Sell Compute is already online in another window or process (pid ${owner}) using the same data. ` +
              `If none is, delete ${file}`
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
