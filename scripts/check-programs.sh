#!/usr/bin/env bash
# Checks that every program listed in scripts/programs.txt for a mode is on PATH (`command -v`),
# after scripts/ensure-deps.sh has run. Fails naming each missing program and the package that
# provides it, so a step missing from ensure-deps.sh shows here and not as a test's
# "No such file or directory".
# Usage: scripts/check-programs.sh run|test|package   (test and package include run's programs)
set -euo pipefail

want=${1:?usage: check-programs.sh run|test|package}
case "$want" in run | test | package) ;; *) echo "usage: check-programs.sh run|test|package" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"

missing=0
checked=0
while read -r program mode source; do
  case "$program" in '' | '#'*) continue ;; esac
  [ "$mode" = run ] || [ "$mode" = "$want" ] || continue
  checked=$((checked + 1))
  if command -v "$program" >/dev/null 2>&1 || [ -x "$cargo_bin/$program" ]; then
    continue
  fi
  # Debian's PostgreSQL server programs are not on PATH (crates/pgtest looks here first).
  for pg_bin in /usr/lib/postgresql/*/bin; do
    [ -x "$pg_bin/$program" ] && continue 2
  done
  case "$source" in
    cargo:*) how="cargo install ${source#cargo:} --locked" ;;
    ensure-deps:*) how="scripts/ensure-deps.sh installs it when needed" ;;
    rustup) how="Rust from https://rustup.rs" ;;
    *) how="apt-get install $source" ;;
  esac
  echo "missing program: $program (from $source: $how; scripts/ensure-deps.sh $want should install it)" >&2
  missing=$((missing + 1))
done <"$here/programs.txt"

if [ "$missing" -gt 0 ]; then
  echo "error: $missing of $checked programs needed for '$want' are missing" >&2
  exit 1
fi
echo "all $checked programs needed for '$want' are on PATH"
