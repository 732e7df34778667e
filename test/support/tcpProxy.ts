/**
 * A TCP proxy in front of a relay, so one client alone can lose its connection while the relay keeps
 * running (and storing events) for everyone else.
 */
import * as net from "node:net"

export interface TcpProxy {
  /** ws://127.0.0.1:<port> of the proxy; point the client that should be cut off here. */
  readonly url: string
  /** Connections refused while cut off (a client trying to reconnect). */
  readonly refused: number
  /** Destroys every live connection and refuses new ones until restore(). */
  cutOff(): void
  /** Accepts and forwards connections again. */
  restore(): void
  close(): Promise<void>
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const live = new Set<net.Socket>()
  let cut = false
  let refused = 0

  const server = net.createServer((client) => {
    if (cut) {
      refused++
      client.destroy()
      return
    }
    const upstream = net.connect(targetPort, "127.0.0.1")
    live.add(client)
    live.add(upstream)
    const drop = () => {
      client.destroy()
      upstream.destroy()
      live.delete(client)
      live.delete(upstream)
    }
    client.on("error", drop).on("close", drop)
    upstream.on("error", drop).on("close", drop)
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  const port = (server.address() as net.AddressInfo).port

  return {
    url: `ws://127.0.0.1:${port}`,
    get refused() {
      return refused
    },
    cutOff: () => {
      cut = true
      for (const socket of live) socket.destroy()
      live.clear()
    },
    restore: () => {
      cut = false
    },
    close: () => {
      for (const socket of live) socket.destroy()
      live.clear()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
