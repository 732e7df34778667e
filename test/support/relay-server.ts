// A standalone Nostr relay for tests: @nostr-relay/core (event validation incl. signatures,
// duplicates, replaceable kinds) with an in-memory store, behind a `ws` server on 127.0.0.1.
//
//   node --import tsx test/support/relay-server.ts --port 0
//
// Prints one line `RELAY_READY ws://127.0.0.1:<port>` on stdout when listening; logs go to stderr.
// Exits on SIGTERM/SIGINT, and when the parent that spawned it with an IPC channel goes away.
//
// Subscriptions (REQ/CLOSE/EOSE and live fan-out) are handled here rather than by the core: the core
// 0.0.40 ignores tag filters (#e, #p, ...) when matching live events, caches REQ results per filter
// for 1 s, and registers a subscription only after its stored-events query, so events published
// meanwhile are lost. EVENT messages go through the core.
import { NostrRelay } from "@nostr-relay/core";
import {
  EventRepository,
  EventType,
  EventUtils,
  LogLevel,
  type Event,
  type EventRepositoryUpsertResult,
  type Filter,
  type Logger,
} from "@nostr-relay/common";
import { WebSocketServer, WebSocket } from "ws";

type TagFilterKey = `#${string}`;

/** NIP-01 filter match (all conditions of one filter). */
export function matchFilter(filter: Filter, event: Event): boolean {
  if (filter.ids && !filter.ids.includes(event.id)) return false;
  if (filter.authors && !filter.authors.includes(event.pubkey)) return false;
  if (filter.kinds && !filter.kinds.includes(event.kind)) return false;
  if (filter.since !== undefined && event.created_at < filter.since) return false;
  if (filter.until !== undefined && event.created_at > filter.until) return false;
  for (const key of Object.keys(filter)) {
    if (key[0] !== "#" || key.length !== 2) continue;
    const values = filter[key as TagFilterKey & keyof Filter] as string[] | undefined;
    if (!values) continue;
    const name = key.slice(1);
    if (!event.tags.some((t) => t[0] === name && values.includes(t[1] ?? ""))) return false;
  }
  return true;
}

