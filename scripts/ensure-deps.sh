#!/usr/bin/env bash
# Installs what `make run`, `make test` or `make package` needs on Debian/Ubuntu, and nothing that is
# already there.
# Usage: scripts/ensure-deps.sh run|test|package
set -euo pipefail

want=${1:?usage: ensure-deps.sh run|test|package}
case "$want" in run | test | package) ;; *) echo "usage: ensure-deps.sh run|test|package" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")" && pwd)

# Tauri v2 build dependencies (+ libdbus for the keyring's Secret Service backend).
run_pkgs=(build-essential pkg-config libssl-dev libwebkit2gtk-4.1-dev libayatana-appindicator3-dev
  librsvg2-dev libxdo-dev libdbus-1-dev)
# Real-window tests: a virtual display, WebKit's WebDriver, a session bus and a Secret Service.
test_pkgs=(xvfb xauth webkit2gtk-driver dbus dbus-x11 gnome-keyring libsecret-tools python3 python3-venv)

pkgs=("${run_pkgs[@]}")
[ "$want" = test ] && pkgs+=("${test_pkgs[@]}")
# And the package of every program the tests and scripts spawn (scripts/programs.txt, which
# scripts/check-programs.sh checks afterwards).
while read -r program mode source; do
  case "$program" in '' | '#'*) continue ;; esac
  case "$source" in rustup | *:*) continue ;; esac
  if [ "$mode" = run ] || [ "$mode" = "$want" ]; then pkgs+=("$source"); fi
done <"$here/programs.txt"
# The .deb: the Tauri bundler comes from npm (scripts/tauri-cli.sh), unless a Tauri CLI 2.x or npm
# (e.g. from NodeSource, which ships nodejs with npm inside) is already there.
if [ "$want" = package ] && ! "$here/tauri-cli.sh" >/dev/null 2>&1 && ! command -v npm >/dev/null; then
  pkgs+=(nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing system packages: ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "error: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null; then
  echo "error: cargo not found. Install Rust (https://rustup.rs) and re-run." >&2
  exit 1
fi

if [ "$want" = package ]; then
  "$here/tauri-cli.sh" --install >/dev/null
fi

if [ "$want" = test ]; then
  cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
  if ! command -v tauri-driver >/dev/null && [ ! -x "$cargo_bin/tauri-driver" ]; then
    echo "Installing tauri-driver (WebDriver bridge for the real-window tests)"
    cargo install tauri-driver --locked --quiet
  fi
fi
