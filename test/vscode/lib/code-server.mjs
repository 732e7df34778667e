// A throwaway code-server profile (user data, extensions, workspace) and the server itself.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { onCleanup, sleep, spawnInGroup, stopGroup } from "./cleanup.mjs";
import { node24Env, tools } from "./tools.mjs";

// Deterministic workbench: no Restricted Mode, Welcome tab, Chat panel or update checks.
const SETTINGS = {
  "workbench.startupEditor": "none",
  "chat.disableAIFeatures": true,
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "security.workspace.trust.enabled": false,
  "workbench.tips.enabled": false,
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "extensions.autoUpdate": false,
  "extensions.autoCheckUpdates": false,
  "git.enabled": false,
  "window.restoreWindows": "none",
};

// userSettings (from the fixtures) are merged over SETTINGS into the profile's settings.json.
export function createProfile(runDir, userSettings = {}) {
  const profile = {
    runDir,
    userDataDir: path.join(runDir, "user-data"),
    extensionsDir: path.join(runDir, "extensions"),
    workspace: path.join(runDir, "workspace"),
    config: path.join(runDir, "config.yaml"),
    logFile: path.join(runDir, "code-server.log"),
  };
  fs.mkdirSync(path.join(profile.userDataDir, "User"), { recursive: true });
  fs.mkdirSync(profile.extensionsDir, { recursive: true });
  fs.mkdirSync(profile.workspace, { recursive: true });
  fs.writeFileSync(path.join(profile.userDataDir, "User/settings.json"), JSON.stringify({ ...SETTINGS, ...userSettings }, null, 2));
  fs.writeFileSync(profile.config, "auth: none\ncert: false\n");
  return profile;
}

export function installVsix(profile, vsix) {
  const result = spawnSync(
    tools.node24,
    [
      tools.codeServerEntry,
      "--user-data-dir", profile.userDataDir,
      "--extensions-dir", profile.extensionsDir,
      "--install-extension", vsix,
      "--force",
    ],
    { env: codeServerEnv(), encoding: "utf8", timeout: 120_000 },
  );
  if (result.status !== 0) {
    throw new Error(`installing ${vsix} failed (exit ${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`);
  }
}

// Returns { url, stop() }; stop() is also run by the harness's cleanup.
export async function startCodeServer(profile, { smokeDriver, env = {} }) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log = fs.openSync(profile.logFile, "a");
  const child = spawnInGroup(
    tools.node24,
    [
      tools.codeServerEntry,
      "--auth", "none",
      "--bind-addr", `127.0.0.1:${port}`,
      "--config", profile.config,
      "--user-data-dir", profile.userDataDir,
      "--extensions-dir", profile.extensionsDir,
      "--disable-telemetry",
      "--disable-update-check",
      "--disable-workspace-trust",
      "--disable-getting-started-override",
      "--ignore-last-opened",
      ...(smokeDriver ? ["--vscode-option", "enable-smoke-test-driver"] : []),
      profile.workspace,
    ],
    { env: codeServerEnv(env), stdio: ["ignore", log, log] },
  );
  fs.closeSync(log);
  const stop = onCleanup(() => stopGroup(child.pid));
  try {
    await waitHealthy(url, child, 60_000);
  } catch (err) {
    await stop();
    throw new Error(`${err.message}\n--- ${profile.logFile} ---\n${tail(profile.logFile)}`);
  }
  return { url, port, stop };
}

export function tail(file, lines = 40) {
  try {
    return fs.readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

function codeServerEnv(extra = {}) {
  const env = { ...process.env };
  // code-server reads these: PORT would override --bind-addr, VSCODE_IPC_HOOK_CLI (set inside a
  // VS Code terminal) would hand the folder to that VS Code instead of starting a server.
  for (const key of Object.keys(env)) {
    if (/^(VSCODE_|CODE_SERVER_|CS_)/.test(key)) delete env[key];
  }
  for (const key of ["PORT", "PASSWORD", "HASHED_PASSWORD", "GITHUB_TOKEN"]) delete env[key];
  return { ...node24Env(env), EXTENSIONS_GALLERY: "{}", ...extra };
}

async function waitHealthy(url, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`code-server exited early (${child.exitCode ?? child.signalCode})`);
    }
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`code-server not healthy at ${url} after ${timeoutMs / 1000} s`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
