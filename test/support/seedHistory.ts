// A realistic job history written into a data dir, as the provider would have left it: N jobs over
// D days (default 100,000 over 60), each job's lines as JobPipeline records them (received, processing,
// tokens, invoice or free, success or error, paid/expired later), interleaved in time order, rotated
// into archives the way JobStore's rotation writes them (the old file kept as `jobs-<time>.jsonl`, the
// new one begun with a `carried` line and the records still in memory). Deterministic (seeded PRNG).
//
// It returns the jobs' final records, and `expectedOverview` computes the dashboard's figures from
// them by a separate, plain pass (no rollup), for tests to compare with. Plain Node (tsx), no Effect.
import * as fs from "node:fs"
import * as path from "node:path"
import type { ChartPoint, EarningsOverview, PeriodTotals } from "../../src/dvm/services/History"
import type { JobRecord } from "../../src/dvm/services/JobStore"

export interface SeedOptions {
  readonly jobs?: number
  readonly days?: number
  /** The history ends just before this (ms); default now. */
  readonly now?: number
  readonly seed?: number
  /** A file past this many bytes is rotated (default 12 MiB, under JobStore's 16 MiB so opening it does not rotate again). */
  readonly rotateBytes?: number
  /** Records copied into a new file at rotation (JobStore copies what it holds in memory). */
  readonly memory?: number
}

export interface SeededHistory {
  /** Every job's final record, oldest first. */
  readonly records: ReadonlyArray<JobRecord>
  /** The files written, oldest first (archives, then jobs.jsonl). */
  readonly files: ReadonlyArray<string>
  readonly now: number
  readonly customers: ReadonlyArray<string>
  readonly models: ReadonlyArray<string>
}

export const SEED_MODELS = ["llama3.2:1b", "qwen2.5:7b", "mistral:7b", "gemma3:4b"] as const
const WORDS = "summarize explain the history of lightning network write a haiku about rust translate this into french list three reasons why cats sleep so much".split(" ")
const ERRORS = [
  "the job ran longer than 120 s and was stopped",
  "rate limited: 10 jobs a minute per customer; retry in 20 s",
  "=HYPERLINK(\"http://x\") model \"x\" is not available",
  "could not create an invoice: wallet unreachable"
]

