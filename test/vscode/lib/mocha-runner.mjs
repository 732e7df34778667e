// Bundled by run.mjs into out/test/vscode/suite/index.js, ahead of the suite files, and run inside
// the VS Code extension host. Importing it defines mocha's BDD globals (describe, it, ...), so the
// suite files that the bundle evaluates after it register their tests on this mocha instance.
import Mocha from "mocha";
import { writeFileSync } from "node:fs";
import { findSourceMap } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const { EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING, EVENT_RUN_END } = Mocha.Runner.constants;

// Only console output reaches the harness (through codeAutomationLog), not process.stdout.
class LineReporter {
  constructor(runner) {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    runner.on(EVENT_TEST_PASS, (test) => {
      counts.passed++;
      console.log(`  ✓ ${test.fullTitle()} (${test.duration} ms)`);
    });
    runner.on(EVENT_TEST_PENDING, (test) => {
      counts.skipped++;
      console.log(`  - ${test.fullTitle()} (skipped)`);
    });
    // Also fires for failing hooks, which count as one failure each.
    runner.on(EVENT_TEST_FAIL, (test, err) => {
      counts.failed++;
      console.log(`  ✗ ${test.fullTitle()}\n${indent(mapStack(err?.stack ?? String(err)))}`);
    });
    runner.once(EVENT_RUN_END, () => {
      console.log(`ext-host: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
      if (process.env.SELL_COMPUTE_MOCHA_RESULT) {
        writeFileSync(process.env.SELL_COMPUTE_MOCHA_RESULT, JSON.stringify(counts));
      }
    });
  }
}

const indent = (text) => text.replace(/^/gm, "      ");

// The extension host installs its own Error.prepareStackTrace, so Node does not apply the bundle's
// source map to stacks: map the frames here (run.mjs turned source maps on before loading us),
// and drop the ones inside node_modules (mocha).
function mapStack(stack) {
  const bundle = typeof __filename === "string" ? __filename : "";
  const map = bundle && findSourceMap(bundle);
  if (!map) return stack;
  const frame = new RegExp(`[^\\s(]*${path.basename(bundle).replace(".", "\\.")}:(\\d+):(\\d+)`);
  return stack
    .split("\n")
    .flatMap((line) => {
      const match = frame.exec(line);
      if (!match) return [line];
      const entry = map.findEntry(Number(match[1]) - 1, Number(match[2]) - 1);
      if (!entry?.originalSource) return [line];
      const source = entry.originalSource.startsWith("file:")
        ? fileURLToPath(entry.originalSource)
        : path.resolve(path.dirname(bundle), entry.originalSource);
      if (source.includes(`${path.sep}node_modules${path.sep}`)) return [];
      return [line.replace(match[0], `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`)];
    })
    .join("\n");
}

const mocha = new Mocha({
  ui: "bdd",
  reporter: LineReporter,
  color: false,
  timeout: Number(process.env.SELL_COMPUTE_MOCHA_TIMEOUT ?? 20_000),
  grep: process.env.SELL_COMPUTE_VSCODE_GREP || undefined,
});
mocha.suite.emit("pre-require", globalThis, "suite", mocha);

export function run() {
  console.log(`ext-host: running ${mocha.suite.total()} tests`); // the harness echoes output from here on
  return new Promise((resolve, reject) => {
    mocha.run((failures) => {
      if (failures === 0) return resolve();
      const message = `${failures} test(s) failed`;
      reject(Object.assign(new Error(message), { stack: message })); // the reporter showed the details
    });
  });
}
