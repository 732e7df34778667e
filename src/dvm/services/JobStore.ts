/**
 * The history of jobs: every state change appended to `jobs.jsonl` under the data dir, replayed on
 * start. It is what lets a restart skip requests already handled and what the UI's job list and
 * earnings come from. Without a data dir it keeps the history in memory only.
 *
 * Another window or process may share the data dir (one of them online at a time, see OnlineLock):
 * `refresh` reads what it appended since, and every write catches up the same way. A write that
 * fails (disk full, no permission) is never fatal: the record stays applied in memory, its line is
 * kept and retried in order, and `writeProblem` says what is wrong until it is written.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Context, Effect, Layer, PubSub, Schedule, Stream, SubscriptionRef } from "effect"
import { ensurePrivateDir, FILE_MODE, makePrivate } from "../dataDir"

export type JobStatus = "received" | "processing" | "success" | "error"
export type PaymentState = "free" | "unpaid" | "paid" | "expired"

export interface JobRecord {
  readonly id: string
  readonly customer: string
  readonly kind: number
  /** The request's created_at (Unix seconds). */
  readonly requestedAt: number
  /** When we first saw it (ms). */
  readonly receivedAt: number
  readonly updatedAt: number
  readonly status: JobStatus
  readonly encrypted?: boolean
  readonly model?: string
  readonly promptTokens?: number
  /** The prompt's UTF-8 bytes (what prompt-token estimates learn from, with promptTokens). */
  readonly promptBytes?: number
  readonly completionTokens?: number
  readonly priceSats?: number
  readonly invoiceId?: string
  readonly bolt11?: string
  readonly invoiceExpiresAt?: number
  /** The wallet backend that issued the invoice (absent in older history: the current one). */
  readonly invoiceBackend?: "spark" | "nwc"
  readonly payment?: PaymentState
  /** When the wallet confirmed payment (ms). */
  readonly paidAt?: number
  readonly error?: string
  /** The start of a plain (not encrypted) prompt, printable and short, for the dashboard. */
  readonly promptPreview?: string
  /** When generation started (ms). */
  readonly startedAt?: number
  /** When the result was published (ms). */
  readonly finishedAt?: number
  /** The result event's id. */
  readonly resultId?: string
}

export type JobUpdate = Partial<JobRecord> & { readonly id: string }

export interface Earnings {
  readonly jobsToday: number
  readonly satsEarnedToday: number
  readonly satsEarnedTotal: number
}

export class JobStore extends Context.Service<JobStore, {
  /** Applies and appends a change; never fails (a failed write is kept and retried, see writeProblem). */
  readonly record: (update: JobUpdate) => Effect.Effect<JobRecord>
  readonly get: (id: string) => Effect.Effect<JobRecord | undefined>
  /** Newest first. */
  readonly recent: (limit: number) => Effect.Effect<ReadonlyArray<JobRecord>>
  /** Jobs a crash or stop cut off before they ended. */
  readonly unfinished: Effect.Effect<ReadonlyArray<JobRecord>>
  /** Jobs whose invoice is still open: verification resumes on them after a restart. */
  readonly unsettled: Effect.Effect<ReadonlyArray<JobRecord>>
  readonly earnings: Effect.Effect<Earnings>
  readonly changes: Stream.Stream<JobRecord>
  /**
   * Catches up with what another window or process sharing the data dir appended (or a rotation it
   * made) since this store last read the history; one `stat` when nothing changed. Call it before
   * reading `unfinished` when going online. Never fails (a read problem is logged).
   */
  readonly refresh: Effect.Effect<void>
  /** Why records cannot be written to the history right now (they are kept and retried); undefined when all is written. */
  readonly writeProblem: SubscriptionRef.SubscriptionRef<string | undefined>
}>()("sellCompute/JobStore") {
  static readonly layer = (
    dataDir: string | undefined,
    options: { readonly rotateBytes?: number; readonly retryMillis?: number } = {}
  ) => Layer.effect(JobStore, makeJobStore(dataDir, options.rotateBytes ?? ROTATE_BYTES, options.retryMillis ?? RETRY_MS))
}

