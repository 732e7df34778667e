/**
 * The History service behind the dashboard (see services/History.ts for its contract): the index
 * and rollup opened from `rollup.json` (or rebuilt from the history files), then kept up with the
 * history by reading only what was appended since, on every call and shortly after each JobStore
 * change. Records themselves are read from disk for the rows asked for, and taken from JobStore's
 * memory when it holds a newer state of them (a line not yet written, say).
 *
 * Nothing is read until the dashboard first asks, so activation does not pay for it; a rebuild
 * yields between chunks so the host keeps serving while 100,000 jobs are read.
 */
import * as path from "node:path"
import { Effect, PubSub, Semaphore, Stream } from "effect"
import type { EarningsOverview, HistoryFilter, HistoryInfo, HistoryPage } from "../services/History"
import { type JobRecord, JobStore } from "../services/JobStore"
import { CSV_HEADER, csvRow } from "./historyCsv"
import { HEAD_BYTES, listHistoryFiles, parseLine, readHead, readLines } from "./historyFiles"
import { compileFilter, jobIdPrefix } from "./historyFilter"
import { HistoryIndex, type Span } from "./historyIndex"
import { Rollup, timeZone } from "./rollup"
import { loadRollup, saveRollup, type TrackedFile } from "./rollupFile"
import { storedRecord } from "./storedRecord"

export interface HistoryOptions {
  /** The clock "today" is read from (tests fix it). */
  readonly now?: () => number
  /** How long after a change the rollup is saved (more changes meanwhile are saved together). */
  readonly saveDelayMs?: number
}

