// The lazily loaded Spark SDK bundle (dist/sparkSdk.js, built by npm test) must load where VS Code's
// extension host runs it: there `navigator` exists on globalThis but is undefined.
import assert from "node:assert/strict"
import { execFileSync } from "node:child_process"
import * as path from "node:path"

const bundle = path.resolve(__dirname, "../../dist/sparkSdk.js")

describe("Spark SDK bundle", function() {
  this.timeout(30_000)

  it("loads when globalThis.navigator is defined but undefined, as in the extension host", () => {
    const script = `
      Object.defineProperty(globalThis, "navigator", { value: undefined, configurable: true, writable: true })
      const { SparkWallet } = require(${JSON.stringify(bundle)})
      process.stdout.write(typeof SparkWallet.initialize)`
    assert.equal(execFileSync(process.execPath, ["-e", script], { encoding: "utf8" }), "function")
  })
})