/** Newest first; ties broken by lowest id (NIP-01). */
function newestFirst(a: Event, b: Event): number {
  return b.created_at - a.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** In-memory EventRepository: regular, replaceable and addressable (parameterised) kinds, NIP-09 deletion. */
export class MemoryEventRepository extends EventRepository {
  private readonly events = new Map<string, Event>();
  /** "kind:pubkey:d" -> id of the current version of a replaceable/addressable event. */
  private readonly latest = new Map<string, string>();
  private readonly deleted = new Set<string>();

  /** `onDeletionStored` lets the server fan out kind-5 events, which the core never broadcasts. */
  constructor(private readonly onDeletionStored: (event: Event) => void = () => {}) {
    super();
  }

  isSearchSupported(): boolean {
    return false;
  }

  upsert(event: Event): EventRepositoryUpsertResult {
    if (this.events.has(event.id) || this.deleted.has(event.id)) return { isDuplicate: true };
    const key = this.replaceKey(event);
    if (key !== undefined) {
      const current = this.events.get(this.latest.get(key) ?? "");
      if (current && newestFirst(current, event) <= 0) return { isDuplicate: true };
      if (current) this.events.delete(current.id);
      this.latest.set(key, event.id);
    }
    this.events.set(event.id, event);
    return { isDuplicate: false };
  }

  find(filter: Filter): Event[] {
    const candidates = filter.ids
      ? filter.ids.flatMap((id) => this.events.get(id) ?? [])
      : [...this.events.values()];
    const found = candidates.filter((e) => matchFilter(filter, e)).sort(newestFirst);
    return filter.limit === undefined ? found : found.slice(0, filter.limit);
  }

  override async deleteByDeletionRequest(request: Event): Promise<void> {
    for (const [name, value] of request.tags) {
      if (name === "e") {
        const target = this.events.get(value ?? "");
        if (target && target.pubkey === request.pubkey) this.remove(target);
      } else if (name === "a") {
        const [kind, pubkey, ...d] = (value ?? "").split(":");
        if (pubkey !== request.pubkey) continue;
        const target = this.events.get(this.latest.get(`${kind}:${pubkey}:${d.join(":")}`) ?? "");
        if (target && target.created_at <= request.created_at) this.remove(target);
      }
    }
    // The deletion request itself is stored and delivered like any other event.
    if (!this.events.has(request.id)) {
      this.events.set(request.id, request);
      this.onDeletionStored(request);
    }
  }

  async destroy(): Promise<void> {
    this.events.clear();
    this.latest.clear();
  }

  private remove(event: Event): void {
    this.events.delete(event.id);
    this.deleted.add(event.id);
  }

  private replaceKey(event: Event): string | undefined {
    const type = EventUtils.getType(event.kind);
    if (type !== EventType.REPLACEABLE && type !== EventType.PARAMETERIZED_REPLACEABLE) return undefined;
    return `${event.kind}:${event.pubkey}:${EventUtils.extractDTagValue(event) ?? ""}`;
  }
}

const stderrLogger: Logger = {
  setLogLevel: () => {},
  debug: () => {},
  info: () => {},
  warn: (message, ...args) => console.error("[relay] warn:", message, ...args),
  error: (message, ...args) => console.error("[relay] error:", message, ...args),
};

interface Subscription {
  filters: Filter[];
  /** Live events held back until the stored-events query has been answered with EOSE. */
  pending?: Event[];
}

function isEventShape(e: unknown): e is Event {
  if (typeof e !== "object" || e === null) return false;
  const ev = e as Record<string, unknown>;
  return (
    typeof ev.id === "string" &&
    typeof ev.pubkey === "string" &&
    typeof ev.sig === "string" &&
    typeof ev.content === "string" &&
    Number.isInteger(ev.created_at) &&
    Number.isInteger(ev.kind) &&
    Array.isArray(ev.tags) &&
    ev.tags.every((t) => Array.isArray(t) && t.every((v) => typeof v === "string"))
  );
}

export interface RelayServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts the relay in this process. */
export async function runRelayServer(port: number): Promise<RelayServer> {
  const clients = new Map<WebSocket, Map<string, Subscription>>();

  const send = (ws: WebSocket, message: unknown[]) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  };

  const fanOut = (event: Event) => {
    for (const [ws, subs] of clients) {
      for (const [subId, sub] of subs) {
        if (!sub.filters.some((f) => matchFilter(f, event))) continue;
        if (sub.pending) sub.pending.push(event);
        else send(ws, ["EVENT", subId, event]);
      }
    }
  };

  const relay = new NostrRelay(new MemoryEventRepository(fanOut), {
    logger: stderrLogger,
    logLevel: LogLevel.WARN,
    filterResultCacheTtl: 0,
    eventHandlingResultCacheTtl: 0,
  });
  relay.register({ broadcast: async (event: Event) => fanOut(event) });

  const handleReq = async (ws: WebSocket, subs: Map<string, Subscription>, subId: string, filters: Filter[]) => {
    const sub: Subscription = { filters, pending: [] };
    subs.set(subId, sub);
    const sent = new Set<string>();
    try {
      await relay.findEvents(filters, undefined, (event) => {
        sent.add(event.id);
        send(ws, ["EVENT", subId, event]);
      });
    } catch (error) {
      if (subs.get(subId) === sub) subs.delete(subId);
      send(ws, ["CLOSED", subId, `error: ${(error as Error).message}`]);
      return;
    }
    if (subs.get(subId) !== sub) return; // closed or replaced meanwhile
    send(ws, ["EOSE", subId]);
    const pending = sub.pending ?? [];
    sub.pending = undefined;
    for (const event of pending) if (!sent.has(event.id)) send(ws, ["EVENT", subId, event]);
  };

  const handleMessage = async (ws: WebSocket, subs: Map<string, Subscription>, raw: string) => {
    let message: unknown;
    try {
      message = JSON.parse(raw);
    } catch {
      return send(ws, ["NOTICE", "invalid: message is not JSON"]);
    }
    if (!Array.isArray(message) || typeof message[0] !== "string") {
      return send(ws, ["NOTICE", "invalid: message is not a JSON array"]);
    }
    const [type, ...args] = message as [string, ...unknown[]];
    switch (type) {
      case "EVENT": {
        const event = args[0];
        if (!isEventShape(event)) {
          const id = typeof (event as { id?: unknown })?.id === "string" ? (event as Event).id : "";
          return send(ws, ["OK", id, false, "invalid: malformed event"]);
        }
        await relay.handleMessage(ws, ["EVENT", event]); // the core replies with OK
        return;
      }
      case "REQ": {
        const [subId, ...filters] = args;
        if (typeof subId !== "string" || !filters.every((f) => typeof f === "object" && f !== null && !Array.isArray(f))) {
          return send(ws, ["NOTICE", "invalid: malformed REQ"]);
        }
        return handleReq(ws, subs, subId, filters as Filter[]);
      }
      case "CLOSE":
        if (typeof args[0] === "string") subs.delete(args[0]);
        return;
      case "AUTH":
        if (isEventShape(args[0])) await relay.handleMessage(ws, ["AUTH", args[0]]);
        return;
      default:
        return send(ws, ["NOTICE", `invalid: unknown message type ${type}`]);
    }
  };

  const wss = new WebSocketServer({ host: "127.0.0.1", port });
  await new Promise<void>((resolve, reject) => {
    wss.once("listening", resolve);
    wss.once("error", reject);
  });

  wss.on("connection", (ws, req) => {
    const subs = new Map<string, Subscription>();
    clients.set(ws, subs);
    relay.handleConnection(ws, req.socket.remoteAddress);
    // Messages of one connection are handled in order, as a client would expect.
    let queue = Promise.resolve();
    ws.on("message", (data) => {
      const raw = data.toString();
      queue = queue.then(() => handleMessage(ws, subs, raw)).catch((error) => stderrLogger.error(String(error)));
    });
    ws.on("close", () => {
      clients.delete(ws);
      relay.handleDisconnect(ws);
    });
    ws.on("error", () => {});
  });

  const actualPort = (wss.address() as { port: number }).port;
  return {
    url: `ws://127.0.0.1:${actualPort}`,
    port: actualPort,
    close: async () => {
      const closed = [...clients.keys()].map(
        (ws) => new Promise<void>((resolve) => {
          ws.once("close", () => resolve());
          ws.close(1001, "relay shutting down");
        }),
      );
      // Don't wait long for clients that don't answer the closing handshake.
      await Promise.race([Promise.all(closed), new Promise((r) => setTimeout(r, 1000))]);
      for (const ws of clients.keys()) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await relay.destroy();
    },
  };
}

function parsePort(argv: string[]): number {
  const i = argv.findIndex((a) => a === "--port" || a.startsWith("--port="));
  if (i < 0) return 0;
  const arg = argv[i] ?? "";
  const value = arg.includes("=") ? arg.split("=")[1] : argv[i + 1];
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad --port ${value}`);
  return port;
}

async function main(): Promise<void> {
  const server = await runRelayServer(parsePort(process.argv.slice(2)));
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await server.close().catch(() => {});
    process.exit(0);
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  if (process.send) process.on("disconnect", shutdown); // parent died or let go of us
  process.stdout.write(`RELAY_READY ${server.url}\n`);
}

// Run only when executed directly, so the module can also be imported (e.g. for matchFilter).
const entry = process.argv[1] ?? "";
if (/relay-server\.[cm]?[tj]s$/.test(entry)) {
  main().catch((error) => {
    console.error("[relay] failed to start:", error);
    process.exit(1);
  });
}
