// Proves package.json's contributions agree with the code: every setting of the Schema in
// src/dvm/config.ts (same ids, defaults, descriptions, JSON facts and sections: exactly what
// `npm run sync:settings` writes), and every command that src/extension.ts registers (and no other).
import assert from "node:assert/strict"
import * as fs from "node:fs"
import * as path from "node:path"
import { Result } from "effect"
import { configurationContribution } from "../../scripts/syncSettings"
import { decodeConfig, qualifiedId, SERVED_JOB_KINDS, SETTING_SECTIONS, settingIds, settings } from "../../src/dvm/config"

const root = path.join(__dirname, "..", "..")
type Property = Record<string, unknown>
interface Section {
  id: string
  title: string
  order: number
  properties: Record<string, Property>
}
const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  activationEvents?: ReadonlyArray<string>
  contributes: {
    commands: ReadonlyArray<{ command: string; title?: string; category?: string; enablement?: string }>
    menus?: Record<string, ReadonlyArray<{ command: string; when?: string }>>
    configuration: ReadonlyArray<Section>
  }
}
const sections = manifest.contributes.configuration
const properties: Record<string, Property> = Object.assign({}, ...sections.map((s) => s.properties))
const commands = manifest.contributes.commands

/** Keys package.json may add to a setting besides the Schema's own JSON facts. */
const PRESENTATION_KEYS = ["default", "markdownDescription", "scope", "order"]

describe("package.json contributes.configuration", () => {
  it("is exactly what `npm run sync:settings` writes from src/dvm/config.ts", () => {
    assert.deepEqual(sections, JSON.parse(JSON.stringify(configurationContribution())), "package.json is stale: run npm run sync:settings")
  })

  it("is in sections: relays; model and generation; pricing and payment; wallet; limits and access; provider profile", () => {
    assert.ok(Array.isArray(sections), "contributes.configuration is not the array form")
    assert.deepEqual(sections.map((s) => s.title), ["Relays", "Model and Generation", "Pricing and Payment", "Wallet", "Limits and Access", "Provider Profile"])
    assert.deepEqual(sections.map((s) => s.order), [0, 1, 2, 3, 4, 5])
    const ids = sections.map((s) => s.id)
    assert.deepEqual(ids, [...new Set(ids)], "two sections share an id")
    for (const id of ids) assert.ok(!(id in properties), `section id ${id} is also a setting id`)
  })

  it("puts each setting in its Schema's section, and where a person looks for it", () => {
    const sectionOf = (id: string) => sections.find((s) => `sellCompute.${id}` in s.properties)?.title
    for (const id of settingIds) assert.equal(sectionOf(id), SETTING_SECTIONS[settings[id].section], `${qualifiedId(id)} is in the wrong section`)
    assert.equal(sectionOf("relays"), "Relays")
    assert.equal(sectionOf("textGeneration.model"), "Model and Generation")
    assert.equal(sectionOf("ollama.host"), "Model and Generation")
    assert.equal(sectionOf("payment.mode"), "Pricing and Payment")
    assert.equal(sectionOf("pricing.pricePer1kTokens"), "Pricing and Payment")
    assert.equal(sectionOf("wallet.backend"), "Wallet")
    assert.equal(sectionOf("spark.network"), "Wallet")
    assert.equal(sectionOf("access.denyList"), "Limits and Access")
    assert.equal(sectionOf("maxConcurrentJobs"), "Limits and Access")
  })

  it("numbers the settings of each section 0, 1, 2… in the Schema table's order", () => {
    for (const section of sections) {
      const listed = Object.entries(section.properties).map(([id, p]) => [id, p.order])
      const expected = settingIds.map(qualifiedId).filter((id) => id in section.properties).map((id, i) => [id, i])
      assert.deepEqual(listed, expected, `${section.title}: the settings' order`)
    }
  })

  it("has exactly the Schema's settings, as sellCompute.<id>, each once", () => {
    const listed = sections.flatMap((s) => Object.keys(s.properties))
    assert.deepEqual([...listed].sort(), settingIds.map(qualifiedId).sort())
  })

  it("describes every value of every enum (enumDescriptions, as many as values, none empty)", () => {
    const enums = Object.entries(properties).flatMap(([id, p]) => {
      const items = p.items as Property | undefined
      return [[id, p] as const, ...(items ? [[`${id} items`, items] as const] : [])].filter(([, s]) => "enum" in s)
    })
    assert.deepEqual(enums.map(([id]) => id).sort(), [
      "sellCompute.inference.backend",
      "sellCompute.payment.mode",
      "sellCompute.spark.network",
      "sellCompute.supportedJobKinds items",
      "sellCompute.wallet.backend"
    ])
    for (const [id, schema] of enums) {
      const values = schema.enum as ReadonlyArray<unknown>
      const texts = schema.enumDescriptions as ReadonlyArray<unknown> | undefined
      assert.ok(Array.isArray(texts), `${id} has no enumDescriptions`)
      assert.equal(texts.length, values.length, `${id}: ${values.length} values, ${texts.length} descriptions`)
      for (const text of texts) assert.ok(typeof text === "string" && text.trim().length > 10, `${id}: an empty description`)
    }
    assert.match(String((properties["sellCompute.payment.mode"]?.enumDescriptions as Array<string>)[2]), /no wallet/)
  })

  it("offers exactly the served job kinds in supportedJobKinds, each once (no Add Item when all are chosen)", () => {
    const kinds = properties["sellCompute.supportedJobKinds"] ?? assert.fail("no supportedJobKinds")
    assert.deepEqual((kinds.items as Property).enum, SERVED_JOB_KINDS.map((k) => k.kind))
    assert.ok(SERVED_JOB_KINDS.some((k) => k.kind === 5050), "text generation (5050) is not served")
    // VS Code hides "Add Item" for an enum list with uniqueItems once every value is in it.
    assert.equal(kinds.uniqueItems, true)
    for (const { kind } of SERVED_JOB_KINDS) assert.ok(Result.isSuccess(decodeConfig({ supportedJobKinds: [kind] })), `${kind} refused`)
    assert.ok(Result.isFailure(decodeConfig({ supportedJobKinds: [5050, 5050] })), "a kind listed twice is accepted")
  })

  for (const id of settingIds) {
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

      it("has the Schema's scope", () => {
        assert.equal(property().scope, settings[id].scope)
      })
    })
  }

  it("links only to settings that exist (#sellCompute.x# in descriptions)", () => {
    for (const [id, p] of Object.entries(properties)) {
      for (const [, linked] of String(p.markdownDescription).matchAll(/#(sellCompute\.[\w.]+)#/g)) {
        assert.ok(linked && linked in properties, `${id} links to ${linked}, which is no setting`)
      }
    }
  })
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
    for (const id of ["openPanel", "goOnline", "goOffline", "toggleOnline", "refreshStatus", "showLog", "setNostrSecretKey", "generateIdentity", "copyPublicKey", "exportSecretKey", "resetSettings"]) {
      assert.ok(registered.includes(`sellCompute.${id}`), `sellCompute.${id} is not registered`)
    }
  })
})

