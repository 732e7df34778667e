// A process with the headless host's guards installed, for test/unit/processGuards.test.ts: it throws
// from a timer and rejects a promise with no handler (each message carrying a secret, an escape
// sequence and a line break), then says it is still alive and exits 0 on its own.
import { installProcessGuards } from "../../src/headless/processGuards"

const SECRET = process.env.GUARDED_SECRET ?? "unset"
installProcessGuards((line) => process.stderr.write(line + "\n"), () => [SECRET])

setTimeout(() => {
  throw new Error(`callback failed for ${SECRET}\n\u001b[31mFAKE LOG LINE`)
}, 10)
setTimeout(() => {
  void Promise.reject(new Error(`relay said no to nostr+walletconnect://abc?relay=x&secret=${SECRET}`))
}, 20)
setTimeout(() => {
  void Promise.reject({ event: { content: "a customer's prompt" } })
}, 30)
setTimeout(() => {
  process.stdout.write("still serving\n")
  process.exit(0)
}, 200)
