/**
 * A flood of job requests from as many fresh keys: what one stranger with a key generator can send.
 * Published over one plain WebSocket to the relay, each waited for until the relay's OK.
 */
import WebSocket from "ws"
import { type Event, finalizeEvent, generateSecretKey } from "nostr-tools/pure"

export const floodJobs = async (relayUrl: string, count: number, options: { readonly tags?: Array<Array<string>> } = {}): Promise<Array<Event>> => {
  const now = Math.floor(Date.now() / 1000)
  const events = Array.from({ length: count }, (_, i) =>
    finalizeEvent({ kind: 5050, created_at: now, tags: [["i", `flood ${i}`, "text"], ...(options.tags ?? [])], content: "" }, generateSecretKey()))
  const socket = new WebSocket(relayUrl)
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve())
    socket.once("error", reject)
  })
  const pending = new Set(events.map((e) => e.id))
  const acknowledged = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the relay acknowledged ${count - pending.size} of ${count} flood events`)), 60_000)
    socket.on("message", (data) => {
      const message = JSON.parse(String(data)) as Array<unknown>
      if (message[0] === "OK") pending.delete(message[1] as string)
      if (pending.size === 0) {
        clearTimeout(timer)
        resolve()
      }
    })
  })
  for (const event of events) socket.send(JSON.stringify(["EVENT", event]))
  try {
    await acknowledged
  } finally {
    socket.close()
  }
  return events
}
