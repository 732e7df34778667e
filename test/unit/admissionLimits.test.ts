// Admission at its edges: the minute window to the millisecond, an empty queue setting, limits
// changed live, releases of jobs admission no longer tracks.
import assert from "node:assert/strict"
import { Admission, type AdmissionLimits } from "../../src/dvm/admission"

const limits = (patch: Partial<AdmissionLimits> = {}): AdmissionLimits => ({
  maxRunning: 1,
  maxQueued: 100,
  perCustomerPerMinute: 100,
  perCustomerInFlight: 100,
  allow: [],
  deny: [],
  ...patch
})

describe("admission: the minute window", () => {
  it("counts a job for exactly 60 s: refused 55 s after with 5 s to wait, admitted 60 s after", () => {
    const a = new Admission(limits({ perCustomerPerMinute: 1 }))
    assert.equal(a.admit("alice", 10_000)._tag, "Admitted")
    a.release("alice")
    a.admit("bob", 60_000) // a call a minute after the start: the periodic sweep runs here
    const early = a.admit("alice", 65_000)
    assert.equal(early._tag, "Refused")
    if (early._tag === "Refused") assert.equal(early.retryAfterSeconds, 5)
    assert.equal(a.admit("alice", 70_000)._tag, "Admitted")
  })

  it("keeps a customer's jobs of the last minute across the periodic sweep", () => {
    const a = new Admission(limits({ perCustomerPerMinute: 1 }))
    a.admit("alice", 30_000)
    a.release("alice")
    assert.equal(a.admit("alice", 60_000)._tag, "Refused", "30 s old: still in the window")
  })

  it("forgets a customer whose last job is exactly a minute old", () => {
    const a = new Admission(limits())
    a.admit("alice", 0)
    a.release("alice")
    a.admit("bob", 60_000)
    assert.equal(a.trackedCustomers, 1)
  })

  it("sweeps forgotten customers once a minute, not on every call", () => {
    const a = new Admission(limits())
    a.admit("a", 0)
    a.release("a")
    a.admit("b", 59_999)
    a.release("b")
    a.admit("c", 60_000) // sweep: a (60 s old) goes, b stays
    a.release("c")
    assert.equal(a.trackedCustomers, 2)
    a.admit("d", 119_999) // b's minute is over, but the next sweep is due at 120 s
    assert.equal(a.trackedCustomers, 3)
    a.admit("e", 120_000)
    assert.equal(a.trackedCustomers, 2, "the sweep at 120 s: b and c gone, d (in flight) and e tracked")
  })
})

describe("admission: limits", () => {
  it("with no queue (maxQueued 0) runs jobs up to maxRunning and refuses the next", () => {
    const a = new Admission(limits({ maxRunning: 2, maxQueued: 0 }))
    assert.deepEqual(a.admit("a", 0), { _tag: "Admitted", queuePosition: 0 })
    assert.deepEqual(a.admit("b", 0), { _tag: "Admitted", queuePosition: 0 })
    const busy = a.admit("c", 0)
    assert.equal(busy._tag, "Refused")
    if (busy._tag === "Refused") assert.match(busy.reason, /^busy: 0 jobs are already waiting/)
  })

  it("keeps refusing a customer at the in-flight limit however often it asks", () => {
    const a = new Admission(limits({ perCustomerInFlight: 1 }))
    a.admit("alice", 0)
    assert.equal(a.admit("alice", 1)._tag, "Refused")
    assert.equal(a.admit("alice", 2)._tag, "Refused")
    assert.equal(a.admit("alice", 3)._tag, "Refused")
  })

  it("still counts a job in flight after its minute is over", () => {
    const a = new Admission(limits({ perCustomerInFlight: 1 }))
    a.admit("alice", 0) // a long job, still running two minutes later
    assert.equal(a.admit("bob", 120_000)._tag, "Admitted") // the sweep runs
    assert.equal(a.admit("alice", 120_001)._tag, "Refused")
  })

  it("frees one place in flight per released job", () => {
    const a = new Admission(limits({ perCustomerInFlight: 2 }))
    a.admit("alice", 0)
    a.admit("alice", 0)
    a.release("alice")
    assert.equal(a.admit("alice", 1)._tag, "Admitted")
    assert.equal(a.admit("alice", 2)._tag, "Refused", "two in flight again")
  })

  it("applies limits changed while running to the next job", () => {
    const a = new Admission(limits())
    a.admit("alice", 0)
    a.setLimits(limits({ perCustomerInFlight: 1 }))
    assert.equal(a.admit("alice", 1)._tag, "Refused")
    a.setLimits(limits({ deny: ["bob"] }))
    assert.equal(a.admit("bob", 2)._tag, "Refused")
  })

  it("releases a job of a customer it no longer tracks without failing", () => {
    const a = new Admission(limits())
    a.admit("alice", 0)
    assert.doesNotThrow(() => a.release("stranger"))
    assert.equal(a.size, 0)
  })
})
