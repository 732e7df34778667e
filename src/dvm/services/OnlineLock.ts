/**
 * One provider online per data dir: two VS Code windows (or a window and a headless host sharing a
 * dir) would otherwise both serve every job and write one history. The lock is a file holding the
 * owner's pid and when the machine booted; a lock whose process is gone, or written before the last
 * reboot (its pid may now be another program's), is taken over, by one process only however many
 * try at once. The lock is readable by its owner only.
 */
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Context, Effect, Layer } from "effect"
import { ensurePrivateDir, FILE_MODE, makePrivate } from "../dataDir"
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

/**
 * Takes a stale lock out of the way, if it is still the one read (`stale`): of several processes that
 * read it, only the first to link it to a name made from its content may remove it; a later one links
 * whatever lock is there by then, sees other content, and leaves it. (Removing it without this check
 * could remove the fresh lock of whoever took it over a moment earlier: two providers online.)
 */
const removeStale = (file: string, stale: string) => {
  const claim = `${file}.stale-${createHash("sha256").update(stale).digest("hex").slice(0, 16)}`
  try {
    fs.linkSync(file, claim)
  } catch (e) {
    // Another process is removing it right now; a claim left by one that crashed is cleared after a while.
    const since = fs.statSync(claim, { throwIfNoEntry: false })?.ctimeMs
    if ((e as NodeJS.ErrnoException).code === "EEXIST" && since !== undefined && Date.now() - since > ABANDONED_CLAIM_MS) {
      fs.rmSync(claim, { force: true })
    }
    return
  }
  try {
    if (fs.readFileSync(claim, "utf8") === stale) fs.rmSync(file, { force: true })
  } finally {
    fs.rmSync(claim, { force: true })
  }
}
const ABANDONED_CLAIM_MS = 30_000
const ACQUIRE_TRIES = 50
const RETRY_PAUSE_MS = 10

const readLock = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined
    throw e
  }
}

/** Creates the lock with its content already in it (a reader must never see it empty) or says it exists. */
const create = (file: string, content: string): boolean => {
  const draft = `${file}.${process.pid}-${randomBytes(6).toString("hex")}`
  fs.writeFileSync(draft, content, { mode: FILE_MODE })
  try {
    fs.linkSync(draft, file)
    return true
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false
    throw e
  } finally {
    fs.rmSync(draft, { force: true })
  }
}

const fileLock = (file: string) => {
  makePrivate(file)
  /** What we wrote into the lock while we hold it (unique, so we never take another's for ours). */
  let held: string | undefined
  /** One try: taken, refused, or undefined when the lock changed under us (try again shortly). */
  const attempt = (): true | GoOnlineError | undefined => {
    try {
      ensurePrivateDir(path.dirname(file))
      const mine = `${process.pid} ${bootMinute()} ${randomBytes(8).toString("hex")}`
      if (create(file, mine)) {
        held = mine
        return true
      }
      const text = readLock(file)
      if (text === undefined) return undefined // released meanwhile
      const owner = liveOwner(text)
      if (owner !== undefined) {
        return new GoOnlineError({
          message: `Cannot go online: Sell Compute is already online in another window or process (pid ${owner}) using the same data. ` +
            `If none is, delete ${file}`
        })
      }
      removeStale(file, text) // left by a process that is gone
      return undefined
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "error"
      return new GoOnlineError({ message: `Cannot go online: the lock ${file} cannot be written (${code})` })
    }
  }
  const acquire = Effect.gen(function*() {
    for (let tries = 0; held === undefined; tries++) {
      const outcome = attempt()
      if (outcome === true) return
      if (outcome !== undefined) return yield* outcome
      if (tries === ACQUIRE_TRIES) {
        return yield* new GoOnlineError({ message: `Cannot go online: the lock ${file} is contested; if no other provider is online, delete it` })
      }
      yield* Effect.sleep(RETRY_PAUSE_MS)
    }
  })
  const release = Effect.sync(() => {
    if (held === undefined) return
    const mine = held
    held = undefined
    // Only our own: a lock another process took over (it judged ours stale) stays theirs.
    try {
      if (readLock(file) === mine) fs.rmSync(file, { force: true })
    } catch {
      // Unreadable now: whoever reads it next judges it by its content as usual.
    }
  })
  return OnlineLock.of({ acquire, release })
}
