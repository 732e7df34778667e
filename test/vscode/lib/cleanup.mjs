// Every process the harness starts runs in its own process group (detached), so killing the
// group also takes down code-server's extension host, pty host and Chromium's helpers.
// Cleanup runs on normal completion, on a tier timeout, and on SIGINT/SIGTERM/SIGHUP.
import { spawn } from "node:child_process";
import fs from "node:fs";

const groups = new Set();
const tasks = [];

export function spawnInGroup(command, args, options = {}) {
  const child = spawn(command, args, { ...options, detached: true });
  if (child.pid) groups.add(child.pid);
  return child;
}

export function trackGroup(pid) {
  if (pid) groups.add(pid);
}

export async function stopGroup(pid, graceMs = 3000) {
  signalGroup(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (groupAlive(pid) && Date.now() < deadline) await sleep(100);
  signalGroup(pid, "SIGKILL");
  groups.delete(pid);
}

// Registers fn to run at cleanup; returns a function that runs it now (once) instead.
export function onCleanup(fn) {
  let done = false;
  const task = async () => {
    if (done) return;
    done = true;
    const index = tasks.indexOf(task);
    if (index >= 0) tasks.splice(index, 1);
    await fn();
  };
  tasks.push(task);
  return task;
}

// Runs the registered tasks, newest first, down to the first `keep` ones (default: all).
export async function cleanupAll(keep = 0) {
  while (tasks.length > keep) {
    try {
      await tasks.at(-1)();
    } catch (err) {
      console.error(`cleanup: ${err?.message ?? err}`);
    }
  }
  if (keep === 0) for (const pid of [...groups]) await stopGroup(pid, 1000);
}

export const cleanupDepth = () => tasks.length;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      const message = `${what} timed out after ${Math.round(ms / 1000)} s`;
      reject(Object.assign(new Error(message), { stack: message }));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

// Zombies count as gone: where PID 1 does not reap orphans (containers without an init), they
// stay in the group forever and kill(-pgid, 0) would keep saying "alive".
function groupAlive(pgid) {
  for (const pid of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue;
    }
    // "pid (comm) state ppid pgrp ..."; comm may contain spaces and parentheses.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(pgrp) === pgid && state !== "Z") return true;
  }
  return false;
}

process.on("exit", () => {
  for (const pid of groups) signalGroup(pid, "SIGKILL");
});

let stopping = false;
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]]) {
  process.on(signal, async () => {
    if (stopping) process.exit(code);
    stopping = true;
    console.error(`\nvscode: got ${signal}, stopping code-server and browser`);
    await cleanupAll();
    process.exit(code);
  });
}
