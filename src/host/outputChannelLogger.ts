/**
 * Effect's log lines into the one "Sell Compute" LogOutputChannel. The channel filters by the level
 * the user picks ("Developer: Set Log Level…"), so every level is handed to it.
 */
import { Cause, Layer, Logger, References } from "effect"
import type * as vscode from "vscode"
import { logSafe } from "../dvm/printable"

export const outputChannelLogger = (channel: vscode.LogOutputChannel) =>
  Logger.make(({ logLevel, message, cause }) => {
    const parts = (Array.isArray(message) ? message : [message]).map((m) => (typeof m === "string" ? m : String(m)))
    const reason = cause.reasons.length > 0 ? ` — ${Cause.pretty(cause).split("\n")[0]}` : ""
    // Escaped whole: a message may carry a customer's or a relay's text.
    const line = logSafe(parts.join(" ") + reason)
    switch (logLevel) {
      case "Fatal":
      case "Error":
        return channel.error(line)
      case "Warn":
        return channel.warn(line)
      case "Info":
        return channel.info(line)
      case "Debug":
        return channel.debug(line)
      default:
        return channel.trace(line)
    }
  })

export const outputChannelLoggerLayer = (channel: vscode.LogOutputChannel) =>
  Layer.mergeAll(
    Logger.layer([outputChannelLogger(channel)]),
    Layer.succeed(References.MinimumLogLevel, "Trace")
  )
