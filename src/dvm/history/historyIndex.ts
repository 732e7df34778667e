/**
 * A compact index of every job in the history: per job only what the totals, the filters and the
 * ordering need (times, status, payment, price, customer, model) in typed columns, and where its
 * lines are in the history files, so a page's records are read from disk when asked for instead of
 * 100,000 full records (each with its invoice) living in memory.
 *
 * A history line is untrusted (hand edits, torn lines): each field is taken only when it has the
 * right type, and a line without a usable id is skipped.
 */
import { undoesPayment, undoesStatus } from "../services/JobStore"
import { type JobFacts, Rollup } from "./rollup"

const STATUSES = ["received", "processing", "success", "error"] as const
const PAYMENTS = ["free", "unpaid", "paid", "expired"] as const
/** Longest id, customer or model a line may give (longer: not ours, skipped or ignored). */
const MAX_ID = 128
const MAX_NAME = 200

/** Where a job's lines are in one file: from the start of its first line to the end of its last. */
export interface Span {
  readonly file: number
  readonly start: number
  readonly end: number
}

const NUMBER_COLUMNS = ["receivedAt", "updatedAt", "paidAt", "priceSats", "start1", "end1", "start2", "end2"] as const
const INT_COLUMNS = ["customer", "model", "file1", "file2"] as const
const BYTE_COLUMNS = ["status", "payment"] as const
type NumberColumn = (typeof NUMBER_COLUMNS)[number]
type IntColumn = (typeof INT_COLUMNS)[number]
type ByteColumn = (typeof BYTE_COLUMNS)[number]

const code = <T extends string>(values: ReadonlyArray<T>, value: unknown) => {
  const i = values.indexOf(value as T)
  return i < 0 ? 0 : i + 1
}
const finite = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value)
const shortString = (value: unknown, max: number): value is string => typeof value === "string" && value.length > 0 && value.length <= max

export class HistoryIndex {
  count = 0
  readonly ids: Array<string> = []
  readonly #byId = new Map<string, number>()
  /** Customers and models, each stored once. */
  readonly strings: Array<string> = []
  readonly #stringIds = new Map<string, number>()
  #capacity = 0
  #numbers = {} as Record<NumberColumn, Float64Array>
  #ints = {} as Record<IntColumn, Int32Array>
  #bytes = {} as Record<ByteColumn, Uint8Array>
  #order: Int32Array | undefined
  /** Changes applied so far: what is derived from the rows is recomputed only when it moved. */
  #version = 0
  #mostUsed = new Map<string, { version: number; values: Array<string> }>()

  constructor(capacity = 1024) {
    this.#grow(capacity)
  }

