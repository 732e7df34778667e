// `npm run package`: a production build (minified, no source maps) packaged as
// sell-compute-<version>.vsix in the repo root, with the project's vsce (@vscode/vsce in
// devDependencies) and the same flags as the UI tier (test/vscode/lib/vsix.mjs). Needs only
// `npm ci`: no code-server, Chromium or other tool of test/vscode/install-tools.sh.
// bench/vscode.ts packages through packageExtension() too.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { EXT_DIR } from "../test/vscode/lib/tools.mjs";
import { buildVsix } from "../test/vscode/lib/vsix.mjs";

// Builds for production and writes the package to `out` (default: <name>-<version>.vsix in the
// repo root); returns its path. vsce's listing of the files goes to stdout unless quiet.
export function packageExtension({ out, quiet = false } = {}) {
  const { name, version } = JSON.parse(fs.readFileSync(path.join(EXT_DIR, "package.json"), "utf8"));
  const target = out ?? path.join(EXT_DIR, `${name}-${version}.vsix`);
  // A production build writes no source maps, and media/ is packaged whole: drop the development
  // build's maps so none goes stale into the package (`npm run build` writes them again).
  for (const file of fs.readdirSync(path.join(EXT_DIR, "media"))) {
    if (file.endsWith(".map")) fs.rmSync(path.join(EXT_DIR, "media", file));
  }
  const build = spawnSync(process.execPath, ["esbuild.mjs", "--production"], { cwd: EXT_DIR, stdio: "inherit" });
  if (build.status !== 0) throw new Error(`production build failed (exit ${build.status ?? build.signal})`);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "sell-compute-package-"));
  try {
    buildVsix({ extDir: EXT_DIR, out: target, workDir, quiet });
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  return target;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    const out = packageExtension();
    console.log(`package: ${path.relative(process.cwd(), out) || out} (${(fs.statSync(out).size / 1024 / 1024).toFixed(2)} MB)`);
  } catch (err) {
    console.error(`package: ${err.message}`);
    process.exit(1);
  }
}
