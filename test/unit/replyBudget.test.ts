// Proves the shared budget for refusals: a burst up to the limit, then drops counted, refilled over time.
import assert from "node:assert/strict"
import { ReplyBudget } from "../../src/dvm/replyBudget"

describe("the reply budget for refusals", () => {
  it("answers a burst up to the limit, then drops and counts", () => {
    const budget = new ReplyBudget(120)
    let answered = 0
    for (let i = 0; i < 1000; i++) if (budget.take(0)) answered++
    assert.equal(answered, 120)
    assert.equal(budget.dropped, 880)
  })

  it("refills at the limit per minute, never above the limit", () => {
    const budget = new ReplyBudget(120)
    for (let i = 0; i < 120; i++) budget.take(0)
    assert.equal(budget.take(0), false)
    assert.equal(budget.take(500), true, "half a second buys one reply at 120 a minute")
    assert.equal(budget.take(500), false)
    let answered = 0
    for (let i = 0; i < 500; i++) if (budget.take(3_600_000)) answered++
    assert.equal(answered, 120, "an hour idle refills to the limit, not beyond")
  })

  it("is not fooled by a clock that steps back", () => {
    const budget = new ReplyBudget(10)
    for (let i = 0; i < 10; i++) budget.take(60_000)
    assert.equal(budget.take(0), false)
    assert.equal(budget.take(60_000), false, "stepping back and forward again refills nothing")
  })
})
