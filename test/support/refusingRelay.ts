/**
 * A hostile relay in front of a real one, for one client: a `ws` server on 127.0.0.1 that forwards
 * everything both ways, except what a test tells it to do instead with the client's EVENTs —
 * answer `OK false` with a reason (rate-limited, auth-required), or swallow them without an answer.
 * It can also hand the client an event of the test's own on every open subscription (a relay that
 * lies), and count what it refused.
 */
import { WebSocket, WebSocketServer } from "ws"

export type EventHandling =
  | { readonly mode: "forward" }
  | { readonly mode: "refuse"; readonly reason: string }
  | { readonly mode: "swallow" }

export interface RefusingRelay {
  /** ws://127.0.0.1:<port> of the hostile relay: point the client under test here. */
  readonly url: string
  /** What happens to the client's next EVENTs; "forward" at start. */
  events: EventHandling
  /** EVENTs answered with OK false or swallowed so far. */
  readonly refused: number
  /** Sends `event` to the client on every subscription it has open, as if the relay had it. */
  deliver(event: unknown): void
  close(): Promise<void>
}

export async function startRefusingRelay(upstreamUrl: string): Promise<RefusingRelay> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 })
  await new Promise<void>((resolve) => server.once("listening", () => resolve()))
  const clients = new Map<WebSocket, Set<string>>()
  let refused = 0

  server.on("connection", (client) => {
    const subscriptions = new Set<string>()
    clients.set(client, subscriptions)
    const upstream = new WebSocket(upstreamUrl)
    const queued: Array<string> = []
    upstream.on("open", () => {
      for (const message of queued.splice(0)) upstream.send(message)
    })
    upstream.on("message", (data) => {
      if (client.readyState === WebSocket.OPEN) client.send(data.toString())
    })
    const drop = () => {
      clients.delete(client)
      client.close()
      upstream.close()
    }
    upstream.on("close", drop).on("error", drop)
    client.on("close", drop).on("error", drop)
    client.on("message", (data) => {
      const text = data.toString()
      let message: unknown
      try {
        message = JSON.parse(text)
      } catch {
        message = undefined
      }
      if (Array.isArray(message) && message[0] === "REQ" && typeof message[1] === "string") subscriptions.add(message[1])
      if (Array.isArray(message) && message[0] === "CLOSE" && typeof message[1] === "string") subscriptions.delete(message[1])
      if (Array.isArray(message) && message[0] === "EVENT" && self.events.mode !== "forward") {
        refused++
        const id = (message[1] as { id?: unknown } | undefined)?.id
        if (self.events.mode === "refuse") client.send(JSON.stringify(["OK", id, false, self.events.reason]))
        return
      }
      if (upstream.readyState === WebSocket.OPEN) upstream.send(text)
      else queued.push(text)
    })
  })

  const address = server.address()
  if (typeof address !== "object" || address === null) throw new Error("refusing relay: no address")
  const self: RefusingRelay = {
    url: `ws://127.0.0.1:${address.port}`,
    events: { mode: "forward" },
    get refused() {
      return refused
    },
    deliver(event) {
      for (const [client, subscriptions] of clients) {
        for (const id of subscriptions) client.send(JSON.stringify(["EVENT", id, event]))
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of clients.keys()) client.terminate()
        server.close(() => resolve())
      })
  }
  return self
}
