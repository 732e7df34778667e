// Writes package.json's contributes.configuration from the settings table in src/dvm/config.ts,
// so the two cannot drift (test/unit/packageJson.test.ts checks they agree). `npm run sync:settings`.
// The array form: one entry per section of SETTING_SECTIONS (VS Code shows each as a heading under
// "Sell Compute"), its settings in the table's order.
import * as fs from "node:fs"
import * as path from "node:path"
import { qualifiedId, type SectionId, SETTING_SECTIONS, settingIds, settings } from "../src/dvm/config"

/** What package.json's `contributes.configuration` must hold. */
export const configurationContribution = () =>
  (Object.entries(SETTING_SECTIONS) as Array<[SectionId, string]>).map(([section, title], order) => {
    const ids = settingIds.filter((id) => settings[id].section === section)
    return {
      id: `sellCompute-${section}`,
      title,
      order,
      properties: Object.fromEntries(ids.map((id, order) => [qualifiedId(id), {
        ...settings[id].json,
        default: settings[id].default,
        markdownDescription: settings[id].description,
        scope: settings[id].scope,
        order
      }]))
    }
  })

if (require.main === module) {
  const file = path.join(__dirname, "..", "package.json")
  const manifest = JSON.parse(fs.readFileSync(file, "utf8"))
  manifest.contributes.configuration = configurationContribution()
  fs.writeFileSync(file, JSON.stringify(manifest, null, 2) + "\n")
}
