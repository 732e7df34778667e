// Fixtures for both VS Code tiers: real processes the extension talks to over the network.
// - three real Nostr relays (test/support/relay-server.ts): one for the UI tier, two for the
//   extension-host tier (the second is added to the settings while online), so the tiers' jobs
//   never meet;
// - the Ollama stand-in (test/vscode/fixtures/ollama.ts), with a control URL to take it down;
// - the OpenAI API stand-in (test/vscode/fixtures/openai.ts), asking for an API key;
// - a closed port, for "Ollama is not running".
// The env reaches code-server (so the extension host) and UI tests' ctx.env; userSettings go into
// both tiers' settings.json before code-server starts.
import { spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const READY_TIMEOUT_MS = 30_000;
export const TEST_MODEL = "llama3.2:1b";

export async function setup() {
  const children = [];
  const start = async (script, args, pattern) => {
    const { child, match } = await startChild(script, args, pattern);
    children.push(child);
    return match;
  };
  try {
    const relayScript = "test/support/relay-server.ts";
    const relayReady = /^RELAY_READY (ws:\/\/\S+)$/m;
    const [[, uiRelay], [, relayA], [, relayB], [, ollama, ollamaControl], [, openAi, openAiKey]] = await Promise.all([
      start(relayScript, ["--port", "0"], relayReady),
      start(relayScript, ["--port", "0"], relayReady),
      start(relayScript, ["--port", "0"], relayReady),
      start("test/vscode/fixtures/ollama.ts", [], /^OLLAMA_READY (\S+) (\S+)$/m),
      start("test/vscode/fixtures/openai.ts", [], /^OPENAI_READY (\S+) (\S+)$/m),
    ]);
    const deadOllama = `http://127.0.0.1:${await closedPort()}`;
    const env = {
      SELL_COMPUTE_TEST_RELAY: uiRelay,
      SELL_COMPUTE_TEST_RELAY_A: relayA,
      SELL_COMPUTE_TEST_RELAY_B: relayB,
      SELL_COMPUTE_TEST_OLLAMA: ollama,
      SELL_COMPUTE_TEST_OLLAMA_CONTROL: ollamaControl,
      SELL_COMPUTE_TEST_OLLAMA_DOWN: deadOllama,
      SELL_COMPUTE_TEST_MODEL: TEST_MODEL,
      SELL_COMPUTE_TEST_OPENAI: openAi,
      SELL_COMPUTE_TEST_OPENAI_API_KEY: openAiKey,
    };
    const userSettings = {
      "sellCompute.relays": [uiRelay],
      "sellCompute.ollama.host": ollama,
      "sellCompute.payment.mode": "free",
    };
    return { env, userSettings, teardown: () => Promise.all(children.map(stopChild)) };
  } catch (err) {
    await Promise.all(children.map(stopChild));
    throw err;
  }
}

// Runs `node --import tsx <script>` from the repo and resolves with the first stdout match of
// pattern. The IPC channel makes the child exit if this process dies without stopping it.
function startChild(script, args, pattern) {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${script} was not ready within ${READY_TIMEOUT_MS / 1000} s`));
    }, READY_TIMEOUT_MS);
    const onExit = (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited before it was ready (${code ?? signal})`));
    };
    child.once("exit", onExit);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      output += chunk;
      const match = pattern.exec(output);
      if (!match) return;
      clearTimeout(timer);
      child.off("exit", onExit);
      child.stdout.removeAllListeners("data");
      child.stdout.resume();
      resolve({ child, match });
    });
  });
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
}

// A port nothing listens on: bound once to get it, then closed.
function closedPort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
