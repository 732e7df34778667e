// The view model follows the core: provider state, relay states, settings and jobs reach the
// snapshot the status bar and the panel read, and stop doing so when the runtime is disposed.
import assert from "node:assert/strict"
import { Effect, Layer, ManagedRuntime, Stream, SubscriptionRef } from "effect"
import { type Config, defaultConfig } from "../../src/dvm/config"
import { JobStore } from "../../src/dvm/services/JobStore"
import { type DvmStatus, Kind5050DVM } from "../../src/dvm/services/Kind5050DVM"
import { Nostr, type RelayState } from "../../src/dvm/services/Nostr"
import { Settings } from "../../src/dvm/services/Settings"
import { mirrorProvider, ProviderModel } from "../../src/views/ProviderModel"

const until = async (condition: () => boolean, what: string) => {
  for (let i = 0; i < 400 && !condition(); i++) await new Promise((r) => setTimeout(r, 5))
  assert.ok(condition(), `timed out waiting for ${what}`)
}

describe("mirrorProvider", () => {
  const setup = async () => {
    const status = await Effect.runPromise(SubscriptionRef.make<DvmStatus>({ state: "offline", activeJobs: 0 }))
    const relayStates = await Effect.runPromise(SubscriptionRef.make<ReadonlyArray<RelayState>>([]))
    const config = await Effect.runPromise(SubscriptionRef.make<Config>(defaultConfig))
    const core = Layer.mergeAll(
      Layer.succeed(Kind5050DVM, Kind5050DVM.of({ goOnline: Effect.void, goOffline: Effect.void, status, readiness: Effect.succeed(undefined) })),
      Layer.succeed(Nostr, Nostr.of({
        setRelays: () => Effect.void,
        subscribe: () => Stream.empty,
        publish: () => Effect.die("unused"),
        setAuthSigner: () => Effect.void,
        dropped: Effect.succeed({ forged: 0, badFrames: 0 }),
        relayStates
      })),
      Settings.fromRef(config),
      JobStore.layer(undefined)
    )
    const model = new ProviderModel()
    const runtime = ManagedRuntime.make(Layer.effectDiscard(mirrorProvider(model)).pipe(Layer.provideMerge(core)))
    await runtime.runPromise(Effect.void)
    return { model, runtime, status, relayStates, config }
  }

  it("follows the provider's state, relays, settings and jobs", async () => {
    const { model, runtime, status, relayStates, config } = await setup()
    try {
      await Effect.runPromise(SubscriptionRef.set(status, { state: "online", activeJobs: 1, npub: "npub1test" }))
      await until(() => model.snapshot.status.state === "online", "online")
      assert.equal(model.snapshot.npub, "npub1test")

      await Effect.runPromise(SubscriptionRef.set(relayStates, [{ url: "wss://a.example", status: "connected" }]))
      await until(() => model.snapshot.relays.length === 1, "relay states")

      await Effect.runPromise(SubscriptionRef.set(config, { ...defaultConfig, maxConcurrentJobs: 7 }))
      await until(() => model.snapshot.config.maxConcurrentJobs === 7, "settings")

      await runtime.runPromise(JobStore.use((store) =>
        store.record({ id: "job1", customer: "c".repeat(64), kind: 5050, requestedAt: 1, receivedAt: Date.now(), status: "received" })))
      await until(() => model.snapshot.recentJobs.length === 1, "a job")
      await runtime.runPromise(JobStore.use((store) => store.record({ id: "job1", status: "success", priceSats: 5, payment: "paid" })))
      await until(() => model.snapshot.recentJobs[0]?.status === "success", "the job's update")
      assert.equal(model.snapshot.earnings.jobsToday, 1)
      assert.equal(model.snapshot.earnings.satsEarnedToday, 5)
    } finally {
      await runtime.dispose()
    }
  })

  it("re-reads the job history a few times a second at most during a flood", async () => {
    const { model, runtime } = await setup()
    try {
      let reads = 0
      let last = model.snapshot.recentJobs
      model.onDidChange((s) => {
        if (s.recentJobs !== last) reads++
        last = s.recentJobs
      })
      await runtime.runPromise(JobStore.use((store) =>
        Effect.forEach(Array.from({ length: 2000 }, (_, i) => i), (i) =>
          store.record({ id: `job${i}`, customer: "c".repeat(64), kind: 5050, requestedAt: 1, receivedAt: Date.now(), status: "received" }))))
      await until(() => model.snapshot.recentJobs.length === 50 && model.snapshot.recentJobs.some((j) => j.id === "job1999"), "the last job")
      assert.ok(reads <= 5, `${reads} re-reads for 2000 changes`)
    } finally {
      await runtime.dispose()
    }
  })

  it("stops following when the runtime is disposed", async () => {
    const { model, runtime, status } = await setup()
    await runtime.dispose()
    await Effect.runPromise(SubscriptionRef.set(status, { state: "online", activeJobs: 0 }))
    await new Promise((r) => setTimeout(r, 30))
    assert.equal(model.snapshot.status.state, "offline")
  })

  it("keeps a key changed while online rather than the one the provider went online with", async () => {
    const { model, runtime, status } = await setup()
    try {
      await Effect.runPromise(SubscriptionRef.set(status, { state: "online", activeJobs: 0, npub: "npub1old" }))
      await until(() => model.snapshot.npub === "npub1old", "npub")
      model.update({ npub: "npub1new" })
      await Effect.runPromise(SubscriptionRef.set(status, { state: "online", activeJobs: 1, npub: "npub1old" }))
      await until(() => model.snapshot.status.activeJobs === 1, "status change")
      assert.equal(model.snapshot.npub, "npub1new")
    } finally {
      await runtime.dispose()
    }
  })
})
