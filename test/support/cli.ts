/**
 * The headless host as a user runs it (`node dist/cli.js …`; `npm run build` first), its stdout
 * and stderr collected as one text, with the environment given and PATH only.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"

export const CLI = path.resolve(__dirname, "../../dist/cli.js")

export interface Running {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Promise<number | null>
}

export const runCli = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}): Running => {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  child.stdout?.on("data", (d) => (output += d))
  child.stderr?.on("data", (d) => (output += d))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return { child, output: () => output, exited }
}
