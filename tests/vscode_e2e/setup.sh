#!/usr/bin/env bash
# Installs what the real-VS-Code test needs, idempotently (README.md in this folder
# says why each step is there, and how to run code-server by hand):
#   - Debian packages chromium, ripgrep, libkrb5-dev (code-server's native module),
#     when missing and when this runs as root with apt-get;
#   - code-server 4.100.3 and playwright-core into ./node_modules. code-server's
#     @vscode/ripgrep postinstall downloads rg from GitHub: its cache is seeded with
#     a tarball of Debian's /usr/bin/rg so that it works offline.
# Exit 0 when everything is there, 3 when a prerequisite cannot be installed here.
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v chromium >/dev/null || need+=(chromium)
command -v rg >/dev/null || need+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${need[*]} with apt-get"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; }; then
      echo "apt-get could not install: ${need[*]}" >&2
      exit 3
    fi
  else
    echo "missing Debian packages: ${need[*]} (not root, or no apt-get)" >&2
    exit 3
  fi
fi

if [ -x node_modules/.bin/code-server ] && [ -d node_modules/playwright-core ]; then
  exit 0
fi
tmp="${TMPDIR:-/tmp}"
cache="$tmp/vscode-ripgrep-cache-1.15.11"
mkdir -p "$cache"
if [ ! -f "$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" ]; then
  work=$(mktemp -d)
  cp "$(command -v rg)" "$work/rg"
  tar -C "$work" -czf "$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" rg
  rm -rf "$work"
fi
export npm_config_yes=true npm_config_unsafe_perm=true
npm install --unsafe-perm --no-audit --no-fund --loglevel=error
test -x node_modules/.bin/code-server
