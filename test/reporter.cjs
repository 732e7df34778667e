// Mocha's spec output for people, plus a summary file in test-results/ for .ci/run to add up:
// mocha-summary.json (the product's tests) unless `--reporter-option summary=<file>` names another
// (the stand-ins' tests write standins-summary.json).
const fs = require("node:fs")
const path = require("node:path")
const { reporters, Runner } = require("mocha")

class SpecWithSummary extends reporters.Spec {
  constructor(runner, options) {
    super(runner, options)
    const file = path.basename(options?.reporterOption?.summary ?? "mocha-summary.json")
    runner.once(Runner.constants.EVENT_RUN_END, () => {
      const dir = path.resolve(__dirname, "..", "test-results")
      fs.mkdirSync(dir, { recursive: true })
      const { passes, failures } = runner.stats
      fs.writeFileSync(path.join(dir, file), JSON.stringify({ passed: passes, failed: failures }) + "\n")
    })
  }
}

module.exports = SpecWithSummary
