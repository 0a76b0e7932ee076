#!/usr/bin/env bash
# Bundles the release build into a .deb with the Tauri bundler's deb target: the desktop app
# (/usr/bin/teams-scheduler, its .desktop entry and icons) plus the command line and the tenant
# sandbox (/usr/bin/tsched, /usr/bin/tsched-sandbox), and the host agent's systemd user unit
# (/usr/lib/systemd/user/tsched-agent.service, from packaging/). `make package` builds the three
# release binaries first. Prints the path of the .deb.
set -euo pipefail
cd "$(dirname "$0")/.."

tauri=$(scripts/tauri-cli.sh)
target=${CARGO_TARGET_DIR:-target}
case "$target" in /*) ;; *) target="$PWD/$target" ;; esac
release="$target/release"
for bin in teams-scheduler tsched tsched-sandbox; do
  if [ ! -x "$release/$bin" ]; then
    echo "error: $release/$bin is missing: run \`make package\` (it builds the release binaries)" >&2
    exit 1
  fi
done

# tauri.conf.json maps /usr/bin/tsched{,-sandbox} to ../target/release; point them at the real
# target directory (CARGO_TARGET_DIR may move it). --config merges (JSON merge patch): the other
# files, the systemd unit among them, stay.
config=$(printf '{"bundle":{"linux":{"deb":{"files":{"/usr/bin/tsched":"%s","/usr/bin/tsched-sandbox":"%s"}}}}}' \
  "$release/tsched" "$release/tsched-sandbox")
out="$release/bundle/deb"
rm -rf "$out"
# From src-tauri, so the CLI takes this app's tauri.conf.json (the bench keeps another one).
(cd src-tauri && "$tauri" bundle --bundles deb --config "$config" >&2)

built=("$out"/*.deb)
if [ ${#built[@]} -ne 1 ] || [ ! -f "${built[0]}" ]; then
  echo "error: expected one .deb in $out, found: ${built[*]}" >&2
  exit 1
fi
# The bundler names the file after productName ("Teams Scheduler_…"); name it after the package.
name=$(dpkg-deb --field "${built[0]}" Package)
version=$(dpkg-deb --field "${built[0]}" Version)
arch=$(dpkg-deb --field "${built[0]}" Architecture)
deb="$out/${name}_${version}_${arch}.deb"
[ "${built[0]}" = "$deb" ] || mv "${built[0]}" "$deb"
echo "$(du -h "$deb" | cut -f1) $deb" >&2
echo "$deb"
