// A child process sharing a data dir with a test: it opens the JobStore of argv[2] (rotating past
// argv[3] bytes) and, for each line of JSON from stdin (an array of updates), records them in order
// and answers "done"; for "earnings" it answers the store's earnings as JSON.
import * as readline from "node:readline"
import { Effect, Layer, Logger, ManagedRuntime } from "effect"
import { JobStore, type JobUpdate } from "../../src/dvm/services/JobStore"

// Logs go to stderr: stdout carries the answers only.
const logger = Logger.make(({ message }) => void process.stderr.write(`${(Array.isArray(message) ? message : [message]).map(String).join(" ")}\n`))
const runtime = ManagedRuntime.make(
  JobStore.layer(process.argv[2] as string, { rotateBytes: Number(process.argv[3]) }).pipe(Layer.provideMerge(Logger.layer([logger])))
)

const handle = (line: string) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    if (line === "earnings") return JSON.stringify(yield* store.earnings)
    for (const update of JSON.parse(line) as Array<JobUpdate>) yield* store.record(update)
    return "done"
  })

let queue = Promise.resolve()
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  queue = queue.then(() => runtime.runPromise(handle(line))).then((answer) => void process.stdout.write(answer + "\n"))
})
void runtime.runPromise(Effect.void).then(() => process.stdout.write("ready\n"))
