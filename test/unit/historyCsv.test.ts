// The CSV export's cells: RFC 4180 quoting, and text a spreadsheet would run as a formula made text.
import assert from "node:assert/strict"
import { CSV_HEADER, csvCell, csvRow } from "../../src/dvm/history/historyCsv"
import type { JobRecord } from "../../src/dvm/services/JobStore"

describe("history CSV", () => {
  it("quotes every cell and doubles quotes; line breaks stay inside the quotes", () => {
    assert.equal(csvCell('say "hi"'), '"say ""hi"""')
    assert.equal(csvCell("a,b\r\nc"), '"a,b\r\nc"')
    assert.equal(csvCell(undefined), '""')
    assert.equal(csvCell(42), '"42"')
    assert.equal(csvCell(false), '"false"')
  })

  it("makes text of a cell that starts like a formula (= + - @, tab, carriage return)", () => {
    for (const formula of ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\t=x", "\r=x"]) assert.equal(csvCell(formula), `"'${formula}"`)
    assert.equal(csvCell("a=b"), '"a=b"')
  })

  it("writes one row per job under a header with as many columns", () => {
    const job: JobRecord = {
      id: "ab".repeat(32), customer: "cd".repeat(32), kind: 5050, requestedAt: 1, receivedAt: Date.UTC(2026, 0, 2, 3, 4, 5), updatedAt: 2,
      status: "error", error: "=cmd|' /C calc'!A0", startedAt: 1000, finishedAt: 1750, promptPreview: "hello, \"world\""
    }
    const header = CSV_HEADER.trimEnd().split(",")
    const row = csvRow(job)
    assert.ok(row.endsWith("\r\n"))
    assert.ok(row.startsWith('"2026-01-02T03:04:05.000Z","abab'))
    assert.ok(row.includes(`"'=cmd|' /C calc'!A0"`))
    assert.ok(row.includes('"750"'), "duration from start to finish")
    assert.ok(row.includes('"hello, ""world"""'))
    assert.equal(row.match(/"(?:[^"]|"")*"/g)?.length, header.length)
  })
})
