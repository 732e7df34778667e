// Debian's Chromium driven by playwright-core; never `playwright install` (it downloads).
import { pathToFileURL } from "node:url";
import { onCleanup, stopGroup, trackGroup, withTimeout } from "./cleanup.mjs";
import { tools } from "./tools.mjs";

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

// Returns { browser, close() }. launchServer rather than launch: it exposes the browser's PID,
// so the harness can kill Chromium's process group itself.
export async function launchBrowser() {
  const { chromium } = await import(pathToFileURL(tools.playwrightCore).href);
  const server = await chromium.launchServer({
    executablePath: tools.chromium,
    headless: true,
    args: CHROMIUM_ARGS,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  const pid = server.process().pid;
  trackGroup(pid);
  const close = onCleanup(async () => {
    await withTimeout(server.close(), 5000, "closing Chromium").catch(() => {});
    await stopGroup(pid, 1000);
  });
  try {
    const browser = await chromium.connect(server.wsEndpoint());
    return { browser, close };
  } catch (err) {
    await close();
    throw err;
  }
}
