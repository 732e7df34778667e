/**
 * A relay that says whatever a test tells it to: a bare `ws` server on 127.0.0.1 that records every
 * frame a client sends and sends any frame (CLOSED, AUTH, garbage, forged events, binary, huge) back.
 * It stores nothing and answers nothing unless a test's `respond` hook does.
 */
import type { AddressInfo } from "node:net"
import WebSocket, { WebSocketServer } from "ws"

export interface ReceivedFrame {
  /** Which connection (1 for the first) sent it. */
  readonly connection: number
  /** The frame parsed as JSON, or the raw text when it is not JSON. */
  readonly frame: unknown
}

export interface HostileRelay {
  /** ws://127.0.0.1:<port> */
  readonly url: string
  readonly port: number
  readonly received: Array<ReceivedFrame>
  /** Connections accepted so far. */
  readonly connections: () => number
  /** Close codes of connections that ended, in order. */
  readonly closeCodes: Array<number>
  /** Called for each frame a client sends; `reply` answers on that connection. */
  respond: ((frame: unknown, reply: (raw: string | Buffer) => void) => void) | undefined
  /** Sends a frame as is to every open connection. */
  send: (raw: string | Buffer) => void
  /** Sends `JSON.stringify(value)` to every open connection. */
  sendJson: (value: unknown) => void
  /** The REQs received, oldest first: subscription id and filters. */
  readonly reqs: () => Array<{ readonly id: string; readonly filters: Array<Record<string, unknown>> }>
  readonly close: () => Promise<void>
}

export const startHostileRelay = async (): Promise<HostileRelay> => {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: 64 * 1024 * 1024 })
  await new Promise<void>((resolve) => server.once("listening", () => resolve()))
  const port = (server.address() as AddressInfo).port
  const received: Array<ReceivedFrame> = []
  const closeCodes: Array<number> = []
  const open = new Set<WebSocket>()
  let accepted = 0

  const relay: HostileRelay = {
    url: `ws://127.0.0.1:${port}`,
    port,
    received,
    connections: () => accepted,
    closeCodes,
    respond: undefined,
    send: (raw) => {
      for (const socket of open) if (socket.readyState === WebSocket.OPEN) socket.send(raw)
    },
    sendJson: (value) => relay.send(JSON.stringify(value)),
    reqs: () =>
      received
        .map((r) => r.frame)
        .filter((f): f is [string, string, ...Array<Record<string, unknown>>] => Array.isArray(f) && f[0] === "REQ")
        .map(([, id, ...filters]) => ({ id, filters })),
    close: async () => {
      for (const socket of open) socket.terminate()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }

  server.on("connection", (socket) => {
    const connection = ++accepted
    open.add(socket)
    socket.on("close", (code) => {
      open.delete(socket)
      closeCodes.push(code)
    })
    socket.on("error", () => {})
    socket.on("message", (data) => {
      const text = data.toString()
      let frame: unknown = text
      try {
        frame = JSON.parse(text)
      } catch {
        // kept as text
      }
      received.push({ connection, frame })
      relay.respond?.(frame, (raw) => socket.send(raw))
    })
  })
  return relay
}
