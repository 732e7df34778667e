// Admission: allow/deny lists, the bounded queue, per-customer rate and in-flight limits.
import assert from "node:assert/strict"
import { Admission, type AdmissionDecision, type AdmissionLimits } from "../../src/dvm/admission"

const limits = (patch: Partial<AdmissionLimits> = {}): AdmissionLimits => ({
  maxRunning: 1,
  maxQueued: 2,
  perCustomerPerMinute: 100,
  perCustomerInFlight: 100,
  allow: [],
  deny: [],
  ...patch
})

const refused = (d: AdmissionDecision) => {
  if (d._tag !== "Refused") assert.fail(`expected Refused, got ${JSON.stringify(d)}`)
  return d
}

describe("admission", () => {
  it("admits the first job to run now and queues the next ones with their position", () => {
    const a = new Admission(limits())
    assert.deepEqual(a.admit("alice", 0), { _tag: "Admitted", queuePosition: 0 })
    assert.deepEqual(a.admit("bob", 0), { _tag: "Admitted", queuePosition: 1 })
    assert.deepEqual(a.admit("carol", 0), { _tag: "Admitted", queuePosition: 2 })
  })

  it("answers busy when the queue is full, and admits again once a job is released", () => {
    const a = new Admission(limits())
    for (const c of ["a", "b", "c"]) a.admit(c, 0)
    const busy = refused(a.admit("d", 0))
    assert.match(busy.reason, /busy: 2 jobs are already waiting/)
    assert.equal(busy.retryAfterSeconds, 60)
    a.release("a")
    assert.deepEqual(a.admit("d", 0), { _tag: "Admitted", queuePosition: 2 })
  })

  it("limits jobs per minute per customer and says when to retry", () => {
    const a = new Admission(limits({ perCustomerPerMinute: 2, maxQueued: 100 }))
    a.admit("alice", 0)
    a.admit("alice", 10_000)
    const limited = refused(a.admit("alice", 15_000))
    assert.match(limited.reason, /at most 2 jobs per minute.*try again in 45 s/)
    assert.equal(limited.retryAfterSeconds, 45)
    assert.equal(a.admit("bob", 15_000)._tag, "Admitted", "other customers are not affected")
    assert.equal(a.admit("alice", 60_001)._tag, "Admitted", "the window slides")
  })

  it("limits one customer's jobs in flight", () => {
    const a = new Admission(limits({ perCustomerInFlight: 1, maxQueued: 100 }))
    a.admit("alice", 0)
    assert.match(refused(a.admit("alice", 1)).reason, /at most 1 of your jobs at a time/)
    a.release("alice")
    assert.equal(a.admit("alice", 2)._tag, "Admitted")
  })

  it("refuses denied keys, and everyone off a non-empty allow list", () => {
    assert.match(refused(new Admission(limits({ deny: ["mallory"] })).admit("mallory", 0)).reason, /does not serve your key/)
    const allowOnly = new Admission(limits({ allow: ["alice"] }))
    assert.equal(allowOnly.admit("alice", 0)._tag, "Admitted")
    assert.equal(allowOnly.admit("bob", 0)._tag, "Refused")
  })

  it("forgets customers once their window is empty, so memory does not grow with strangers", () => {
    const a = new Admission(limits({ maxQueued: 10_000 }))
    for (let i = 0; i < 1000; i++) {
      a.admit(`c${i}`, 0)
      a.release(`c${i}`)
    }
    assert.equal(a.trackedCustomers, 1000)
    a.admit("late", 120_000)
    assert.equal(a.trackedCustomers, 1)
    assert.equal(a.size, 1)
  })

  it("lets pay-first jobs wait for payment without a place in the queue, and queues them once paid", () => {
    const a = new Admission(limits({ maxQueued: 4 }))
    for (const c of ["p1", "p2", "p3", "p4"]) assert.deepEqual(a.admit(c, 0, { queue: false }), { _tag: "Admitted", queuePosition: 0 })
    assert.equal(a.size, 0, "unpaid jobs hold no place")
    assert.deepEqual(a.admit("payer", 0), { _tag: "Admitted", queuePosition: 0 }, "a customer who pays at once still runs")
    for (const c of ["q1", "q2", "q3"]) a.admit(c, 0)
    assert.equal(a.enqueue({ paid: true }), 4, "a paid job goes behind the running and queued ones")
    assert.equal(a.waitingForPayment, 3)
    refused(a.admit("late", 0)) // running 1 + queued 4: full
    a.release("p2", { queued: false }) // an unpaid job ending frees nothing in the queue
    refused(a.admit("late", 0))
    a.release("payer")
    assert.deepEqual(a.admit("late", 0), { _tag: "Admitted", queuePosition: 4 })
  })

  it("bounds the jobs waiting for payment at once, each customer's in-flight limit included", () => {
    const a = new Admission(limits({ maxQueued: 3, perCustomerInFlight: 2 }))
    assert.equal(a.admit("s1", 0, { queue: false })._tag, "Admitted")
    assert.equal(a.admit("s1", 0, { queue: false })._tag, "Admitted")
    assert.match(refused(a.admit("s1", 0, { queue: false })).reason, /at most 2 of your jobs/)
    assert.equal(a.admit("s2", 0, { queue: false })._tag, "Admitted")
    assert.match(refused(a.admit("s3", 0, { queue: false })).reason, /busy: 3 jobs are already waiting for payment/)
    assert.equal(a.admit("s3", 0)._tag, "Admitted", "a job that needs no invoice is not held up by them")
    a.release("s1", { queued: false }) // an invoice expired unpaid
    assert.equal(a.admit("s3", 0, { queue: false })._tag, "Admitted")
    a.enqueue({ paid: true }) // one paid: it leaves the wait for payment
    assert.equal(a.waitingForPayment, 2)
    assert.equal(a.admit("s4", 0, { queue: false })._tag, "Admitted")
  })

  it("screens malformed requests by the deny list and the per-minute rate, without a place in flight", () => {
    const a = new Admission(limits({ perCustomerPerMinute: 2, deny: ["mallory"] }))
    assert.match(refused(a.screen("mallory", 0)).reason, /does not serve your key/)
    assert.equal(a.screen("bob", 0)._tag, "Admitted")
    assert.equal(a.screen("bob", 1)._tag, "Admitted")
    assert.match(refused(a.screen("bob", 2)).reason, /at most 2 jobs per minute/)
    assert.match(refused(a.admit("bob", 3)).reason, /at most 2 jobs per minute/, "bad requests count toward the rate")
    assert.equal(a.size, 0)
    assert.equal(a.screen("bob", 60_001)._tag, "Admitted", "the window moves on")
  })
})