export const PAGE_LIMIT = 200
/** Files are read this much at a time, the host served between reads. */
const CHUNK_BYTES = 4 * 1024 * 1024
/** A page of records is read from disk this many rows at a time (the CSV's memory stays bounded). */
const LOAD_BATCH = 2000
/** Models and customers offered to the filter pickers. */
const PICKER_LIMIT = 100
/** JobStore's memory, for a history without a data dir. */
const MEMORY_RECORDS = 10_000
const SAVE_DELAY_MS = 30_000
/** The rollup is saved while open once this much history was read since it was (and always on closing). */
const SAVE_AFTER_BYTES = 4 * 1024 * 1024
/** A change to the history is absorbed (and `changes` told) this long after it, with any that follow. */
const FOLLOW_DELAY_MS = 250
const LEADING_ID = /^\{"id":"([0-9a-zA-Z_-]{1,128})"/

interface State {
  index: HistoryIndex
  rollup: Rollup
  files: Array<TrackedFile>
  info: HistoryInfo
}

const fresh = (now: number, reason: string): State => ({
  index: new HistoryIndex(),
  rollup: new Rollup(now),
  files: [],
  info: { opened: "rebuilt", reason, jobs: 0, files: 0, bytesRead: 0 }
})

export const makeHistory = (dataDir: string | undefined, options: HistoryOptions = {}) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const now = options.now ?? Date.now
    let zone = timeZone()
    const lock = yield* Semaphore.make(1)
    const updates = yield* PubSub.sliding<void>(1)
    let state: State | undefined
    /** History bytes read since the rollup was last saved. */
    let unsaved = 0
    let saveScheduled = false
    const scope = yield* Effect.scope

    /** Reads a chunk of a tracked file's lines, under its new name when a rotation renamed it meanwhile. */
    const readTracked = (tracked: TrackedFile, from: number, to: number, onLine: (line: string, start: number, end: number) => void) => {
      try {
        return readLines(path.join(dataDir!, tracked.name), tracked.ino, from, to, CHUNK_BYTES, onLine)
      } catch (e) {
        // Nothing was read yet (the file's identity is checked first): find it by its inode.
        const moved = listHistoryFiles(dataDir!).find((f) => f.ino === tracked.ino)
        if (!moved || moved.name === tracked.name) throw e
        tracked.name = moved.name
        return readLines(path.join(dataDir!, tracked.name), tracked.ino, from, to, CHUNK_BYTES, onLine)
      }
    }

    /** Reads `file` from where it was left to its end, chunk by chunk, into the index. */
    const consume = (s: State, file: number, size: number) =>
      Effect.gen(function*() {
        const tracked = s.files[file]!
        while (tracked.consumed < size) {
          const from = tracked.consumed
          tracked.consumed = readTracked(tracked, from, size, (line, start, end) => {
            const update = parseLine(line)
            if (update) s.index.apply(update, s.rollup, { file, start, end })
          })
          s.info = { ...s.info, bytesRead: s.info.bytesRead + tracked.consumed - from }
          unsaved += tracked.consumed - from
          if (tracked.consumed === from) break
          if (tracked.consumed < size) yield* Effect.yieldNow
        }
      })

    /**
     * Brings `s` up to the files: known ones read on from where they were left, new ones (a
     * rotation's fresh `jobs.jsonl`) read whole. Returns the state to use: a new one, rebuilt from
     * every file, when the files no longer continue what was read (one gone, cut short, or an
     * earlier one appeared).
     */
    const catchUp = (s: State): Effect.Effect<State> =>
      Effect.gen(function*() {
        const seen = new Set<number>()
        // The same file under two names (mid-rotation): read under the first (the archive's).
        const current = listHistoryFiles(dataDir!).filter((f) => !seen.has(f.ino) && seen.add(f.ino))
        const position = new Map(current.map((f, i) => [f.ino, i]))
        let lastKnown = -1
        for (const tracked of s.files) {
          const at = position.get(tracked.ino)
          if (at === undefined) return yield* rebuild("a history file is gone")
          const now = current[at]!
          if (now.size < tracked.consumed) return yield* rebuild("a history file was cut short")
          tracked.name = now.name
          lastKnown = Math.max(lastKnown, at)
        }
        const known = new Map(s.files.map((f, i) => [f.ino, i]))
        for (const [i, f] of current.entries()) {
          if (!known.has(f.ino) && i < lastKnown) return yield* rebuild(`an earlier history file appeared (${f.name})`)
        }
        for (const f of current) {
          let file = known.get(f.ino)
          if (file === undefined) {
            file = s.files.length
            s.files.push({ name: f.name, ino: f.ino, consumed: 0, head: readHead(path.join(dataDir!, f.name), f.size) })
          }
          const tracked = s.files[file]!
          // Empty when first seen: its beginning is taken once it has one.
          if (tracked.head.length === 0 && f.size > 0) tracked.head = readHead(path.join(dataDir!, f.name), f.size)
          if (f.size > tracked.consumed) yield* consume(s, file, f.size)
        }
        s.rollup.prune(now())
        s.info = { ...s.info, jobs: s.index.count, files: s.files.length }
        return s
      })

    const rebuild = (reason: string) =>
      Effect.gen(function*() {
        const started = performance.now()
        const s = yield* catchUp(fresh(now(), reason))
        yield* Effect.logInfo(
          `Job history rollup rebuilt (${reason}): ${s.index.count} jobs from ${s.files.length} file(s) in ${(performance.now() - started).toFixed(0)} ms`
        )
        yield* save(s)
        return s
      })

    /** The saved rollup if it still describes the files' beginnings, else a rebuild. */
    const open = Effect.gen(function*() {
      const saved = loadRollup(dataDir!, zone)
      if ("unusable" in saved) return yield* rebuild(`rollup ${saved.unusable}`)
      let s: State
      try {
        const index = HistoryIndex.decode(saved.index, saved.files.length)
        const rollup = Rollup.decode(saved.rollup, now())
        s = { index, rollup, files: saved.files, info: { opened: "reused", jobs: index.count, files: saved.files.length, bytesRead: 0 } }
      } catch {
        return yield* rebuild("rollup corrupt")
      }
      const byIno = new Map(listHistoryFiles(dataDir!).map((f) => [f.ino, f]))
      for (const tracked of s.files) {
        const file = byIno.get(tracked.ino)
        const length = Buffer.from(tracked.head, "base64").length
        // Another file that took a known file's inode (deleted and made anew) begins differently.
        if (file && length > 0 && length <= HEAD_BYTES && readHead(path.join(dataDir!, file.name), length) !== tracked.head) {
          return yield* rebuild("a history file was replaced")
        }
      }
      return s
    })

    const save = (s: State) =>
      Effect.suspend(() => {
        unsaved = 0
        try {
          saveRollup(dataDir!, zone, { files: s.files, rollup: s.rollup.encode(), index: s.index.encode() })
          return Effect.void
        } catch (e) {
          return Effect.logWarning(`The job history rollup could not be saved (${(e as NodeJS.ErrnoException).code ?? String(e)}); it is rebuilt next time`)
        }
      })

    // Saved when what would be read again on opening is worth it (not the 17 MB of 100,000 jobs every few jobs).
    const scheduleSave = Effect.suspend(() => {
      if (unsaved < SAVE_AFTER_BYTES || saveScheduled) return Effect.void
      saveScheduled = true
      return Effect.sleep(options.saveDelayMs ?? SAVE_DELAY_MS).pipe(
        Effect.andThen(lock.withPermits(1)(Effect.suspend(() => {
          saveScheduled = false
          return state && unsaved > 0 ? save(state) : Effect.void
        }))),
        Effect.forkIn(scope),
        Effect.asVoid
      )
    })

    /** The state, opened on first use and caught up with the history; without a data dir, JobStore's memory. */
    const current: Effect.Effect<State> = Effect.gen(function*() {
      if (dataDir === undefined) {
        const s = fresh(now(), "no data dir")
        for (const record of yield* store.recent(MEMORY_RECORDS)) s.index.apply({ ...record }, s.rollup)
        s.info = { opened: "memory", jobs: s.index.count, files: 0, bytesRead: 0 }
        return s
      }
      const s = yield* Effect.gen(function*() {
        // Days are local days: a time zone changed while open (the machine travelled) counts them anew.
        if (state && timeZone() !== zone) {
          zone = timeZone()
          state = yield* rebuild("the time zone changed")
        }
        return yield* catchUp(state ?? (yield* open))
      }).pipe(
        Effect.catchDefect((e) =>
          // A file unreadable for a moment (permissions, a rename under way): what was read is kept.
          Effect.as(Effect.logWarning(`The job history could not be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`), state ?? fresh(now(), "unreadable")))
      )
      state = s
      yield* scheduleSave
      return s
    })

    const withState = <A>(use: (s: State) => Effect.Effect<A>) => lock.withPermits(1)(Effect.flatMap(current, use))

    /** The records of `rows`: read from their spans on disk, or from JobStore's memory when that is newer. */
    const load = (s: State, rows: ReadonlyArray<number>) =>
      Effect.gen(function*() {
        const wanted = new Map<string, Record<string, unknown>>()
        const spans: Array<Span> = []
        for (const row of rows) {
          wanted.set(s.index.ids[row]!, {})
          spans.push(...s.index.spans(row))
        }
        // Spans of neighbouring jobs overlap: each stretch of a file is read once.
        spans.sort((a, b) => a.file - b.file || a.start - b.start)
        const ranges: Array<{ file: number; start: number; end: number }> = []
        for (const span of spans) {
          const last = ranges.at(-1)
          if (last && last.file === span.file && span.start <= last.end) last.end = Math.max(last.end, span.end)
          else ranges.push({ ...span })
        }
        for (const range of ranges) {
          const tracked = s.files[range.file]!
          let at = range.start
          while (at < range.end) {
            const next = readTracked(tracked, at, range.end, (line) => {
              // Another job's line (as JobStore writes them, the id first) is passed over unparsed.
              const id = LEADING_ID.exec(line)?.[1]
              if (id !== undefined && !wanted.has(id)) return
              const update = parseLine(line)
              const merged = typeof update?.id === "string" ? wanted.get(update.id) : undefined
              if (merged) Object.assign(merged, update)
            })
            if (next === at) break
            at = next
          }
        }
        const records: Array<JobRecord> = []
        for (const row of rows) {
          const id = s.index.ids[row]!
          const onDisk = wanted.get(id)!
          const inMemory = yield* store.get(id)
          const newer = inMemory && !((onDisk.updatedAt as number) > inMemory.updatedAt) ? inMemory : undefined
          records.push(storedRecord({ ...onDisk, ...newer, id }))
        }
        return records
      }).pipe(Effect.catchDefect((e) =>
        Effect.as(Effect.logWarning(`Job records could not be read from the history (${String(e)})`), [] as Array<JobRecord>)))

    /** Rows matching the filter, newest first. */
    const matching = (s: State, filter: HistoryFilter): Array<number> => {
      const test = compileFilter(filter ?? {}, s.index)
      if (!test) return []
      const rows: Array<number> = []
      for (const row of s.index.order()) if (test(row)) rows.push(row)
      return rows
    }

    const overview: Effect.Effect<EarningsOverview> = withState((s) => Effect.sync(() => s.rollup.overview(now())))

    const page = (filter: HistoryFilter, offset: number, limit: number): Effect.Effect<HistoryPage> =>
      withState((s) =>
        Effect.gen(function*() {
          const from = Number.isFinite(offset) ? Math.max(0, Math.floor(offset)) : 0
          const size = Number.isFinite(limit) ? Math.min(PAGE_LIMIT, Math.max(0, Math.floor(limit))) : 0
          const rows = matching(s, filter)
          return {
            rows: yield* load(s, rows.slice(from, from + size)),
            total: rows.length,
            offset: from,
            limit: size,
            models: s.index.mostUsed("model", PICKER_LIMIT),
            customers: s.index.mostUsed("customer", PICKER_LIMIT)
          }
        }))

    const job = (id: string) =>
      withState((s) => {
        const hex = typeof id === "string" ? jobIdPrefix(id) : undefined
        const row = s.index.row(id) ?? (hex?.length === 64 ? s.index.row(hex) : undefined)
        return row === undefined ? Effect.succeed(undefined) : Effect.map(load(s, [row]), (records) => records[0])
      })

    const csv = (filter: HistoryFilter) =>
      withState((s) =>
        Effect.gen(function*() {
          const rows = matching(s, filter)
          const parts = [CSV_HEADER]
          for (let i = 0; i < rows.length; i += LOAD_BATCH) {
            for (const record of yield* load(s, rows.slice(i, i + LOAD_BATCH))) parts.push(csvRow(record))
            yield* Effect.yieldNow
          }
          return parts.join("")
        }))

    // Once opened, the index follows the history shortly after each change, and says so.
    let followScheduled = false
    const follow = Effect.suspend(() => {
      if (followScheduled || (state === undefined && dataDir !== undefined)) return Effect.void
      followScheduled = true
      return Effect.sleep(FOLLOW_DELAY_MS).pipe(
        Effect.andThen(Effect.sync(() => (followScheduled = false))),
        Effect.andThen(withState(() => Effect.void)),
        Effect.andThen(PubSub.publish(updates, undefined)),
        Effect.forkIn(scope),
        Effect.asVoid
      )
    })
    yield* store.changes.pipe(Stream.runForEach(() => follow), Effect.forkScoped({ startImmediately: true }))
    // What was read since the last save is saved on the way out.
    yield* Effect.addFinalizer(() => lock.withPermits(1)(Effect.suspend(() => (state && unsaved > 0 ? save(state) : Effect.void))))

    return {
      overview,
      page,
      job,
      csv,
      changes: Stream.fromPubSub(updates),
      info: withState((s) => Effect.succeed(s.info))
    }
  })