/** mulberry32: small, fast, deterministic. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const DAY = 86_400_000

/** A min-heap of pending lines by (time, order written). */
class Pending {
  readonly #items: Array<{ at: number; seq: number; update: Record<string, unknown> }> = []
  #seq = 0
  get size() {
    return this.#items.length
  }
  peek() {
    return this.#items[0]?.at ?? Infinity
  }
  push(at: number, update: Record<string, unknown>) {
    const items = this.#items
    items.push({ at, seq: this.#seq++, update })
    const less = (a: number, b: number) => items[a]!.at < items[b]!.at || (items[a]!.at === items[b]!.at && items[a]!.seq < items[b]!.seq)
    for (let i = items.length - 1; i > 0;) {
      const parent = (i - 1) >> 1
      if (!less(i, parent)) break
      ;[items[i], items[parent]] = [items[parent]!, items[i]!]
      i = parent
    }
  }
  pop() {
    const items = this.#items
    const top = items[0]!
    const last = items.pop()!
    if (items.length > 0) {
      items[0] = last
      const less = (a: number, b: number) => items[a]!.at < items[b]!.at || (items[a]!.at === items[b]!.at && items[a]!.seq < items[b]!.seq)
      for (let i = 0; ;) {
        const [l, r] = [2 * i + 1, 2 * i + 2]
        let m = i
        if (l < items.length && less(l, m)) m = l
        if (r < items.length && less(r, m)) m = r
        if (m === i) break
        ;[items[i], items[m]] = [items[m]!, items[i]!]
        i = m
      }
    }
    return top
  }
}

const dayStart = (ms: number) => {
  const d = new Date(ms)
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime()
}

export const seedHistory = (dir: string, options: SeedOptions = {}): SeededHistory => {
  const count = options.jobs ?? 100_000
  const days = options.days ?? 60
  const now = options.now ?? Date.now()
  const rotateBytes = options.rotateBytes ?? 12 * 1024 * 1024
  const memory = options.memory ?? 2000
  const random = prng(options.seed ?? 1)
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1))
  const hex = (bytes: number) => Array.from({ length: bytes / 4 }, () => Math.floor(random() * 2 ** 32).toString(16).padStart(8, "0")).join("")
  const customers = Array.from({ length: 250 }, () => hex(32))
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })

  const records = new Map<string, JobRecord>()
  /** Ids in the order they were last updated: what a JobStore would hold in memory (the newest `memory`). */
  const touched = new Map<string, true>()
  const files: Array<string> = []
  const current = path.join(dir, "jobs.jsonl")
  let fd = fs.openSync(current, "w", 0o600)
  let bytes = 0
  let buffered: Array<string> = []
  const flush = () => {
    fs.writeSync(fd, buffered.join(""))
    buffered = []
  }
  const write = (line: string) => {
    buffered.push(line)
    bytes += Buffer.byteLength(line)
    if (buffered.length >= 2000) flush()
  }

  const rotate = (at: number) => {
    flush()
    fs.closeSync(fd)
    let archive = path.join(dir, `jobs-${new Date(at).toISOString().replace(/[:.]/g, "-")}.jsonl`)
    for (let n = 1; fs.existsSync(archive); n++) archive = path.join(dir, `jobs-${new Date(at).toISOString().replace(/[:.]/g, "-")}-${n}.jsonl`)
    fs.renameSync(current, archive)
    files.push(archive)
    const kept = [...touched.keys()].slice(-memory).map((id) => records.get(id)!)
    const keptIds = new Set(kept.map((r) => r.id))
    // As JobStore carries them: sats paid and (for the last 7 days) succeeded jobs, outside what is kept.
    let satsEarnedTotal = 0
    const carriedDays = new Map<number, { jobs: number; sats: number }>()
    const since = dayStart(at) - 6 * DAY
    for (const r of records.values()) {
      if (keptIds.has(r.id)) continue
      if (r.payment === "paid") {
        satsEarnedTotal += r.priceSats ?? 0
        const paidDay = dayStart(r.paidAt ?? r.updatedAt)
        if (paidDay >= since) carriedDays.set(paidDay, { jobs: carriedDays.get(paidDay)?.jobs ?? 0, sats: (carriedDays.get(paidDay)?.sats ?? 0) + (r.priceSats ?? 0) })
      }
      if (r.status === "success" && dayStart(r.receivedAt) >= since) {
        const d = dayStart(r.receivedAt)
        carriedDays.set(d, { jobs: (carriedDays.get(d)?.jobs ?? 0) + 1, sats: carriedDays.get(d)?.sats ?? 0 })
      }
    }
    fd = fs.openSync(current, "w", 0o600)
    bytes = 0
    write(JSON.stringify({ carried: { satsEarnedTotal, days: [...carriedDays.entries()] } }) + "\n")
    for (const record of kept) write(JSON.stringify(record) + "\n")
    flush()
    rotatedBytes = bytes
  }
  let rotatedBytes = 0

  const pending = new Pending()
  const emit = (update: Record<string, unknown>) => {
    const id = update.id as string
    const next = { ...records.get(id), ...update } as unknown as JobRecord
    records.set(id, next)
    touched.delete(id)
    touched.set(id, true)
    if (touched.size > memory * 2) touched.delete(touched.keys().next().value as string)
    write(JSON.stringify(update) + "\n")
    if (bytes > Math.max(rotateBytes, 2 * rotatedBytes)) rotate(update.updatedAt as number)
  }
  const drainUntil = (at: number) => {
    while (pending.size > 0 && pending.peek() <= at) emit(pending.pop().update)
  }

  const start = now - days * DAY
  const step = (days * DAY - 120_000) / count
  for (let i = 0; i < count; i++) {
    const t0 = Math.floor(start + (i + random()) * step)
    drainUntil(t0)
    const id = hex(32)
    const customer = customers[Math.floor(customers.length * random() ** 2)]!
    const encrypted = random() < 0.15
    const prompt = Array.from({ length: int(3, 40) }, () => WORDS[int(0, WORDS.length - 1)]).join(" ")
    const preview = prompt.length > 100 ? `${prompt.slice(0, 100)}…` : prompt
    const line = (at: number, update: Record<string, unknown>) => {
      if (at <= now) pending.push(at, { id, ...update, updatedAt: at })
    }
    line(t0, {
      customer,
      kind: random() < 0.95 ? 5050 : 5001,
      requestedAt: Math.floor(t0 / 1000) - int(0, 5),
      receivedAt: t0,
      status: "received",
      encrypted,
      ...(encrypted ? {} : { promptPreview: preview })
    })
    const r = random()
    if (r < 0.06) {
      line(t0 + 3, { status: "error", error: ERRORS[1] })
      continue
    }
    const t1 = t0 + int(20, 3000)
    line(t1, { status: "processing", startedAt: t1 })
    if (r < 0.07) continue // cut off by a crash: never ended
    const t2 = t1 + int(800, 60_000)
    const model = SEED_MODELS[int(0, SEED_MODELS.length - 1)]
    const promptTokens = int(8, 400)
    const completionTokens = int(10, 900)
    line(t2, { model, promptBytes: prompt.length, promptTokens, completionTokens })
    if (r < 0.1) {
      line(t2 + 1, { status: "error", error: ERRORS[random() < 0.5 ? 0 : 2] })
      continue
    }
    // Eras: free mode for the first fifth of the history, pay-after since (with the odd free job).
    const free = i < count / 5 || random() < 0.05
    if (free) {
      line(t2 + 2, { priceSats: 0, payment: "free" })
      line(t2 + 40, { status: "success", finishedAt: t2 + 40, resultId: hex(32) })
      continue
    }
    const price = int(1, 60)
    const expiresAt = Math.floor(t2 / 1000) + 600
    line(t2 + 5, {
      priceSats: price,
      invoiceId: hex(32),
      bolt11: `lnbc${price * 10}n1p${hex(8)}${"q".repeat(200)}${hex(16)}`,
      invoiceExpiresAt: expiresAt,
      invoiceBackend: "spark",
      payment: "unpaid"
    })
    const ok = random() < 0.97
    if (ok) line(t2 + 60, { status: "success", finishedAt: t2 + 60, resultId: hex(32) })
    else line(t2 + 60, { status: "error", error: ERRORS[3]!.replace("could not create an invoice", "the result could not be delivered") })
    const outcome = random()
    if (outcome < 0.86) {
      const paidAt = t2 + int(2_000, 20 * 60_000)
      line(paidAt, { payment: "paid", paidAt })
    } else {
      line(expiresAt * 1000 + 120_000, { payment: "expired" })
    }
  }
  drainUntil(Infinity)
  flush()
  fs.closeSync(fd)
  files.push(current)
  return {
    records: [...records.values()].sort((a, b) => a.receivedAt - b.receivedAt),
    files,
    now,
    customers,
    models: [...SEED_MODELS]
  }
}

