// Bundles the extension, the headless CLI and the lazily loaded Spark SDK, each to dist/ as CommonJS.
// `node esbuild.mjs --bench` bundles only the pipeline bench's provider (bench/pipelineProvider.ts)
// to out/bench/, with the same options as the hosts, so the bench measures the code as it ships.
import * as fs from "node:fs"
import * as esbuild from "esbuild"

const production = process.argv.includes("--production")

const common = {
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  sourcemap: !production,
  minify: production,
  keepNames: true,
  logLevel: "warning",
  // The Spark SDK is its own bundle, loaded on first use of a Spark wallet.
  // pg's optional native binding is never used (pg loads it only when asked for `pg.native`).
  external: ["vscode", "./sparkSdk.js", "pg-native"]
}

if (process.argv.includes("--bench")) {
  await esbuild.build({ ...common, entryPoints: { pipelineProvider: "bench/pipelineProvider.ts" }, outdir: "out/bench" })
} else {
  await Promise.all([
    esbuild.build({ ...common, entryPoints: { extension: "src/extension.ts" }, outdir: "dist" }),
    // The CLI is package.json's `bin`: runnable as a command, not only as `node dist/cli.js`.
    esbuild.build({ ...common, entryPoints: { cli: "src/cli.ts" }, outdir: "dist", banner: { js: "#!/usr/bin/env node" } }),
    esbuild.build({
      ...common,
      entryPoints: { sparkSdk: "src/dvm/services/sparkSdk.ts" },
      outdir: "dist",
      external: [],
      // VS Code's extension host defines `navigator` as undefined, which the SDK's browser sniffing
      // (`"navigator" in globalThis && navigator.product`) trips over: give it a harmless stand-in.
      banner: { js: 'var __sellComputeNavigator = globalThis.navigator || { userAgent: "", product: "" };' },
      define: { navigator: "__sellComputeNavigator", "globalThis.navigator": "__sellComputeNavigator" }
    }),
    // The panel's page script runs in the webview (a browser), loaded from media/.
    esbuild.build({
      bundle: true,
      platform: "browser",
      format: "iife",
      target: "es2022",
      sourcemap: !production,
      minify: production,
      logLevel: "warning",
      entryPoints: { panel: "src/webview/panel.ts" },
      outdir: "media"
    })
  ])

  // What the webview loads besides its script: the codicon font and stylesheet (the stylesheet's
  // id is how @vscode-elements finds it) and uPlot's stylesheet, copied from their packages.
  fs.mkdirSync("media/vendor", { recursive: true })
  for (const [from, to] of [
    ["node_modules/@vscode/codicons/dist/codicon.css", "codicon.css"],
    ["node_modules/@vscode/codicons/dist/codicon.ttf", "codicon.ttf"],
    ["node_modules/uplot/dist/uPlot.min.css", "uPlot.min.css"]
  ]) fs.copyFileSync(from, `media/vendor/${to}`)
}
