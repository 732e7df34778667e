// Fetching a job's event and job inputs (jobInputs.ts) from a real relay process and from a relay
// that answers slowly, never, or with too much: found, verified, bounded by the deadline and sizes.
import assert from "node:assert/strict"
import { Effect, Exit } from "effect"
import { finalizeEvent, generateSecretKey } from "nostr-tools/pure"
import { parseJobRequest, type JobRequest } from "../../src/dvm/protocol/jobRequest"
import type { NostrEvent } from "../../src/dvm/protocol/nostrEvent"
import { InputUnavailable, withFetchedInputs } from "../../src/dvm/services/jobInputs"
import { Customer } from "../support/customer"
import { type HostileRelay, startHostileRelay } from "../support/hostileRelay"
import { type RelayProcess, startRelay } from "../support/relay"

const provider = generateSecretKey()
const author = generateSecretKey()
const now = () => Math.floor(Date.now() / 1000)

const jobWith = (kind: number, tags: Array<Array<string>>): JobRequest => {
  const event = finalizeEvent({ kind, created_at: now(), tags, content: "" }, generateSecretKey()) as NostrEvent
  const parsed = parseJobRequest(event, { ourPubkey: "0".repeat(64), ourSecretKey: provider, supportedKinds: [5050, 5001, 5002] })
  if (parsed._tag !== "Job") throw new Error(`not a job: ${JSON.stringify(parsed)}`)
  return parsed.job
}

const fetchPrompt = (job: JobRequest, ourRelays: ReadonlyArray<string>, options: { maxPromptChars?: number; timeoutMs?: number } = {}) =>
  Effect.runPromiseExit(withFetchedInputs(job, { ourRelays, maxPromptChars: options.maxPromptChars ?? 16_000, timeoutMs: options.timeoutMs ?? 5000 }))

const reasonOf = (exit: Exit.Exit<unknown, InputUnavailable>): string => {
  if (Exit.isSuccess(exit)) assert.fail(`expected the fetch to fail, got ${JSON.stringify(exit.value)}`)
  const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (!failure || failure._tag !== "Fail") assert.fail(`expected an InputUnavailable, got ${String(exit.cause)}`)
  assert.ok(failure.error instanceof InputUnavailable)
  return failure.error.reason
}

const promptOf = (exit: Exit.Exit<JobRequest, InputUnavailable>): string => {
  if (Exit.isFailure(exit)) assert.fail(`expected a prompt, got ${String(exit.cause)}`)
  return exit.value.prompt
}

