/** The current settings, and their changes, from whichever host runs the core. */
import { Context, Effect, Layer, Stream, SubscriptionRef } from "effect"
import type { Config } from "../config"

export class Settings extends Context.Service<Settings, {
  readonly current: Effect.Effect<Config>
  readonly changes: Stream.Stream<Config>
}>()("sellCompute/Settings") {
  /** Settings backed by a ref the host updates (VS Code: on configuration change). */
  static readonly fromRef = (ref: SubscriptionRef.SubscriptionRef<Config>) =>
    Layer.succeed(Settings, Settings.of({ current: SubscriptionRef.get(ref), changes: SubscriptionRef.changes(ref) }))

  /** Settings that never change (the headless host reads its file once). */
  static readonly fixed = (config: Config) =>
    Layer.succeed(Settings, Settings.of({ current: Effect.succeed(config), changes: Stream.make(config) }))
}