  #grow(capacity: number) {
    const copy = <T extends Float64Array | Int32Array | Uint8Array>(make: (n: number) => T, old: T | undefined) => {
      const next = make(capacity)
      if (old) next.set(old.subarray(0, this.count))
      return next
    }
    for (const c of NUMBER_COLUMNS) this.#numbers[c] = copy((n) => new Float64Array(n), this.#numbers[c])
    for (const c of INT_COLUMNS) this.#ints[c] = copy((n) => new Int32Array(n), this.#ints[c])
    for (const c of BYTE_COLUMNS) this.#bytes[c] = copy((n) => new Uint8Array(n), this.#bytes[c])
    this.#capacity = capacity
  }

  intern(value: string) {
    let id = this.#stringIds.get(value)
    if (id === undefined) {
      id = this.strings.length
      this.strings.push(value)
      this.#stringIds.set(value, id)
    }
    return id
  }

  /** The string's number if it was ever seen, else -1 (then no row has it). */
  stringId(value: string) {
    return this.#stringIds.get(value) ?? -1
  }

  row(id: string) {
    return this.#byId.get(id)
  }

  #num(column: NumberColumn, row: number) {
    const value = this.#numbers[column][row]!
    return Number.isNaN(value) ? undefined : value
  }

  receivedAt = (row: number) => this.#num("receivedAt", row)
  status = (row: number) => STATUSES[this.#bytes.status[row]! - 1]
  payment = (row: number) => PAYMENTS[this.#bytes.payment[row]! - 1]
  statusCode = (row: number) => this.#bytes.status[row]!
  paymentCode = (row: number) => this.#bytes.payment[row]!
  customerId = (row: number) => this.#ints.customer[row]!
  modelId = (row: number) => this.#ints.model[row]!
  static statusCode = (status: string) => code(STATUSES, status)
  static paymentCode = (payment: string) => code(PAYMENTS, payment)

  facts(row: number): JobFacts {
    const paidAt = this.#num("paidAt", row) ?? this.#num("updatedAt", row)
    return {
      receivedAt: this.#num("receivedAt", row),
      status: this.status(row),
      payment: this.payment(row),
      priceSats: this.#num("priceSats", row),
      paidAt
    }
  }

  /** Where the row's lines are: its first file, and the last file it appears in (a rotation's copy holds the whole record). */
  spans(row: number): Array<Span> {
    const spans: Array<Span> = []
    const [file1, file2] = [this.#ints.file1[row]!, this.#ints.file2[row]!]
    if (file1 >= 0) spans.push({ file: file1, start: this.#numbers.start1[row]!, end: this.#numbers.end1[row]! })
    if (file2 >= 0 && file2 !== file1) spans.push({ file: file2, start: this.#numbers.start2[row]!, end: this.#numbers.end2[row]! })
    return spans
  }

  /**
   * Applies one history line (or a whole record), keeping `rollup` exact: the job's old contribution
   * out, its new one in. `at` is where the line is (absent for a record known only in memory).
   * Returns false when the line is not a job's (no usable id).
   */
  apply(update: Record<string, unknown>, rollup: Rollup, at?: Span): boolean {
    const id = update.id
    if (!shortString(id, MAX_ID)) return false
    let row = this.#byId.get(id)
    const created = row === undefined
    if (row === undefined) {
      if (this.count === this.#capacity) this.#grow(this.#capacity * 2)
      row = this.count++
      this.ids.push(id)
      this.#byId.set(id, row)
      for (const c of NUMBER_COLUMNS) this.#numbers[c][row] = Number.NaN
      for (const c of INT_COLUMNS) this.#ints[c][row] = -1
    } else {
      rollup.count(this.facts(row), -1)
    }
    const n = this.#numbers
    const key = created ? 0 : this.#key(row)
    if (finite(update.receivedAt)) n.receivedAt[row] = update.receivedAt
    if (finite(update.updatedAt)) n.updatedAt[row] = update.updatedAt
    if (!created && this.#key(row) !== key) this.#order = undefined
    if (finite(update.paidAt)) n.paidAt[row] = update.paidAt
    if (finite(update.priceSats) && update.priceSats >= 0) n.priceSats[row] = update.priceSats
    // As in JobStore: a line read twice, after later ones, undoes no outcome (paid stays paid, ended stays ended).
    const status = code(STATUSES, update.status)
    if (status > 0 && !undoesStatus(STATUSES[this.#bytes.status[row]! - 1], update.status)) this.#bytes.status[row] = status
    const payment = code(PAYMENTS, update.payment)
    if (payment > 0 && !undoesPayment(PAYMENTS[this.#bytes.payment[row]! - 1], update.payment)) this.#bytes.payment[row] = payment
    if (shortString(update.customer, MAX_ID)) this.#ints.customer[row] = this.intern(update.customer)
    if (shortString(update.model, MAX_NAME)) this.#ints.model[row] = this.intern(update.model)
    if (at) {
      const i = this.#ints
      if (i.file1[row]! < 0) {
        i.file1[row] = at.file
        n.start1[row] = at.start
      }
      if (i.file1[row] === at.file) n.end1[row] = at.end
      if (i.file2[row] !== at.file) {
        i.file2[row] = at.file
        n.start2[row] = at.start
      }
      n.end2[row] = at.end
    }
    rollup.count(this.facts(row), 1)
    if (created) this.#ordered(row)
    this.#version++
    return true
  }

  /** What rows are ordered by: when received (a job never seen received: its last update). */
  #key(row: number) {
    const at = this.#numbers.receivedAt[row]!
    const updated = this.#numbers.updatedAt[row]!
    return Number.isNaN(at) ? (Number.isNaN(updated) ? 0 : updated) : at
  }

  /** A new row: put first when it is the newest (as live jobs are), so the order is not sorted again. */
  #ordered(row: number) {
    const order = this.#order
    if (!order || order.length !== row || (row > 0 && this.#key(row) < this.#key(order[0]!))) {
      this.#order = undefined
      return
    }
    const next = new Int32Array(row + 1)
    next[0] = row
    next.set(order, 1)
    this.#order = next
  }

  /** Rows newest first (by when received; a job never seen received by its last update). */
  order(): Int32Array {
    if (this.#order) return this.#order
    const keys = new Float64Array(this.count)
    for (let row = 0; row < this.count; row++) keys[row] = this.#key(row)
    const order = new Int32Array(this.count)
    for (let row = 0; row < this.count; row++) order[row] = row
    order.sort((a, b) => keys[b]! - keys[a]! || b - a)
    this.#order = order
    return order
  }

  /** The most used values of a string column (customer or model), most used first. */
  mostUsed(column: "customer" | "model", limit: number): Array<string> {
    const cached = this.#mostUsed.get(`${column}/${limit}`)
    if (cached?.version === this.#version) return cached.values
    const counts = new Map<number, number>()
    const values = this.#ints[column]
    for (let row = 0; row < this.count; row++) {
      const value = values[row]!
      if (value >= 0) counts.set(value, (counts.get(value) ?? 0) + 1)
    }
    const most = [...counts].sort((a, b) => b[1] - a[1]).slice(0, limit).map(([id]) => this.strings[id]!)
    this.#mostUsed.set(`${column}/${limit}`, { version: this.#version, values: most })
    return most
  }

  /** Renumbers file references (files dropped from tracking map to -1). */
  remapFiles(map: (file: number) => number) {
    for (const c of ["file1", "file2"] as const) {
      const column = this.#ints[c]
      for (let row = 0; row < this.count; row++) if (column[row]! >= 0) column[row] = map(column[row]!)
    }
  }

  encode() {
    const b64 = (array: Float64Array | Int32Array | Uint8Array) =>
      Buffer.from(array.buffer, array.byteOffset, this.count * array.BYTES_PER_ELEMENT).toString("base64")
    return {
      count: this.count,
      ids: this.ids,
      strings: this.strings,
      numbers: Object.fromEntries(NUMBER_COLUMNS.map((c) => [c, b64(this.#numbers[c])])),
      ints: Object.fromEntries(INT_COLUMNS.map((c) => [c, b64(this.#ints[c])])),
      bytes: Object.fromEntries(BYTE_COLUMNS.map((c) => [c, b64(this.#bytes[c])]))
    }
  }

  /** Throws when `saved` is not what `encode` wrote (a rebuild follows). */
  static decode(saved: unknown, files: number): HistoryIndex {
    const s = saved as ReturnType<HistoryIndex["encode"]>
    if (typeof s !== "object" || s === null || !Number.isSafeInteger(s.count) || s.count < 0) throw new Error("bad index")
    if (!Array.isArray(s.ids) || s.ids.length !== s.count || !s.ids.every((id) => shortString(id, MAX_ID))) throw new Error("bad ids")
    if (!Array.isArray(s.strings) || !s.strings.every((v) => typeof v === "string")) throw new Error("bad strings")
    const index = new HistoryIndex(Math.max(1024, s.count))
    const column = <T extends Float64Array | Int32Array | Uint8Array>(text: unknown, target: T) => {
      if (typeof text !== "string") throw new Error("bad column")
      const bytes = Buffer.from(text, "base64")
      if (bytes.length !== s.count * target.BYTES_PER_ELEMENT) throw new Error("bad column length")
      new Uint8Array(target.buffer, target.byteOffset, bytes.length).set(bytes)
    }
    for (const c of NUMBER_COLUMNS) column(s.numbers?.[c], index.#numbers[c])
    for (const c of INT_COLUMNS) column(s.ints?.[c], index.#ints[c])
    for (const c of BYTE_COLUMNS) column(s.bytes?.[c], index.#bytes[c])
    index.count = s.count
    for (const value of s.strings) index.intern(value)
    if (index.strings.length !== s.strings.length) throw new Error("repeated strings")
    s.ids.forEach((id, row) => {
      if (index.#byId.has(id)) throw new Error("repeated id")
      index.ids.push(id)
      index.#byId.set(id, row)
    })
    for (let row = 0; row < s.count; row++) {
      const refs = [index.#ints.customer[row]!, index.#ints.model[row]!]
      if (refs.some((r) => r < -1 || r >= index.strings.length)) throw new Error("bad string reference")
      if ([index.#ints.file1[row]!, index.#ints.file2[row]!].some((f) => f < -1 || f >= files)) throw new Error("bad file reference")
      if (index.#bytes.status[row]! > STATUSES.length || index.#bytes.payment[row]! > PAYMENTS.length) throw new Error("bad code")
    }
    return index
  }
}
