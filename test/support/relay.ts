// Starts test/support/relay-server.ts as a separate process, so tests talk to a real relay over
// WebSocket and can kill or restart it.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

// This package has no "type": "module", so tsx runs this file as CommonJS. Use __filename: when an
// ES module imports this file, tsx's wrapper sets __filename correctly but __dirname to "data:text".
const supportDir =
  typeof __filename === "string" && path.isAbsolute(__filename) ? path.dirname(__filename) : path.resolve("test/support");
const serverScript = path.join(supportDir, "relay-server.ts");
const projectRoot = path.resolve(supportDir, "../..");

const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

export interface RelayProcess {
  /** ws://127.0.0.1:<port>; stays the same across restart(). */
  readonly url: string;
  readonly port: number;
  /** SIGTERM (SIGKILL after 5 s); resolves once the process has exited. Safe to call twice. */
  stop(): Promise<void>;
  /** Sends a signal (default SIGKILL, i.e. a crash) without waiting for the exit. */
  kill(signal?: NodeJS.Signals): void;
  /**
   * Stops the relay if it is still running and starts a new process on the same port.
   * The event store is in memory, so events stored before the restart are gone.
   */
  restart(): Promise<void>;
}

interface Child {
  process: ChildProcess;
  url: string;
  exited: Promise<void>;
}

function spawnRelay(port: number): Promise<Child> {
  const child = spawn(process.execPath, ["--import", "tsx", serverScript, "--port", String(port)], {
    cwd: projectRoot,
    // The IPC channel makes the relay exit when this process dies without stopping it.
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise<Child>((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`relay did not become ready within ${READY_TIMEOUT_MS} ms`));
    }, READY_TIMEOUT_MS);
    const onExit = (code: number | null, signal: string | null) => {
      clearTimeout(timer);
      reject(new Error(`relay exited before ready (code ${code}, signal ${signal})`));
    };
    child.once("exit", onExit);
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      buffered += chunk;
      const match = /^RELAY_READY (ws:\/\/\S+)$/m.exec(buffered);
      if (!match) return;
      clearTimeout(timer);
      child.off("exit", onExit);
      child.stdout!.removeAllListeners("data");
      child.stdout!.resume(); // keep draining so the child never blocks on a full pipe
      // A relay nobody stopped must not keep the test process alive; it exits with us (IPC).
      child.unref();
      child.channel?.unref();
      (child.stdout as unknown as { unref?: () => void }).unref?.();
      resolve({ process: child, url: match[1] as string, exited });
    });
  });
}

async function stopChild(child: Child): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill("SIGTERM");
  const timer = setTimeout(() => child.process.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await child.exited;
  clearTimeout(timer);
}

export async function startRelay(opts: { port?: number } = {}): Promise<RelayProcess> {
  let child = await spawnRelay(opts.port ?? 0);
  const url = child.url;
  const port = Number(new URL(url).port);
  return {
    url,
    port,
    stop: () => stopChild(child),
    kill: (signal: NodeJS.Signals = "SIGKILL") => {
      child.process.kill(signal);
    },
    restart: async () => {
      await stopChild(child);
      // The port was just released; retry briefly in case the OS still holds it.
      for (let attempt = 1; ; attempt++) {
        try {
          child = await spawnRelay(port);
          return;
        } catch (error) {
          if (attempt >= 5) throw error;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    },
  };
}
