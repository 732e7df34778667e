/**
 * Settings as the VS Code host reads them: each value is decoded on its own, so one bad value keeps
 * that setting's last good value (its default at start) without holding back any other change.
 * Free of `vscode` so it is unit-tested in plain Node.
 */
import { Result } from "effect"
import { type Config, type ConfigError, decodeConfig, type SettingId, settingIds } from "../dvm/config"

export interface LiveConfig {
  readonly config: Config
  /** One per rejected value; each message names the setting, e.g. "sellCompute.relays: …". */
  readonly problems: ReadonlyArray<ConfigError>
}

export const decodeLiveConfig = (read: (id: SettingId) => unknown, previous: Config): LiveConfig => {
  const config: Record<string, unknown> = {}
  const problems: Array<ConfigError> = []
  for (const id of settingIds) {
    const decoded = decodeConfig({ [id]: read(id) })
    if (Result.isSuccess(decoded)) {
      config[id] = decoded.success[id]
    } else {
      config[id] = previous[id]
      problems.push(decoded.failure)
    }
  }
  return { config: config as unknown as Config, problems }
}
