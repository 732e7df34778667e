// Proves the files the project names exist: every contributor doc (docs/*.md) that code, scripts or
// docs point to, every file an npm script runs, and everything the test harness's and the scripts'
// .mjs files import (so `npm run test:desktop` and `npm run package` find their parts before they
// try to download or build anything).
import assert from "node:assert/strict"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"

const root = path.join(__dirname, "..", "..")
const SKIP = new Set(["node_modules", ".git", ".tools", "dist", "out", "test-results", ".vscode-test", ".stryker-tmp", "reports"])

/** Text files of the project under `dir` (relative to the root), recursively. */
const filesUnder = (dir: string, pattern: RegExp): Array<string> => {
  const full = path.join(root, dir)
  if (!fs.existsSync(full)) return []
  if (fs.statSync(full).isFile()) return [dir]
  return fs.readdirSync(full, { withFileTypes: true }).flatMap((entry) => {
    if (SKIP.has(entry.name)) return []
    const rel = path.join(dir, entry.name)
    if (entry.isDirectory()) return filesUnder(rel, pattern)
    return pattern.test(entry.name) ? [rel] : []
  })
}

const SOURCES = /\.(ts|mts|mjs|cjs|js|sh|json|md)$/
const projectFiles = ["src", "scripts", "test", "bench", "docs", ".ci", "esbuild.mjs", "stryker.config.json", "package.json", "README.md", "DESIGN.md"]
  .flatMap((dir) => filesUnder(dir, dir === ".ci" ? /./ : SOURCES))

describe("project files: contributor docs", () => {
  const named = projectFiles.flatMap((file) =>
    [...fs.readFileSync(path.join(root, file), "utf8").matchAll(/\bdocs\/[\w./-]*\w\.md\b/g)].map((m) => ({ file, doc: m[0] })))

  it("finds the docs the harness and DESIGN.md name (the scan works)", () => {
    const namers = new Set(named.filter((n) => n.doc === "docs/vscode-offline-testing.md").map((n) => n.file))
    for (const file of ["test/vscode/run.mjs", "test/vscode/install-tools.sh", "DESIGN.md"]) assert.ok(namers.has(file), `${file} names no docs/vscode-offline-testing.md`)
  })

  it("has every docs/*.md that a file of the project names", () => {
    const missing = named.filter(({ doc }) => !fs.existsSync(path.join(root, doc))).map(({ file, doc }) => `${doc} (named in ${file})`)
    assert.deepEqual([...new Set(missing)], [])
  })
})

describe("project files: what the npm scripts run", () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }

  it("has every file an npm script runs with node", () => {
    const targets = Object.entries(manifest.scripts).flatMap(([name, line]) =>
      [...line.matchAll(/\bnode(?:\s+--[\w-]+(?:=\S+)?)*\s+([\w./-]+\.(?:mjs|js|ts))/g)].map((m) => ({ name, file: m[1] ?? "" })))
    assert.ok(targets.some((t) => t.name === "test:desktop"), "test:desktop runs no node script")
    assert.ok(targets.some((t) => t.name === "package"), "package runs no node script")
    for (const { name, file } of targets) assert.ok(fs.existsSync(path.join(root, file)), `npm run ${name}: ${file} does not exist`)
  })

  it("resolves every import of the harness's and the scripts' .mjs files", () => {
    const modules = [...filesUnder("test/vscode", /\.mjs$/), ...filesUnder("scripts", /\.mjs$/)]
    assert.ok(modules.includes(path.join("test", "vscode", "desktop.mjs")), "test/vscode/desktop.mjs is not scanned")
    const problems: Array<string> = []
    for (const file of modules) {
      const from = createRequire(path.join(root, file))
      const text = fs.readFileSync(path.join(root, file), "utf8")
      const specifiers = [...text.matchAll(/^\s*import\s+(?:[^"']*?\s+from\s+)?["']([^"']+)["']/gm)].map((m) => m[1] ?? "")
      for (const specifier of specifiers) {
        if (specifier.startsWith("node:")) continue
        if (specifier.startsWith(".")) {
          if (!fs.existsSync(path.join(root, path.dirname(file), specifier))) problems.push(`${file}: ${specifier}`)
          continue
        }
        try {
          from.resolve(specifier)
        } catch {
          problems.push(`${file}: ${specifier} (not installed)`)
        }
      }
    }
    assert.deepEqual(problems, [])
  })

  it("packages with the project's own vsce and tests desktop VS Code with its own test-electron, both pinned exactly", () => {
    const { devDependencies } = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { devDependencies: Record<string, string> }
    for (const name of ["@vscode/vsce", "@vscode/test-electron"]) {
      assert.match(devDependencies[name] ?? "", /^\d+\.\d+\.\d+$/, `${name} is not pinned exactly in devDependencies`)
      const installed = JSON.parse(fs.readFileSync(createRequire(path.join(root, "package.json")).resolve(`${name}/package.json`), "utf8")) as { version: string }
      assert.equal(installed.version, devDependencies[name], `${name}: installed ${installed.version}`)
    }
    assert.ok(!fs.readFileSync(path.join(root, "scripts", "package.mjs"), "utf8").includes("ensureTools"), "npm run package installs the VS Code tier's tools")
  })
})
