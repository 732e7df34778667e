// `npm run bench`: figures, not pass/fail. Each section prints what it measured.
import { benchDashboard } from "./dashboard"
import { benchFleet } from "./fleet"
import { benchHistory } from "./history"
import { benchHostile } from "./hostile"
import { benchJobHistory } from "./jobHistory"
import { benchPipeline } from "./pipeline"
import { benchSustained } from "./sustained"
import { benchVscode } from "./vscode"

const main = async () => {
  await benchPipeline()
  await benchSustained()
  await benchJobHistory()
  await benchHistory()
  await benchHostile()
  await benchFleet()
  await benchVscode()
  await benchDashboard()
}

main().then(() => process.exit(0), (e) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`)
  process.exit(1)
})
