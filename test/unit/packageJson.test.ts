// Proves package.json's contributions agree with the code: every setting of the Schema in
// src/dvm/config.ts (same ids, defaults, descriptions and JSON facts), and every command that
// src/extension.ts registers (and no other).
import assert from "node:assert/strict"
import * as fs from "node:fs"
import * as path from "node:path"
import { Result } from "effect"
import { decodeConfig, qualifiedId, settingIds, settings } from "../../src/dvm/config"

const root = path.join(__dirname, "..", "..")
const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  activationEvents?: ReadonlyArray<string>
  contributes: {
    commands: ReadonlyArray<{ command: string; title?: string; category?: string }>
    configuration: { title: string; properties: Record<string, Record<string, unknown>> }
  }
}
const properties = manifest.contributes.configuration.properties
const commands = manifest.contributes.commands

/** Keys package.json may add to a setting besides the Schema's own JSON facts. */
const PRESENTATION_KEYS = ["default", "markdownDescription", "scope", "order"]

describe("package.json contributes.configuration", () => {
  it("is titled Sell Compute", () => {
    assert.equal(manifest.contributes.configuration.title, "Sell Compute")
  })

  it("has exactly the Schema's settings, as sellCompute.<id>", () => {
    assert.deepEqual(Object.keys(properties).sort(), settingIds.map(qualifiedId).sort())
  })

  for (const [index, id] of settingIds.entries()) {
    describe(qualifiedId(id), () => {
      const property = () => properties[qualifiedId(id)] ?? assert.fail(`${qualifiedId(id)} is missing`)

      it("has the Schema's default, which the Schema accepts", () => {
        assert.deepEqual(property().default, settings[id].default)
        assert.ok(Result.isSuccess(decodeConfig({ [id]: property().default })))
      })

      it("shows the Schema's description", () => {
        assert.equal(property().markdownDescription, settings[id].description)
      })

      it("states the Schema's JSON facts and no others", () => {
        const facts = Object.fromEntries(Object.entries(property()).filter(([key]) => !PRESENTATION_KEYS.includes(key)))
        assert.deepEqual(facts, settings[id].json)
      })

      it("is ordered as in the Schema's table", () => {
        assert.equal(property().order, index)
      })

      it("has the Schema's scope", () => {
        assert.equal(property().scope, settings[id].scope)
      })
    })
  }
})

describe("package.json contributes.commands", () => {
  const source = fs.readFileSync(path.join(root, "src", "extension.ts"), "utf8")
  const registered = [...source.matchAll(/registerCommand\(\s*["'`]([^"'`]+)["'`]/g)].map((m) => m[1])

  it("gives every command the category Sell Compute and a title", () => {
    for (const command of commands) {
      assert.equal(command.category, "Sell Compute", `${command.command} has no category "Sell Compute"`)
      assert.ok(command.title && command.title.trim() !== "", `${command.command} has no title`)
    }
  })

  it("lists each command once", () => {
    const ids = commands.map((c) => c.command)
    assert.deepEqual(ids, [...new Set(ids)])
  })

  it("lists exactly the commands extension.ts registers", () => {
    assert.ok(registered.length > 0, "no registerCommand calls found in src/extension.ts")
    assert.deepEqual([...registered].sort(), commands.map((c) => c.command).sort())
  })

  it("includes the commands the product promises", () => {
    for (const id of ["openPanel", "goOnline", "goOffline", "toggleOnline", "refreshStatus", "showLog", "setNostrSecretKey", "generateIdentity", "copyPublicKey", "resetSettings"]) {
      assert.ok(registered.includes(`sellCompute.${id}`), `sellCompute.${id} is not registered`)
    }
  })
})

describe("package.json activationEvents", () => {
  it("restores the panel after a reload", () => {
    assert.ok(manifest.activationEvents?.includes("onWebviewPanel:sellCompute.panel"))
  })
})
