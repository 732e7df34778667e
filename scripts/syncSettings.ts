// Writes package.json's contributes.configuration from the settings table in src/dvm/config.ts,
// so the two cannot drift (test/unit/packageJson.test.ts checks they agree). `npm run sync:settings`.
import * as fs from "node:fs"
import * as path from "node:path"
import { qualifiedId, settingIds, settings } from "../src/dvm/config"

const file = path.join(__dirname, "..", "package.json")
const manifest = JSON.parse(fs.readFileSync(file, "utf8"))
manifest.contributes.configuration.properties = Object.fromEntries(
  settingIds.map((id, order) => [qualifiedId(id), {
    ...settings[id].json,
    default: settings[id].default,
    markdownDescription: settings[id].description,
    scope: settings[id].scope,
    order
  }])
)
fs.writeFileSync(file, JSON.stringify(manifest, null, 2) + "\n")
