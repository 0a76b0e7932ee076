#!/usr/bin/env bash
# Finds the Tauri CLI (v2) that `make package` bundles with and prints its path.
#   scripts/tauri-cli.sh            print the path, or fail when there is none
#   scripts/tauri-cli.sh --install  install it first when there is none (ensure-deps.sh package)
# Order: $TAURI_CLI, an installed `cargo tauri` 2.x, then the npm package @tauri-apps/cli (a
# prebuilt binary, about 15 s to install; `cargo install tauri-cli` compiles for many minutes on
# two cores) kept in a per-user directory, pinned to the tauri crate's version in Cargo.lock.
set -euo pipefail

version=2.12.5
dir="${XDG_CACHE_HOME:-$HOME/.cache}/teams-scheduler/tauri-cli-$version"
npm_cli="$dir/node_modules/.bin/tauri"

is_v2() { "$1" --version 2>/dev/null | grep -q '^tauri-cli 2\.'; }

find_cli() {
  if [ -n "${TAURI_CLI:-}" ]; then
    is_v2 "$TAURI_CLI" && { echo "$TAURI_CLI"; return; }
    echo "error: TAURI_CLI=$TAURI_CLI is not a Tauri CLI 2.x" >&2
    return 1
  fi
  local cargo_tauri
  for cargo_tauri in "$(command -v cargo-tauri || true)" "${CARGO_HOME:-$HOME/.cargo}/bin/cargo-tauri"; do
    if [ -n "$cargo_tauri" ] && [ -x "$cargo_tauri" ] && is_v2 "$cargo_tauri"; then
      echo "$cargo_tauri"
      return
    fi
  done
  if [ -x "$npm_cli" ] && is_v2 "$npm_cli"; then
    echo "$npm_cli"
    return
  fi
  return 1
}

if find_cli; then
  exit 0
fi
if [ "${1:-}" != --install ]; then
  echo "error: no Tauri CLI 2.x: run scripts/ensure-deps.sh package (make package does)" >&2
  exit 1
fi
command -v npm >/dev/null || { echo "error: npm is missing (ensure-deps.sh package installs it)" >&2; exit 1; }
echo "Installing the Tauri CLI $version (npm package @tauri-apps/cli) into $dir" >&2
mkdir -p "$dir"
npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
  "@tauri-apps/cli@$version" >&2
find_cli
