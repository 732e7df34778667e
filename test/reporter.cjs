// Mocha's spec output for people, plus test-results/mocha-summary.json for .ci/run to add up.
const fs = require("node:fs")
const path = require("node:path")
const { reporters, Runner } = require("mocha")

class SpecWithSummary extends reporters.Spec {
  constructor(runner, options) {
    super(runner, options)
    runner.once(Runner.constants.EVENT_RUN_END, () => {
      const dir = path.resolve(__dirname, "..", "test-results")
      fs.mkdirSync(dir, { recursive: true })
      const { passes, failures } = runner.stats
      fs.writeFileSync(path.join(dir, "mocha-summary.json"), JSON.stringify({ passed: passes, failed: failures }) + "\n")
    })
  }
}

module.exports = SpecWithSummary
