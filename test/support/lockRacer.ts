// A child process for the OnlineLock race test: on each "go <round> <at>" line from stdin it waits
// for the instant `at` (ms, so all racers start together) and tries to take the lock of the data dir
// given as argv[2] (a fresh OnlineLock each round, never released); it answers "<round> won" or
// "<round> lost".
import * as readline from "node:readline"
import { Effect, Exit } from "effect"
import { OnlineLock } from "../../src/dvm/services/OnlineLock"

const dir = process.argv[2] as string

const tryAcquire = () =>
  Effect.runPromise(Effect.exit(Effect.gen(function*() {
    yield* (yield* OnlineLock).acquire
  }).pipe(Effect.provide(OnlineLock.layer(dir)))))

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const [word, round, at] = line.split(" ")
  if (word !== "go") return
  while (Date.now() < Number(at)) {
    // Busy-wait: a timer would start the racers milliseconds apart.
  }
  void tryAcquire().then((exit) => process.stdout.write(`${round} ${Exit.isSuccess(exit) ? "won" : "lost"}\n`))
})
process.stdout.write("ready\n")