export const JOBS_FILE = "jobs.jsonl"
/**
 * A history past this size is archived (`jobs-<time>.jsonl`, kept, never read again) and a new one
 * begun from what is still needed: the records in memory and the earnings so far. Checked on opening
 * and after each write, so opening stays quick (reading is synchronous, at activation) however long
 * the history and however long the provider runs.
 */
const ROTATE_BYTES = 16 * 1024 * 1024
/** Unwritten records are retried this often (and on every new record). */
const RETRY_MS = 10_000
/** A write problem is logged at most this often (it stays readable in `writeProblem`). */
const WARN_EVERY_MS = 60_000
/** A failed rotation is tried again after this long, not on every write. */
const ROTATE_RETRY_MS = 60_000
/** A rotation's draft older than this was left by a crash. */
const ABANDONED_DRAFT_MS = 60_000

/** The first line of a rotated history: earnings counted in the archived part. */
interface Carried {
  readonly carried: { readonly satsEarnedTotal: number; readonly days: ReadonlyArray<readonly [number, { jobs: number; sats: number }]> }
}
/**
 * Only this many records stay in memory; the file keeps them all. Jobs still running or with an
 * invoice open are never dropped, and earnings are counted as records change, so neither the
 * outcome of a job nor a sat depends on its record still being in memory.
 */
const MEMORY_LIMIT = 10_000

const dayOf = (ms: number) => {
  const d = new Date(ms)
  d.setHours(0, 0, 0, 0)
  return d.getTime()
}

/** A record that must stay in memory: its job may still end, or its invoice be paid. */
const pinned = (job: JobRecord) => job.status === "received" || job.status === "processing" || job.payment === "unpaid"

/**
 * What an update cannot undo: a paid job stays paid and an ended job stays ended. A history line can
 * be read twice, after later ones (see appendToHistory); applied again it changes no outcome.
 */
export const undoesPayment = (previous: unknown, next: unknown) => previous === "paid" && next !== undefined
export const undoesStatus = (previous: unknown, next: unknown) =>
  (previous === "success" || previous === "error") && (next === "received" || next === "processing")

const final = (previous: JobRecord | undefined, update: JobUpdate): Partial<JobRecord> => ({
  ...(undoesPayment(previous?.payment, update.payment) ? { payment: "paid", paidAt: previous?.paidAt } : {}),
  ...(undoesStatus(previous?.status, update.status) ? { status: previous?.status } : {})
})

const parseLine = (line: string): JobUpdate | Carried | undefined => {
  try {
    return JSON.parse(line) as JobUpdate | Carried
  } catch {
    return undefined // a line torn by a crash mid-write: the rest of the history is still good
  }
}

const isCarried = (parsed: JobUpdate | Carried): parsed is Carried => "carried" in parsed

/** The complete lines of `text` (a last line without its newline is still being written, or torn). */
const completeLines = (text: string) => {
  const end = text.lastIndexOf("\n") + 1
  return { lines: text.slice(0, end).split("\n").filter((line) => line.trim() !== ""), bytes: Buffer.byteLength(text.slice(0, end)) }
}

