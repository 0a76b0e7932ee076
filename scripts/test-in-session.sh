#!/usr/bin/env bash
# Runs the whole test suite inside the virtual display and session bus that `make test` sets up
# (xvfb-run -a dbus-run-session), with an unlocked gnome-keyring as the real Secret Service.
# Usage: scripts/test-in-session.sh [cargo test arguments]
set -euo pipefail

# A throwaway keyring home, so the suite never touches a developer's real keyrings.
keyring_home=$(mktemp -d)
trap 'rm -rf "$keyring_home"' EXIT
export XDG_DATA_HOME="$keyring_home"
eval "$(printf %s pass | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
export TSCHED_TEST_SECRET_SERVICE=1

# With arguments, only what they select (e.g. `-p tsched-e2e --test first_run`); without, everything.
if [ $# -gt 0 ]; then
  cargo test "$@"
else
  cargo test --workspace --no-fail-fast
fi
