// The test PostgreSQL (test/support/postgres.ts) is a real server: one per run, databases apart,
// a password required, reached on 127.0.0.1 only.
import assert from "node:assert/strict"
import pg from "pg"
import { DB_PASSWORD, freshDatabase, postgres, query } from "../support/postgres"

describe("test support: PostgreSQL", function() {
  this.timeout(60_000)

  it("is one server per run, with a fresh, separate database per call", async () => {
    const [first, second] = [await freshDatabase("standin"), await freshDatabase("standin")]
    assert.notEqual(first, second)
    assert.equal(new URL(first).port, String((await postgres()).port))
    await query(first, "CREATE TABLE only_here (n integer)")
    await query(first, "INSERT INTO only_here VALUES (1)")
    assert.deepEqual(await query(first, "SELECT n FROM only_here"), [{ n: 1 }])
    await assert.rejects(query(second, "SELECT n FROM only_here"), /does not exist/)
  })

  it("refuses a connection without the password", async () => {
    const url = new URL(await freshDatabase("standin"))
    assert.equal(decodeURIComponent(url.password), DB_PASSWORD)
    url.password = "wrong"
    const client = new pg.Client({ connectionString: url.toString() })
    await assert.rejects(client.connect(), /password authentication failed/)
    await client.end().catch(() => undefined)
  })
})
