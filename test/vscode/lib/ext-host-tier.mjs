// Extension-host tier: mocha runs inside VS Code's real extension host, loaded through the
// smoke-test driver's payload (extensionDevelopmentPath + extensionTestsPath).
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { launchBrowser } from "./browser.mjs";
import { createProfile, startCodeServer, tail } from "./code-server.mjs";
import { REPO } from "./tools.mjs";

const MOCHA_RUNNER = path.join(import.meta.dirname, "mocha-runner.mjs");
const MOCHA_START_MARKER = "ext-host: running"; // printed by mocha-runner.mjs
// The workbench's own log lines that keep coming while tests run.
const HOST_NOISE = /^(Ignoring fetching|Updating) additional builtin extensions/;

// Bundles every <extDir>/test/vscode/suite/**/*.test.ts into <extDir>/out/test/vscode/suite/ and
// returns the path of its index.js (null when there are no tests). The entry is generated: the
// mocha runner first (it defines describe/it and exports run()), then the test files.
export async function bundleSuite(extDir) {
  const suiteDir = path.join(extDir, "test/vscode/suite");
  const outDir = path.join(extDir, "out/test/vscode/suite");
  const files = listFiles(suiteDir, ".test.ts");
  if (files.length === 0) return null;
  const entry = [
    `export { run } from ${JSON.stringify(MOCHA_RUNNER)};`,
    ...files.map((file) => `import ${JSON.stringify(file)};`),
  ].join("\n");
  const esbuild = createRequire(path.join(REPO, "package.json"))("esbuild");
  await esbuild.build({
    stdin: { contents: entry, resolveDir: suiteDir, sourcefile: "index.ts", loader: "ts" },
    outfile: path.join(outDir, "suite.js"),
    sourcemap: "inline",
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node22",
    external: ["vscode"],
    nodePaths: [path.join(REPO, "node_modules")],
    logLevel: "warning",
    // mocha's parallel mode (unused here) resolves worker files at run time.
    logOverride: { "require-resolve-not-external": "silent" },
  });
  // Source maps must be on before the bundle loads, so stack traces name the .ts test files.
  const index = path.join(outDir, "index.js");
  fs.writeFileSync(index, 'process.setSourceMapsEnabled(true);\nmodule.exports = require("./suite.js");\n');
  return index;
}

export function listFiles(dir, suffix) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true })
    .filter((file) => file.endsWith(suffix) && !file.split(path.sep).includes("node_modules"))
    .sort()
    .map((file) => path.join(dir, file));
}

// Adds the suite's results to counts ({ passed, failed }).
export async function runExtHostTier({ extDir, suiteBundle, runDir, env, userSettings, counts }) {
  const profile = createProfile(runDir, userSettings);
  const resultFile = path.join(runDir, "mocha-result.json");
  const server = await startCodeServer(profile, {
    smokeDriver: true,
    env: { ...env, SELL_COMPUTE_MOCHA_RESULT: resultFile },
  });
  const { browser, close } = await launchBrowser();
  try {
    // The clipboard is the browser's in code-server: tests read what a command copied.
    const context = await browser.newContext({ permissions: ["clipboard-read", "clipboard-write"] });
    const page = await context.newPage();
    let onExit;
    const exited = new Promise((resolve) => (onExit = resolve));
    const hostLog = makeHostLog(path.join(runDir, "host.log"));
    await page.exposeFunction("codeAutomationLog", (type, args) => hostLog.write(type, args));
    await page.exposeFunction("codeAutomationExit", (code) => onExit(code));
    page.on("crash", () => onExit("page crashed"));

    const remote = (file) => `vscode-remote://127.0.0.1:${server.port}${file}`;
    const payload = [
      ["extensionDevelopmentPath", remote(extDir)],
      ["extensionTestsPath", remote(suiteBundle)],
      ["skipWelcome", "true"],
    ];
    await page.goto(
      `${server.url}/?folder=${encodeURIComponent(profile.workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`,
    );
    const exitCode = await exited;
    if (!hostLog.started) {
      // The suite did not load: show why (VS Code's "Canceled" errors are shutdown noise).
      const errors = hostLog.errors.filter((text) => !text.startsWith("Canceled"));
      for (const text of errors) console.log(text.split("\n").slice(0, 15).join("\n"));
      if (errors.length === 0) console.log(`--- ${profile.logFile} ---\n${tail(profile.logFile)}`);
    }
    const { passed, failed } = countResults(resultFile, exitCode);
    counts.passed += passed;
    counts.failed += failed;
  } finally {
    await close();
    await server.stop();
  }
}

function countResults(resultFile, exitCode) {
  if (!fs.existsSync(resultFile)) {
    console.log(`  ✗ extension-host suite did not run (exit ${exitCode})`);
    return { passed: 0, failed: 1 };
  }
  const { passed, failed } = JSON.parse(fs.readFileSync(resultFile, "utf8"));
  if (exitCode !== 0 && failed === 0) {
    console.log(`  ✗ extension host exited with ${exitCode} although no test failed`);
    return { passed, failed: 1 };
  }
  return { passed, failed };
}

// Everything the page logs goes to host.log; once mocha starts it is echoed to stdout too, so
// the workbench's startup chatter stays out of the report but test output doesn't.
function makeHostLog(file) {
  const log = {
    started: false,
    errors: [],
    write(type, args) {
      const text = (Array.isArray(args) ? args : [args])
        .map((arg) => (typeof arg === "string" ? arg : JSON.stringify(arg)))
        .join(" ");
      fs.appendFileSync(file, `[${type}] ${text}\n`);
      if (type === "error") log.errors.push(text);
      if (text.startsWith(MOCHA_START_MARKER)) log.started = true;
      if (log.started && !HOST_NOISE.test(text)) (type === "error" ? console.error : console.log)(text);
    },
  };
  return log;
}