describe("job inputs fetched from relays", function() {
  this.timeout(30_000)
  let relay: RelayProcess
  let hostile: HostileRelay
  let customer: Customer

  before(async () => {
    ;[relay, hostile] = await Promise.all([startRelay(), startHostileRelay()])
    customer = new Customer([relay.url])
  })

  after(async () => {
    customer?.close()
    await Promise.all([relay?.stop(), hostile?.close()])
  })

  afterEach(() => {
    hostile.respond = undefined
  })

  const publishNote = async (content: string, secret = author) => {
    const note = finalizeEvent({ kind: 1, created_at: now(), tags: [], content }, secret)
    await customer.publish(note)
    return note
  }

  it("an event input becomes the note's content, in the kind's template", async () => {
    const note = await publishNote("Relays carry notes; providers answer jobs.")
    const job = jobWith(5001, [["i", note.id, "event"], ["param", "length", "1 sentence"]])
    assert.equal(job.prompt, "")
    const prompt = promptOf(await fetchPrompt(job, [relay.url]))
    assert.equal(prompt, "Summarize the following text in 1 sentence. Reply with the summary only, in the language of the text.\n\nRelays carry notes; providers answer jobs.")
  })

  it("text and event inputs are joined in the order given", async () => {
    const note = await publishNote("the note")
    const prompt = promptOf(await fetchPrompt(jobWith(5050, [["i", "before", "text"], ["i", note.id, "event"], ["i", "after", "text"]]), [relay.url]))
    assert.equal(prompt, "before\n\nthe note\n\nafter")
  })

  it("a job input becomes that job's result, verified by the request it carries", async () => {
    const request = finalizeEvent({ kind: 5001, created_at: now(), tags: [["i", "x", "text"]], content: "" }, generateSecretKey())
    const other = generateSecretKey()
    // A result naming the job but carrying some other request: not taken.
    const decoy = finalizeEvent({
      kind: 6001,
      created_at: now(),
      tags: [["request", JSON.stringify({ ...request, content: "tampered" })], ["e", request.id]],
      content: "a forged summary"
    }, other)
    const result = finalizeEvent({ kind: 6001, created_at: now() - 1, tags: [["request", JSON.stringify(request)], ["e", request.id]], content: "the real summary" }, other)
    await customer.publish(decoy)
    await customer.publish(result)
    const prompt = promptOf(await fetchPrompt(jobWith(5002, [["i", request.id, "job"], ["param", "language", "de"]]), [relay.url]))
    assert.equal(prompt, "Translate the following text into German. Reply with the translation only.\n\nthe real summary")
  })

  it("a job without a verifiable result is refused, saying why", async () => {
    const request = finalizeEvent({ kind: 5050, created_at: now(), tags: [], content: "" }, generateSecretKey())
    await customer.publish(finalizeEvent({
      kind: 6050,
      created_at: now(),
      tags: [["request", JSON.stringify(request)], ["e", request.id], ["encrypted"]],
      content: "ciphertext"
    }, generateSecretKey()))
    const reason = reasonOf(await fetchPrompt(jobWith(5050, [["i", request.id, "job"]]), [relay.url]))
    assert.match(reason, new RegExp(`^the job input ${request.id.slice(0, 12)}… has no result we could verify on ${relay.url}`))
    assert.match(reason, /encrypted to its customer/)
  })

  it("a note that is nowhere is refused, naming the relays asked", async () => {
    const reason = reasonOf(await fetchPrompt(jobWith(5050, [["i", "e".repeat(64), "event"]]), [relay.url]))
    assert.equal(reason, `the event input ${"e".repeat(12)}… was not found on ${relay.url}`)
  })

  it("a note longer than the prompt limit is refused with both sizes", async () => {
    const note = await publishNote("y".repeat(5000))
    const reason = reasonOf(await fetchPrompt(jobWith(5050, [["i", note.id, "event"]]), [relay.url], { maxPromptChars: 4000 }))
    assert.match(reason, /is too long \(5000 characters, limit 4000\)/)
  })

  it("inputs within the limit each but over it together are refused", async () => {
    const note = await publishNote("z".repeat(3000))
    const reason = reasonOf(await fetchPrompt(jobWith(5050, [["i", note.id, "event"], ["i", "w".repeat(1500), "text"]]), [relay.url], { maxPromptChars: 4000 }))
    assert.match(reason, /the inputs together are too long \(4502 characters, limit 4000\)/)
  })

  it("a relay that never answers costs the deadline, not more; the note found elsewhere is still used", async () => {
    const silentNotes: Array<string> = []
    hostile.respond = (frame) => {
      if (Array.isArray(frame) && frame[0] === "REQ") silentNotes.push(String(frame[1]))
    }
    const note = await publishNote("found on the good relay")
    // Found on the good relay: the silent one is not waited for.
    assert.equal(promptOf(await fetchPrompt(jobWith(5050, [["i", note.id, "event"]]), [hostile.url, relay.url], { timeoutMs: 60_000 })), "found on the good relay")
    // Found nowhere: the silent relay is given up on at the deadline, and said so.
    const reason = reasonOf(await fetchPrompt(jobWith(5050, [["i", "d".repeat(64), "event"]]), [hostile.url, relay.url], { timeoutMs: 1500 }))
    assert.match(reason, new RegExp(`${hostile.url}: no answer within 1.5 s`))
    assert.ok(silentNotes.length >= 1, "the silent relay was asked (the first fetch may end before its REQ arrives)")
  })

  it("a relay sending a frame over 1 MiB is cut off and named; a forged event is not taken", async () => {
    const id = "f".repeat(64)
    hostile.respond = (frame, reply) => {
      if (!Array.isArray(frame) || frame[0] !== "REQ") return
      // A forged event claiming the id (bad signature), then a frame too large to read.
      reply(JSON.stringify(["EVENT", frame[1], { id, pubkey: "a".repeat(64), created_at: now(), kind: 1, tags: [], content: "forged", sig: "b".repeat(128) }]))
      reply(JSON.stringify(["EVENT", frame[1], { content: "x".repeat(1024 * 1024 + 10) }]))
    }
    const reason = reasonOf(await fetchPrompt(jobWith(5050, [["i", id, "event"]]), [hostile.url]))
    assert.match(reason, new RegExp(`${hostile.url}: sent a frame over 1048576 bytes`))
  })

  it("a relay hint is asked only when it is a public wss:// relay: a local one is skipped", async () => {
    const elsewhere = await startRelay()
    try {
      const onlyThere = new Customer([elsewhere.url])
      const note = finalizeEvent({ kind: 1, created_at: now(), tags: [], content: "only on the hint relay" }, author)
      await onlyThere.publish(note)
      onlyThere.close()
      const reason = reasonOf(await fetchPrompt(jobWith(5050, [["i", note.id, "event", elsewhere.url]]), [relay.url]))
      assert.equal(reason, `the event input ${note.id.slice(0, 12)}… was not found on ${relay.url}`)
    } finally {
      await elsewhere.stop()
    }
  })
})
