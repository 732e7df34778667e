/**
 * The rollup as saved in the data dir (`rollup.json`, 0600): the per-day and per-hour totals, the
 * compact job index and how far each history file was read. Opening reads it and then only what
 * the history gained since; a missing, corrupt or foreign one (another version, another time zone)
 * is rebuilt from the history files. Written whole to a temporary name and renamed over, so a crash
 * never leaves half of one.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { FILE_MODE, makePrivate } from "../dataDir"

export const ROLLUP_FILE = "rollup.json"
const VERSION = 1
/** A draft older than this was left by a process that stopped while saving. */
const ABANDONED_DRAFT_MS = 5 * 60_000

/** A history file as far as it was read: known by its inode, checked by its first bytes. */
export interface TrackedFile {
  name: string
  readonly ino: number
  /** Bytes read: up to the end of its last complete line. */
  consumed: number
  /** Its first bytes (base64), as far as they existed when first read. */
  head: string
}

export interface SavedRollup {
  readonly files: Array<TrackedFile>
  readonly rollup: unknown
  readonly index: unknown
}

/** The saved rollup, or why it cannot be used. Narrows it to its owner, and removes drafts a crash left. */
export const loadRollup = (dir: string, zone: string): SavedRollup | { readonly unusable: string } => {
  for (const name of fs.readdirSync(dir)) {
    if (!name.startsWith(`${ROLLUP_FILE}.new-`)) continue
    const draft = path.join(dir, name)
    const stat = fs.statSync(draft, { throwIfNoEntry: false })
    if (stat && Date.now() - stat.mtimeMs > ABANDONED_DRAFT_MS) fs.rmSync(draft, { force: true })
  }
  makePrivate(path.join(dir, ROLLUP_FILE))
  let text: string
  try {
    text = fs.readFileSync(path.join(dir, ROLLUP_FILE), "utf8")
  } catch (e) {
    return { unusable: (e as NodeJS.ErrnoException).code === "ENOENT" ? "none saved" : `unreadable (${(e as NodeJS.ErrnoException).code})` }
  }
  let saved: { version?: unknown; timeZone?: unknown; files?: unknown; rollup?: unknown; index?: unknown }
  try {
    saved = JSON.parse(text)
  } catch {
    return { unusable: "corrupt" }
  }
  if (typeof saved !== "object" || saved === null) return { unusable: "corrupt" }
  if (saved.version !== VERSION) return { unusable: "another version" }
  if (saved.timeZone !== zone) return { unusable: "another time zone" }
  const files = saved.files
  const fileOk = (f: unknown): f is TrackedFile => {
    const t = f as TrackedFile
    return typeof t === "object" && t !== null && typeof t.name === "string" && Number.isFinite(t.ino) &&
      Number.isSafeInteger(t.consumed) && t.consumed >= 0 && typeof t.head === "string"
  }
  if (!Array.isArray(files) || !files.every(fileOk)) return { unusable: "corrupt" }
  return { files, rollup: saved.rollup, index: saved.index }
}

export const saveRollup = (dir: string, zone: string, saved: SavedRollup) => {
  const file = path.join(dir, ROLLUP_FILE)
  const draft = `${file}.new-${process.pid}`
  try {
    fs.writeFileSync(draft, JSON.stringify({ version: VERSION, timeZone: zone, ...saved }), { mode: FILE_MODE })
    fs.renameSync(draft, file)
  } finally {
    fs.rmSync(draft, { force: true })
  }
}
