/**
 * The files the whole history is in: the archives JobStore's rotation left (`jobs-<time>.jsonl`,
 * oldest first) and the current `jobs.jsonl` last. A file is known by its inode, not its name: a
 * rotation links the current history under an archive's name and begins a new one, so the file we
 * were reading as `jobs.jsonl` is read on under its new name, from where we left it.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { JOBS_FILE } from "../services/JobStore"

export interface HistoryFile {
  readonly name: string
  readonly ino: number
  readonly size: number
}

const ARCHIVE = /^jobs-(.+?)(?:-(\d+))?\.jsonl$/

/** Archives by their time (then the number a same-millisecond rotation added), the current history last. */
const sortKey = (name: string): [number, string, number] => {
  if (name === JOBS_FILE) return [1, "", 0]
  const match = ARCHIVE.exec(name)
  return [0, match?.[1] ?? name, Number(match?.[2] ?? 0)]
}

export const compareFiles = (a: string, b: string) => {
  const [ka, kb] = [sortKey(a), sortKey(b)]
  return ka[0] - kb[0] || (ka[1] < kb[1] ? -1 : ka[1] > kb[1] ? 1 : 0) || ka[2] - kb[2]
}

/** The history's files in the order their lines were written. */
export const listHistoryFiles = (dir: string): Array<HistoryFile> => {
  const names = fs.readdirSync(dir).filter((name) => name === JOBS_FILE || ARCHIVE.test(name))
  const files: Array<HistoryFile> = []
  for (const name of names.sort(compareFiles)) {
    const stat = fs.statSync(path.join(dir, name), { throwIfNoEntry: false })
    if (stat?.isFile()) files.push({ name, ino: stat.ino, size: stat.size })
  }
  return files
}

/** The first bytes of a file, to tell it from another that reused its inode. */
export const HEAD_BYTES = 64
export const readHead = (file: string, length: number) => {
  const fd = fs.openSync(file, "r")
  try {
    const buffer = Buffer.alloc(Math.min(length, HEAD_BYTES))
    const n = fs.readSync(fd, buffer, 0, buffer.length, 0)
    return buffer.subarray(0, n).toString("base64")
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * Reads `file` from byte `from` up to `to` (at most `maxBytes`) and hands each complete line to
 * `onLine` with where it starts and ends. Returns where the next read starts: after the last
 * complete line (a last line without its newline is being written, or torn: read again later).
 * `ino` guards against reading another file that took the name meanwhile.
 */
export const readLines = (
  file: string,
  ino: number,
  from: number,
  to: number,
  maxBytes: number,
  onLine: (line: string, start: number, end: number) => void
): number => {
  const fd = fs.openSync(file, "r")
  try {
    if (fs.fstatSync(fd).ino !== ino) throw new Error(`${path.basename(file)} was replaced while being read`)
    const buffer = Buffer.alloc(Math.max(0, Math.min(to - from, maxBytes)))
    let read = 0
    while (read < buffer.length) {
      const n = fs.readSync(fd, buffer, read, buffer.length - read, from + read)
      if (n === 0) break
      read += n
    }
    let start = 0
    for (let nl = buffer.indexOf(10, 0); nl !== -1 && nl < read; nl = buffer.indexOf(10, start)) {
      if (nl > start) onLine(buffer.toString("utf8", start, nl), from + start, from + nl + 1)
      start = nl + 1
    }
    // A line longer than a whole read (never written by JobStore): skipped, so reading goes on.
    if (start === 0 && read === maxBytes) return from + read
    return from + start
  } finally {
    fs.closeSync(fd)
  }
}

/** One history line as an object, or undefined for a torn or hand-broken line and the carried-totals line. */
export const parseLine = (line: string): Record<string, unknown> | undefined => {
  let parsed: unknown
  try {
    parsed = JSON.parse(line)
  } catch {
    return undefined
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed) || "carried" in parsed) return undefined
  return parsed as Record<string, unknown>
}