/** The file's content from byte `from` to its end, read through one descriptor with its identity. */
const readFrom = (file: string, from: number) => {
  const fd = fs.openSync(file, "r")
  try {
    const stat = fs.fstatSync(fd)
    if (!stat.isFile()) throw Object.assign(new Error(`${file} is not a file`), { code: "EISDIR" })
    const buffer = Buffer.alloc(Math.max(0, stat.size - from))
    let read = 0
    while (read < buffer.length) {
      const n = fs.readSync(fd, buffer, read, buffer.length - read, from + read)
      if (n === 0) break
      read += n
    }
    return { ino: stat.ino, text: buffer.subarray(0, read).toString("utf8") }
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * Appends `text` to the history and makes sure it landed in the history, not in a file another
 * process archived (or moved away) at that moment: its rotation reads what reached the old file up
 * to its rename, so a line that reached it later is appended again. A line written twice changes
 * nothing (a record's update is applied by merging, and earnings count a change of state once).
 */
const appendToHistory = (historyFile: string, text: string) => {
  for (let attempt = 0; attempt < 3; attempt++) {
    const fd = fs.openSync(historyFile, "a", FILE_MODE)
    let written: number
    try {
      fs.writeSync(fd, text)
      written = fs.fstatSync(fd).ino
    } finally {
      fs.closeSync(fd)
    }
    if (fs.statSync(historyFile, { throwIfNoEntry: false })?.ino === written) return
  }
}

const errorCode = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e))

function makeJobStore(dataDir: string | undefined, rotateBytes: number, retryMillis: number) {
  return Effect.gen(function*() {
    const jobs = new Map<string, JobRecord>()
    const file = dataDir ? path.join(dataDir, JOBS_FILE) : undefined
    const changes = yield* PubSub.unbounded<JobRecord>()
    const writeProblem = yield* SubscriptionRef.make<string | undefined>(undefined)
    let satsEarnedTotal = 0
    /** Per local day (its midnight, ms): jobs that succeeded (by receipt) and sats paid (by payment). */
    const days = new Map<number, { jobs: number; sats: number }>()
    const day = (ms: number) => {
      const key = dayOf(ms)
      let entry = days.get(key)
      if (!entry) {
        entry = { jobs: 0, sats: 0 }
        days.set(key, entry)
        if (days.size > 7) days.delete(Math.min(...days.keys()))
      }
      return entry
    }

    /** What one record adds to the earnings: a job that succeeded, sats that were paid. */
    const contribution = (job: JobRecord | undefined) => ({
      jobDay: job?.status === "success" && job.receivedAt !== undefined ? dayOf(job.receivedAt) : undefined,
      paidDay: job?.payment === "paid" ? dayOf(job.paidAt ?? job.updatedAt) : undefined,
      sats: job?.payment === "paid" ? job.priceSats ?? 0 : 0
    })

    const count = (previous: JobRecord | undefined, next: JobRecord) => {
      const before = contribution(previous)
      const after = contribution(next)
      if (after.jobDay !== undefined && before.jobDay === undefined) day(after.jobDay).jobs++
      if (after.paidDay !== undefined && before.paidDay === undefined) {
        satsEarnedTotal += after.sats
        day(after.paidDay).sats += after.sats
      }
    }

    const evictOne = () => {
      for (const [id, job] of jobs) {
        if (pinned(job)) continue
        jobs.delete(id)
        return
      }
    }

    const apply = (update: JobUpdate): JobRecord => {
      const previous = jobs.get(update.id)
      const next = { ...previous, ...update, ...final(previous, update) } as JobRecord
      jobs.delete(update.id) // re-insert so the map stays in update order
      jobs.set(update.id, next)
      count(previous, next)
      if (jobs.size > MEMORY_LIMIT) evictOne()
      return next
    }

    const carry = (carried: Carried["carried"]) => {
      satsEarnedTotal += carried.satsEarnedTotal
      for (const [key, counts] of carried.days) {
        const entry = day(key)
        entry.jobs += counts.jobs
        entry.sats += counts.sats
      }
    }

    /** Applies history lines; returns the records they changed. */
    const applyLines = (lines: ReadonlyArray<string>) => {
      const changed: Array<JobRecord> = []
      for (const line of lines) {
        const parsed = parseLine(line)
        if (parsed === undefined) continue
        if (isCarried(parsed)) carry(parsed.carried)
        else changed.push(apply(parsed))
      }
      return changed
    }

    /** Lines applied in memory but not yet in the file (a write failed), oldest first. */
    let unwritten: Array<string> = []
    /** A failed append may have left part of a line: the retry starts on a line of its own. */
    let tornByUs = false
    /** The history as we last read or wrote it: its inode and how many bytes of it we have applied. */
    let position: { ino: number; offset: number } | undefined
    let rotateAgainAt = 0
    /** The size of the history begun by our last rotation. */
    let rotatedBytes = 0
    /** Problems met inside synchronous file code, logged by the effect that ran it. */
    const warnings: Array<string> = []

    const resetState = () => {
      jobs.clear()
      days.clear()
      satsEarnedTotal = 0
    }

    /**
     * Reads what was appended since `position`; `own` are lines we have just appended (already
     * applied here, so skipped). A history replaced by a rotation (it begins with carried totals) is
     * read anew; one replaced otherwise (deleted and begun again) adds its lines to what we have.
     */
    const catchUp = (historyFile: string, own: ReadonlyArray<string> = []): Array<JobRecord> => {
      const stat = fs.statSync(historyFile, { throwIfNoEntry: false })
      if (stat === undefined) return [] // moved away for a moment by a rotation: next time
      const ownBytes = own.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0)
      if (position && stat.ino === position.ino && stat.size === position.offset + ownBytes) {
        position.offset = stat.size // only what we wrote: nothing to read
        return []
      }
      const replaced = !position || stat.ino !== position.ino || stat.size < position.offset
      const { ino, text } = readFrom(historyFile, replaced ? 0 : position!.offset)
      const { lines, bytes } = completeLines(text)
      const first = lines[0] === undefined ? undefined : parseLine(lines[0])
      if (replaced && first !== undefined && isCarried(first)) {
        resetState()
        const changed = applyLines(lines)
        applyLines(unwritten.map((line) => line.trimEnd())) // ours, still to be written: newer than the file
        position = { ino, offset: bytes }
        return changed.length > 0 ? [...jobs.values()] : changed
      }
      const remaining = [...own]
      const foreign = lines.filter((line) => {
        const mine = remaining.indexOf(line)
        if (mine < 0) return true
        remaining.splice(0, mine + 1)
        return false
      })
      position = { ino, offset: (replaced ? 0 : position!.offset) + bytes }
      return applyLines(foreign)
    }

    /** Archives the history and starts a new one from memory; a crash at any point loses nothing. */
    const rotate = (historyFile: string) => {
      const at = position
      if (!at) return
      const draft = `${historyFile}.new-${process.pid}`
      // The records rewritten below count themselves again when read: carry only the rest.
      let carriedSats = satsEarnedTotal
      const carriedDays = new Map([...days].map(([key, counts]) => [key, { ...counts }]))
      for (const job of jobs.values()) {
        const { jobDay, paidDay, sats } = contribution(job)
        const jobEntry = jobDay === undefined ? undefined : carriedDays.get(jobDay)
        if (jobEntry) jobEntry.jobs--
        if (paidDay === undefined) continue
        carriedSats -= sats
        const paidEntry = carriedDays.get(paidDay)
        if (paidEntry) paidEntry.sats -= sats
      }
      const carried: Carried = { carried: { satsEarnedTotal: carriedSats, days: [...carriedDays.entries()] } }
      const fresh = [carried, ...jobs.values()].map((line) => JSON.stringify(line) + "\n").join("")
      fs.writeFileSync(draft, fresh, { mode: FILE_MODE })
      const stamp = new Date().toISOString().replace(/[:.]/g, "-")
      let archive = path.join(path.dirname(historyFile), `jobs-${stamp}.jsonl`)
      for (let n = 1; fs.existsSync(archive); n++) archive = path.join(path.dirname(historyFile), `jobs-${stamp}-${n}.jsonl`)
      const ours = (candidate: string) => fs.statSync(candidate).ino === at.ino
      try {
        // Another process rotated it since we last read it: ours is not needed (we read theirs next).
        if (!ours(historyFile)) return
        try {
          // Linked, not moved: the history never goes missing, so another process never appends to nothing.
          fs.linkSync(historyFile, archive)
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code
          if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") throw e
          fs.renameSync(historyFile, archive) // a file system without hard links
        }
        if (!ours(archive)) {
          fs.rmSync(archive, { force: true })
          return
        }
        fs.renameSync(draft, historyFile)
        rotatedBytes = Buffer.byteLength(fresh)
      } finally {
        fs.rmSync(draft, { force: true })
      }
      position = { ino: fs.statSync(historyFile).ino, offset: Buffer.byteLength(fresh) }
      // Lines another process appended to the old history after we read it: carried into the new one.
      const late = completeLines(readFrom(archive, at.offset).text).lines
      if (late.length > 0) {
        applyLines(late)
        fs.appendFileSync(historyFile, late.map((line) => line + "\n").join(""), { mode: FILE_MODE })
        catchUp(historyFile, late)
      }
    }

    const rotateIfLong = (historyFile: string) => {
      // Not again until it has doubled since: what memory holds may itself be over the size.
      // And not while records wait to be written: the new history would hold them, and then their lines again.
      if (!position || position.offset <= Math.max(rotateBytes, 2 * rotatedBytes) || Date.now() < rotateAgainAt) return
      if (unwritten.length > 0) return
      try {
        rotate(historyFile)
      } catch (e) {
        rotateAgainAt = Date.now() + ROTATE_RETRY_MS
        warnings.push(`The job history could not be archived (${errorCode(e)}); it keeps growing until it can`)
      }
    }

    /** Appends the unwritten lines, in order; then catches up and rotates if long. Throws when the append fails. */
    const writeOut = (historyFile: string): Array<JobRecord> => {
      if (unwritten.length === 0) return []
      const lines = unwritten
      try {
        appendToHistory(historyFile, (tornByUs ? "\n" : "") + lines.join(""))
      } catch (e) {
        tornByUs = true
        throw e
      }
      tornByUs = false
      unwritten = []
      let changed: Array<JobRecord> = []
      try {
        changed = catchUp(historyFile, lines.map((line) => line.trimEnd()))
      } catch (e) {
        position = undefined // read it whole next time
        warnings.push(`The job history could not be read back (${errorCode(e)})`)
      }
      rotateIfLong(historyFile)
      return changed
    }

    let warnedAt = -Infinity
    const logWarnings = Effect.suspend(() => Effect.forEach(warnings.splice(0), (w) => Effect.logWarning(w), { discard: true }))
    const publishAll = (records: ReadonlyArray<JobRecord>) => Effect.forEach(records, (r) => PubSub.publish(changes, r), { discard: true })

    /** Tries to write what is unwritten; says so (at most once a minute in the log) while it cannot. */
    const flush = Effect.suspend(() => {
      if (!file || unwritten.length === 0) return Effect.void
      let changed: Array<JobRecord>
      try {
        changed = writeOut(file)
      } catch (e) {
        const problem = `The job history ${file} cannot be written (${errorCode(e)}): ${unwritten.length} change(s) are kept in memory and retried`
        const now = Date.now()
        const warn = now - warnedAt >= WARN_EVERY_MS
        if (warn) warnedAt = now
        return SubscriptionRef.set(writeProblem, problem).pipe(Effect.andThen(warn ? Effect.logWarning(problem) : Effect.void))
      }
      return Effect.gen(function*() {
        yield* logWarnings
        yield* publishAll(changed)
        if ((yield* SubscriptionRef.get(writeProblem)) === undefined) return
        yield* SubscriptionRef.set(writeProblem, undefined)
        warnedAt = -Infinity
        yield* Effect.logInfo("The job history is written again")
      })
    })

    const catchUpNow = Effect.suspend(() => {
      if (!file) return Effect.void
      let changed: Array<JobRecord> = []
      try {
        changed = catchUp(file)
        rotateIfLong(file)
      } catch (e) {
        warnings.push(`The job history could not be read (${errorCode(e)}); what other windows recorded may be missing here`)
      }
      return Effect.andThen(logWarnings, publishAll(changed))
    })
    /** Writes what is unwritten (which catches up too), then catches up: one stat when nothing changed. */
    const refresh = Effect.andThen(flush, catchUpNow)

    /** Makes the files private, recovers a cut-off rotation, reads the history, archives it if long. */
    const openHistory = (dir: string, historyFile: string) => {
      ensurePrivateDir(dir)
      const drafts = fs.readdirSync(dir).filter((name) => name === `${JOBS_FILE}.new` || name.startsWith(`${JOBS_FILE}.new-`))
      // A rotation cut off between archiving and replacing (where hard links are missing): the new history is complete, take it.
      if (!fs.existsSync(historyFile)) {
        const newest = drafts.map((name) => path.join(dir, name)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0]
        if (newest) fs.renameSync(newest, historyFile)
      }
      for (const name of fs.readdirSync(dir)) {
        const isDraft = name === `${JOBS_FILE}.new` || name.startsWith(`${JOBS_FILE}.new-`)
        if (isDraft && Date.now() - (fs.statSync(path.join(dir, name), { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > ABANDONED_DRAFT_MS) {
          fs.rmSync(path.join(dir, name), { force: true }) // left by a rotation that crashed before using it
        } else if (name === JOBS_FILE || isDraft || /^jobs-.*\.jsonl$/.test(name)) {
          makePrivate(path.join(dir, name))
        }
      }
      if (!fs.existsSync(historyFile)) return
      catchUp(historyFile)
      // A crash mid-append can leave a last line without its newline: end it, so the next record
      // starts a line of its own instead of being glued to the torn one and lost with it.
      if (position && fs.statSync(historyFile).size > position.offset) fs.appendFileSync(historyFile, "\n")
      rotateIfLong(historyFile)
    }

    if (file && dataDir) {
      try {
        openHistory(dataDir, file)
      } catch (e) {
        // Started without what the history says (it may repeat a job); records are still written when they can be.
        warnings.push(`The job history ${file} could not be read (${errorCode(e)})`)
      }
      yield* logWarnings
      yield* Effect.addFinalizer(() => flush) // a last try for anything still unwritten
      yield* flush.pipe(Effect.repeat(Schedule.spaced(retryMillis)), Effect.forkScoped)
    }

    const record = (update: JobUpdate) =>
      Effect.gen(function*() {
        const stamped = { ...update, updatedAt: Date.now() }
        const next = apply(stamped)
        if (file) {
          unwritten.push(JSON.stringify(stamped) + "\n")
          yield* flush
        }
        yield* PubSub.publish(changes, next)
        return next
      })

    const all = () => [...jobs.values()]

    return JobStore.of({
      record,
      get: (id) => Effect.sync(() => jobs.get(id)),
      // Reversed first: jobs received in the same millisecond then list the latest first (the sort is stable).
      recent: (limit) => Effect.sync(() => all().reverse().sort((a, b) => b.receivedAt - a.receivedAt).slice(0, limit)),
      unfinished: Effect.sync(() => all().filter((j) => j.status === "received" || j.status === "processing")),
      unsettled: Effect.sync(() => all().filter((j) => j.payment === "unpaid")),
      earnings: Effect.sync(() => {
        const today = days.get(dayOf(Date.now()))
        return { jobsToday: today?.jobs ?? 0, satsEarnedToday: today?.sats ?? 0, satsEarnedTotal }
      }),
      changes: Stream.fromPubSub(changes),
      refresh,
      writeProblem
    })
  })
}
