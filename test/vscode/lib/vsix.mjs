// Packages the extension with the project's own vsce (@vscode/vsce, pinned in devDependencies, on
// the Node that runs this), the one way for the UI tier (run.mjs), `npm run package`
// (scripts/package.mjs) and the bench: no code-server or other tool of install-tools.sh is needed.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { REPO, TOOLS_DIR } from "./tools.mjs";

// vsce's command-line entry, from the repo's node_modules (`npm ci` installs it).
export const VSCE = path.join(path.dirname(createRequire(path.join(REPO, "package.json")).resolve("@vscode/vsce/package.json")), "vsce");

// Writes <out> from <extDir> as it is (build it first); workDir holds the generated ignore file.
// quiet: vsce's listing of the packaged files is not shown (its errors are).
export function buildVsix({ extDir, out, workDir, quiet = false }) {
  const args = [VSCE, "package", "--no-dependencies", "-o", out];
  // Without a repository URL vsce would stop at a y/N prompt and refuse README links it cannot
  // make absolute.
  args.push("--allow-missing-repository", "--skip-license", "--no-rewrite-relative-links");
  const ignoreFile = harnessIgnoreFile(extDir, workDir);
  if (ignoreFile) args.push("--ignoreFile", ignoreFile);
  const result = spawnSync(process.execPath, args, { cwd: extDir, stdio: ["ignore", quiet ? "ignore" : "inherit", "inherit"] });
  if (result.status !== 0) {
    const message = `vsce package failed (exit ${result.status ?? result.signal})`;
    throw Object.assign(new Error(message), { stack: message }); // its output says why
  }
  return out;
}

// vsce reads only .vscodeignore, not .gitignore: without this the 800 MB tool folder, test
// output and the compiled test suite would end up in the package.
function harnessIgnoreFile(extDir, workDir) {
  const manifest = JSON.parse(fs.readFileSync(path.join(extDir, "package.json"), "utf8"));
  if (manifest.files) return null; // a whitelist already keeps them out
  const own = path.join(extDir, ".vscodeignore");
  const lines = [fs.existsSync(own) ? fs.readFileSync(own, "utf8") : "", "test-results/**", "out/test/**", "*.vsix"];
  const toolsDir = path.relative(extDir, TOOLS_DIR);
  if (!toolsDir.startsWith("..") && !path.isAbsolute(toolsDir)) lines.push(`${toolsDir}/**`);
  fs.mkdirSync(workDir, { recursive: true });
  const file = path.join(workDir, "vscodeignore");
  fs.writeFileSync(file, lines.join("\n") + "\n");
  return file;
}
