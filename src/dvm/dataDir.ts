/**
 * The data dir is private to its user: the history says whom we served and what we earned, the lock
 * and the headless host's generated key live there too. The dir is 0700 and every file we write in
 * it 0600, set on creation and again at every start (a file made by an older version, or copied in,
 * may be wider).
 */
import * as fs from "node:fs"

export const DIR_MODE = 0o700
export const FILE_MODE = 0o600

/** Creates the dir if needed and narrows it to its owner. */
export const ensurePrivateDir = (dir: string) => {
  fs.mkdirSync(dir, { recursive: true, mode: DIR_MODE })
  narrow(dir, DIR_MODE)
}

/** Narrows a file we wrote to its owner, if it exists. */
export const makePrivate = (file: string) => narrow(file, FILE_MODE)

const narrow = (file: string, mode: number) => {
  try {
    if ((fs.statSync(file).mode & 0o777) !== mode) fs.chmodSync(file, mode)
  } catch {
    // Gone meanwhile, or not ours to change (another user's file): the product still works.
  }
}