/** The dashboard's figures from the final records, counted plainly, one record at a time. */
export const expectedOverview = (records: ReadonlyArray<JobRecord>, now: number): EarningsOverview => {
  const today = new Date(now)
  const midnight = (back: number) => new Date(today.getFullYear(), today.getMonth(), today.getDate() - back).getTime()
  const totals = (from: number, to: number): PeriodTotals => {
    const t = { jobs: 0, succeeded: 0, failed: 0, satsPaid: 0, satsAwaiting: 0, freeJobs: 0 }
    for (const r of records) {
      if (r.receivedAt >= from && r.receivedAt < to) {
        t.jobs++
        if (r.status === "success") t.succeeded++
        if (r.status === "error") t.failed++
        if (r.payment === "unpaid") t.satsAwaiting += r.priceSats ?? 0
        if (r.payment === "free" || (r.status === "success" && r.priceSats === 0)) t.freeJobs++
      }
      const paid = r.paidAt ?? r.updatedAt
      if (r.payment === "paid" && paid >= from && paid < to) t.satsPaid += r.priceSats ?? 0
    }
    return t
  }
  const point = (from: number, to: number): ChartPoint => {
    const t = totals(from, to)
    return { start: from, jobs: t.jobs, satsPaid: t.satsPaid }
  }
  return {
    today: totals(midnight(0), midnight(-1)),
    last7Days: totals(midnight(6), midnight(-1)),
    last30Days: totals(midnight(29), midnight(-1)),
    allTime: totals(-Infinity, Infinity),
    perDay: Array.from({ length: 30 }, (_, i) => point(midnight(29 - i), midnight(28 - i))),
    perHour: Array.from({ length: 24 }, (_, h) =>
      point(new Date(today.getFullYear(), today.getMonth(), today.getDate(), h).getTime(), new Date(today.getFullYear(), today.getMonth(), today.getDate(), h + 1).getTime())),
    ...(records.length > 0 ? { since: records.reduce((min, r) => Math.min(min, r.receivedAt), Infinity) } : {})
  }
}