describe("package.json when clauses", () => {
  const palette = manifest.contributes.menus?.commandPalette ?? []
  const whenOf = (id: string) => palette.find((entry) => entry.command === `sellCompute.${id}`)?.when
  // The keys src/views/ContextKeys.ts sets (it imports vscode, so its text is read).
  const contextKeysSource = fs.readFileSync(path.join(root, "src", "views", "ContextKeys.ts"), "utf8")
  const setKeys = [...contextKeysSource.matchAll(/export const \w+_KEY = "([^"]+)"/g)].map((m) => m[1])

  it("offers Go Online only while offline (or before activation) and Go Offline only while online", () => {
    assert.equal(whenOf("goOnline"), "!sellCompute.state || sellCompute.state == offline")
    assert.equal(whenOf("goOffline"), "sellCompute.online")
    const enablement = (id: string) => commands.find((c) => c.command === `sellCompute.${id}`)?.enablement
    assert.equal(enablement("goOnline"), whenOf("goOnline"))
    assert.equal(enablement("goOffline"), whenOf("goOffline"))
  })

  it("keeps Toggle Online (the status bar's click) out of the palette, where Go Online/Go Offline stand", () => {
    assert.equal(whenOf("toggleOnline"), "false")
  })

  it("reads only context keys the extension sets, for commands it contributes", () => {
    assert.deepEqual(setKeys.sort(), ["sellCompute.online", "sellCompute.state"])
    const clauses = [...palette.map((e) => e.when ?? ""), ...commands.map((c) => c.enablement ?? "")]
    // `config.sellCompute.…` is VS Code's own key for a setting; every other sellCompute key is ours to set.
    const read = new Set(clauses.flatMap((clause) => [...clause.matchAll(/(?<!config\.)sellCompute\.\w+/g)].map((m) => m[0])))
    const settingKeys = clauses.flatMap((clause) => [...clause.matchAll(/config\.sellCompute\.([\w.]+)/g)].map((m) => m[1] as string))
    for (const id of settingKeys) assert.ok(settingIds.includes(id as never), `config.sellCompute.${id} is not a setting`)
    for (const key of read) assert.ok(setKeys.includes(key), `${key} is read by a when clause but never set`)
    for (const entry of palette) assert.ok(commands.some((c) => c.command === entry.command), `${entry.command} is not contributed`)
  })
})

describe("package.json activationEvents", () => {
  it("restores the panel after a reload", () => {
    assert.ok(manifest.activationEvents?.includes("onWebviewPanel:sellCompute.panel"))
  })
})
