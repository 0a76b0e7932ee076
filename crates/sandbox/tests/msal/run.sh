#!/usr/bin/env bash
# MSAL + Microsoft Graph SDK for Python against the TLS sandbox (issue 21).
# Usage: run.sh PATH/TO/tsched-sandbox
# Makes (once) a venv in ${MSAL_VENV_DIR:-<workspace>/target/msal-venv} with requirements.txt from
# PyPI, starts `tsched-sandbox --tls --auto-consent`, runs msal_graph.py with the sandbox's CA
# trusted, and stops the sandbox. Exit 0 = every step passed. It never skips: a missing venv
# module or an unreachable PyPI fails with a message saying so.
set -euo pipefail

sandbox_bin=${1:?usage: run.sh PATH/TO/tsched-sandbox}
here=$(cd "$(dirname "$0")" && pwd)
workspace=$(cd "$here/../../../.." && pwd)
venv=${MSAL_VENV_DIR:-$workspace/target/msal-venv}

# Two test runs at once (two cargo test processes) must not build the same venv together.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if ! cmp -s "$here/requirements.txt" "$venv/.requirements.txt" || [ ! -x "$venv/bin/python" ]; then
  rm -rf "$venv"
  if ! python3 -m venv "$venv"; then
    echo "FAILED: python3 -m venv $venv (Debian: apt-get install python3-venv; scripts/ensure-deps.sh test installs it)" >&2
    exit 2
  fi
  if ! "$venv/bin/pip" install --disable-pip-version-check --quiet --timeout 60 -r "$here/requirements.txt"; then
    echo "FAILED: pip could not install $here/requirements.txt from PyPI (network?)" >&2
    rm -rf "$venv"
    exit 3
  fi
  cp "$here/requirements.txt" "$venv/.requirements.txt"
fi
flock -u 9

work=$(mktemp -d)
sandbox_pid=""
cleanup() {
  if [ -n "$sandbox_pid" ]; then kill "$sandbox_pid" 2>/dev/null || true; wait "$sandbox_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$sandbox_bin" --tls --auto-consent --ca-file "$work/ca.pem" >"$work/ready" 2>"$work/sandbox.log" &
sandbox_pid=$!
for _ in $(seq 1 100); do
  [ -s "$work/ready" ] && break
  sleep 0.1
done
if [ ! -s "$work/ready" ]; then
  echo "FAILED: tsched-sandbox --tls printed no ready line in 10 s" >&2
  cat "$work/sandbox.log" >&2
  exit 4
fi

# The ready line is JSON; read it with the venv's Python (no jq needed).
eval "$("$venv/bin/python" - "$work/ready" <<'PY'
import json, shlex, sys
d = json.loads(open(sys.argv[1]).readline())
for k, v in {"SANDBOX_BASE": d["base_url"], "SANDBOX_CA": d["ca_file"], "SANDBOX_TENANT": d["tenant_id"],
             "SANDBOX_CLIENT": d["client_id"], "SANDBOX_HOST_UPN": d["host_upn"]}.items():
    print(f"export {k}={shlex.quote(v)}")
PY
)"
# requests (used by MSAL) lets REQUESTS_CA_BUNDLE override a session's `verify=`, and many
# machines set it to the system bundle: point it at the sandbox's CA for this process only.
export REQUESTS_CA_BUNDLE="$SANDBOX_CA"
export SSL_CERT_FILE="$SANDBOX_CA"

# MSAL warns that response_mode=form_post is safer for web apps; a desktop app uses query.
"$venv/bin/python" -W ignore::UserWarning "$here/msal_graph.py"
