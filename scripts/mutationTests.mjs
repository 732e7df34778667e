// The test command of `npm run test:mutation` (stryker.config.json), run by Stryker in its sandbox
// once per mutant. A mutant is tested by the unit tests that import the file it is in, not by all
// of them: a run then takes about a second instead of three, and the whole run fits on one core.
// Without an active mutant (Stryker's first, unmutated run) or when the mutant's file cannot be
// found, every file in TESTS runs, so a miss only costs time, never a wrong verdict.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

// Fast, pure unit tests of the mutated core (no relay processes, no servers).
const TESTS = [
  "admission", "admissionLimits", "authentic", "config", "configPatterns", "encryption", "events",
  "identity", "jobRequest", "liveConfig", "packageJson", "pricing", "quote"
].map((name) => `test/unit/${name}.test.ts`).filter((file) => fs.existsSync(file));

// Stryker's instrumenter marks each mutant's code with a call to this helper and its id.
const MUTANT_HELPER = "stryMutAct_9fa48";

const sourcesUnder = (dir) =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    return entry.isDirectory() ? sourcesUnder(file) : file.endsWith(".ts") ? [file] : [];
  });

const mutatedFile = (id) => {
  const mark = `${MUTANT_HELPER}("${id}")`;
  return sourcesUnder("src/dvm").find((file) => fs.readFileSync(file, "utf8").includes(mark));
};

/** The test files that import `source` (src/dvm/…/name.ts) by its path. */
const testsOf = (source) => {
  const module = source.replace(/\\/g, "/").replace(/\.ts$/, "");
  return TESTS.filter((test) => fs.readFileSync(test, "utf8").includes(`/${module}"`));
};

const id = process.env.__STRYKER_ACTIVE_MUTANT__;
const source = id === undefined ? undefined : mutatedFile(id);
const selected = source === undefined ? [] : testsOf(source);
const files = selected.length > 0 ? selected : TESTS;

const mocha = path.join("node_modules", "mocha", "bin", "mocha.js");
const run = spawnSync(
  process.execPath,
  [mocha, "--no-config", "--node-option", "import=tsx", "--timeout", "20000", "--exit", "--bail", "--reporter", "dot", ...files],
  { stdio: "inherit" }
);
process.exit(run.status ?? 1);
