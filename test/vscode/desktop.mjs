// `npm run test:desktop`: the extension-host suite (test/vscode/suite/*.test.ts, the same mocha
// tests as the code-server tier) in desktop VS Code, through @vscode/test-electron's runTests. For
// contributors with the internet: VS Code is downloaded once into .vscode-test/ (or given with
// SELL_COMPUTE_VSCODE_EXECUTABLE). Offline, and in CI, the tier is `npm run test:vscode`
// (code-server, no download); see docs/vscode-offline-testing.md. On Linux it needs a display
// (run it under xvfb-run on a headless machine).
//
// Environment: SELL_COMPUTE_VSCODE_VERSION (default "stable"), SELL_COMPUTE_VSCODE_EXECUTABLE
// (a VS Code to use instead of downloading one), SELL_COMPUTE_VSCODE_GREP (only tests whose full
// name contains it).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { downloadAndUnzipVSCode, runTests } from "@vscode/test-electron";
import { createProfile } from "./lib/code-server.mjs";
import { bundleSuite } from "./lib/ext-host-tier.mjs";
import { EXT_DIR } from "./lib/tools.mjs";

const VERSION = process.env.SELL_COMPUTE_VSCODE_VERSION || "stable";
const CACHE_DIR = path.join(EXT_DIR, ".vscode-test");
// Idle time without data before a download is given up.
const DOWNLOAD_IDLE_TIMEOUT_MS = 30_000;

const runRoot = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-desktop-"));
let failed = true;
try {
  failed = await main();
} catch (err) {
  console.error(`desktop: ${err?.message ?? err}`);
} finally {
  if (failed && fs.readdirSync(runRoot).length > 0) console.log(`desktop: logs and profile kept in ${runRoot}`);
  else fs.rmSync(runRoot, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

// True when something failed.
async function main() {
  const vscodeExecutablePath = await desktopVsCode();
  const build = spawnSync("npm", ["run", "build"], { cwd: EXT_DIR, stdio: "inherit" });
  if (build.status !== 0) throw new Error(`npm run build failed (exit ${build.status ?? build.signal})`);
  const suite = await bundleSuite(EXT_DIR);
  if (!suite) throw new Error("no extension-host tests (test/vscode/suite/*.test.ts)");

  const { setup } = await import(pathToFileURL(path.join(EXT_DIR, "test/vscode/fixtures.mjs")).href);
  const { env = {}, userSettings = {}, teardown } = (await setup()) ?? {};
  const profile = createProfile(runRoot, userSettings);
  const resultFile = path.join(runRoot, "mocha-result.json");
  let exitError;
  try {
    await runTests({
      vscodeExecutablePath,
      extensionDevelopmentPath: EXT_DIR,
      extensionTestsPath: suite,
      extensionTestsEnv: { ...env, SELL_COMPUTE_MOCHA_RESULT: resultFile },
      launchArgs: [
        profile.workspace,
        "--user-data-dir", profile.userDataDir,
        "--extensions-dir", profile.extensionsDir,
        "--disable-extensions",
        "--disable-workspace-trust",
        "--skip-welcome",
        "--skip-release-notes",
      ],
    });
  } catch (err) {
    exitError = err; // a failed test ends VS Code with a non-zero code; the counts say more
  } finally {
    await teardown?.();
  }
  if (!fs.existsSync(resultFile)) {
    console.log(`desktop: the suite did not run${exitError ? ` (${exitError.message ?? exitError})` : ""}`);
    console.log("desktop: 0 passed, 1 failed");
    return true;
  }
  const { passed, failed } = JSON.parse(fs.readFileSync(resultFile, "utf8"));
  const extra = exitError && failed === 0 ? 1 : 0; // VS Code failed although no test did
  console.log(`desktop: ${passed} passed, ${failed + extra} failed`);
  return failed + extra > 0 || passed === 0;
}

// The VS Code to test in: the one given, or the cached/downloaded one. Offline, a clear error.
async function desktopVsCode() {
  const given = process.env.SELL_COMPUTE_VSCODE_EXECUTABLE;
  if (given) {
    if (!fs.existsSync(given)) throw new Error(`SELL_COMPUTE_VSCODE_EXECUTABLE=${given} does not exist`);
    return given;
  }
  try {
    return await downloadAndUnzipVSCode({ version: VERSION, cachePath: CACHE_DIR, timeout: DOWNLOAD_IDLE_TIMEOUT_MS, extensionDevelopmentPath: EXT_DIR });
  } catch (err) {
    throw new Error(
      `could not download VS Code ${VERSION} (${String(err?.message ?? err).split("\n")[0]}).\n` +
        "  npm run test:desktop needs the internet once, to download VS Code into .vscode-test/, or a\n" +
        "  local VS Code given as SELL_COMPUTE_VSCODE_EXECUTABLE=/path/to/code. Without the internet,\n" +
        "  run the same suite with `npm run test:vscode` (code-server, offline; what CI runs).",
    );
  }
}
