// "Sell Compute: Set Nostr Secret Key", typed into VS Code's input box like a person would. The
// key must end up in SecretStorage and nowhere in settings: the panel shows the npub of the typed
// key, a reloaded window (a new extension host, which reads the key back from SecretStorage)
// shows it again, and no settings.json of the profile or the workspace contains the key.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { npubEncode, nsecEncode } from "nostr-tools/nip19";
import { generateSecretKey, getPublicKey } from "nostr-tools/pure";
import { bytesToHex } from "nostr-tools/utils";
import { openPanel, waitForText } from "./support.mjs";

export default [
  {
    name: "secret key: set by command, kept in SecretStorage, not in settings",
    timeout: 90_000,
    fn: async (ctx) => {
      const secretKey = generateSecretKey();
      const nsec = nsecEncode(secretKey);
      const hex = bytesToHex(secretKey);
      const npub = npubEncode(getPublicKey(secretKey));

      // Before: the install's own generated identity.
      let panel = await openPanel(ctx);
      const before = await waitForText(panel.locator("#npub"), /^npub1/);
      assert.notEqual(before, npub);

      await ctx.runCommand("Sell Compute: Set Nostr Secret Key");
      await ctx.page.locator(".quick-input-widget", { hasText: "Set Nostr Secret Key" }).waitFor();
      // Masked while typed (the palette's own box is reused and switched to a password box).
      const input = ctx.page.locator('.quick-input-widget input[type="password"]');
      await input.waitFor({ timeout: 5000 }).catch((err) => {
        throw new Error("the secret key input box is not a password box", { cause: err });
      });
      // A bad key is refused in the box itself, with the reason; the valid one clears it.
      const message = ctx.page.locator(".quick-input-widget .quick-input-message");
      await input.fill("nsec1notakey");
      await message.filter({ hasText: "not a valid nsec" }).waitFor();
      await input.fill(nsec);
      await message.filter({ hasText: "It is kept in VS Code's secret storage only" }).waitFor();
      await ctx.screenshot("7-secret-key-input");
      await input.press("Enter");
      await ctx.waitForNotification(`now uses the Nostr identity ${npub}`);
      await waitForText(panel.locator("#npub"), npub);
      await ctx.screenshot("8-secret-key-set");

      const settingsFiles = [
        path.join(ctx.userDataDir, "User/settings.json"),
        path.join(ctx.workspace, ".vscode/settings.json"),
      ].filter((file) => fs.existsSync(file));
      assert.ok(settingsFiles.length > 0, "no settings.json found to check");
      for (const file of settingsFiles) {
        const text = fs.readFileSync(file, "utf8").toLowerCase();
        assert.ok(!text.includes(nsec) && !text.includes(hex), `${file} contains the secret key`);
      }

      // A new window: a fresh extension host finds the key in SecretStorage.
      await ctx.page.reload();
      const workbench = ctx.page.locator(".monaco-workbench");
      await workbench.waitFor({ timeout: 60_000 });
      await workbench.click();
      panel = await openPanel(ctx);
      await waitForText(panel.locator("#npub"), npub).catch((err) => {
        throw new Error("after a reload the panel does not show the key's npub: it was not kept in SecretStorage", { cause: err });
      });
      await ctx.screenshot("9-secret-key-after-reload");
    },
  },
];
