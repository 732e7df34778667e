// What the model-server stand-ins (ollama-server.ts, openai-server.ts) share: an HTTP server on
// 127.0.0.1 that can be stopped and started again on the same port (cutting every connection), a
// count of generations in flight and of those their client abandoned, `hold()`/`release()` to keep
// streaming generations from sending tokens while a test acts, and a flood that never ends a line.
// Each stand-in speaks its own API in `handle`.
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const wordsOf = (text: string): string[] => text.split(/\s+/).filter((w) => w.length > 0);

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

export async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const part of req) text += part;
  if (!text) return {};
  const value: unknown = JSON.parse(text);
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
}

export abstract class ModelServerStandIn {
  /** Generations whose client went away before the response was complete. */
  aborted = 0;
  /** Generations being answered (or hanging) now. */
  inFlight = 0;

  private server?: http.Server;
  private readonly sockets = new Set<Socket>();
  private closing = false;
  private _port: number;
  private gate?: { readonly opened: Promise<void>; readonly open: () => void };

  constructor(port = 0) {
    this._port = port;
  }

  /** Answers one request in the stand-in's API. */
  protected abstract handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
  /** The API's error body for a request the stand-in itself could not handle. */
  protected abstract failureBody(message: string): unknown;

  /**
   * Streaming generations (running and new) send no token until `release()`: the job is certainly
   * still running while the test acts. Headers go out as usual, so the client can still abort.
   */
  hold(): void {
    if (this.gate) return;
    let open = () => {};
    const opened = new Promise<void>((resolve) => (open = resolve));
    this.gate = { opened, open };
  }

  /** Lets held generations go on. */
  release(): void {
    const gate = this.gate;
    this.gate = undefined;
    gate?.open();
  }

  get held(): boolean {
    return this.gate !== undefined;
  }

  get port(): number {
    return this._port;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /** Listens (again) on the same port as before, or a free one the first time when port was 0. */
  async start(): Promise<void> {
    if (this.server) return;
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((error) => {
        if (!res.headersSent) sendJson(res, error instanceof SyntaxError ? 400 : 500, this.failureBody(String(error)));
        else res.destroy();
      });
    });
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this._port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    this._port = (server.address() as AddressInfo).port;
    this.server = server;
    this.closing = false;
  }

  /** Stops listening and drops every connection (hanging requests included): the server is now unreachable. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.closing = true; // connections we cut don't count as client aborts
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** Same as stop(); for use in after() hooks. */
  close(): Promise<void> {
    return this.stop();
  }

  /**
   * Counts a generation in flight until its response closes; closed before `finish()` (and not by
   * stop()), its client abandoned it. `gone()`: the response can no longer be written.
   */
  protected track(res: http.ServerResponse): { readonly finish: () => void; readonly gone: () => boolean } {
    this.inFlight++;
    let finished = false;
    res.once("close", () => {
      this.inFlight--;
      if (!finished && !this.closing) this.aborted++;
    });
    return {
      finish: () => void (finished = true),
      gone: () => res.destroyed || res.writableEnded,
    };
  }

  /** Waits while held, or until the client has gone. */
  protected async whileHeld(gone: () => boolean): Promise<void> {
    while (this.gate && !gone()) await Promise.race([this.gate.opened, sleep(50)]);
  }

  /** Writes `block` again and again, a line that never ends, until the client goes away. */
  protected async flood(res: http.ServerResponse, block: string): Promise<void> {
    const closed = new Promise((resolve) => res.once("close", resolve));
    while (!res.destroyed && !res.writableEnded) {
      if (!res.write(block)) await Promise.race([new Promise((resolve) => res.once("drain", resolve)), closed]);
    }
  }
}
