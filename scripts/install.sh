#!/usr/bin/env bash
# Contributors only (README, Contributing). Operators run `pulumi install` (README, "Use
# it"); the GitHub workflows install only what each job needs (docs/ci.md).
# Installs everything the tests need on a fresh Debian machine:
#   - Debian packages: real redis-server, redis-sentinel, prometheus (+ promtool),
#     prometheus-redis-exporter, prometheus-alertmanager (the live tests run them);
#   - .venv        : the Pulumi program and its test dependencies (requirements-dev.txt),
#                    plus helm for the offline render (scripts/install-helm.sh);
#   - .venv-tools  : judges whose pins clash with pulumi's (requirements-tools.txt).
# Idempotent. Run from the repository root: bash scripts/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(redis-server redis-sentinel redis-tools prometheus prometheus-redis-exporter prometheus-alertmanager shellcheck)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

echo "== apt-get update && install: ${APT_PACKAGES[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null
# The Debian packages enable system services; the tests start their own processes on
# loopback with their own ports, so the system instances are stopped where possible.
for svc in redis-server redis-sentinel prometheus prometheus-redis-exporter prometheus-alertmanager prometheus-node-exporter; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $SUDO systemctl stop "$svc" || true
  fi
done
for bin in redis-server redis-sentinel redis-cli prometheus promtool prometheus-redis-exporter prometheus-alertmanager; do
  command -v "$bin" >/dev/null || { echo "install.sh: $bin missing after apt-get install" >&2; exit 1; }
done

PY="${PYTHON:-python3}"
# The two venvs are independent, so they are filled side by side (each takes about 20 s of one
# core from pip's cache on a fresh clone; a few seconds when already satisfied). Each one's
# output is kept and shown when it is done; a failure in either fails the install.
venv_install() {  # venv requirements-file
  set -e
  [ -x "$1/bin/python" ] || "$PY" -m venv "$1"
  "$1/bin/pip" install -q --upgrade pip
  "$1/bin/pip" install -q -r "$2"
}
logs="$(mktemp -d)"; trap 'rm -rf "$logs"' EXIT
echo "== .venv (program + tests: requirements-dev.txt) and .venv-tools (kubernetes-validate, checkov, actionlint, CRD models: requirements-tools.txt)"
venv_install .venv requirements-dev.txt >"$logs/venv" 2>&1 & venv_pid=$!
venv_install .venv-tools requirements-tools.txt >"$logs/tools" 2>&1 & tools_pid=$!
venv_rc=0; wait "$venv_pid" || venv_rc=$?
tools_rc=0; wait "$tools_pid" || tools_rc=$?
cat "$logs/venv" "$logs/tools"
[ "$venv_rc" -eq 0 ] || { echo "install.sh: .venv install failed (exit $venv_rc)" >&2; exit 1; }
[ "$tools_rc" -eq 0 ] || { echo "install.sh: .venv-tools install failed (exit $tools_rc)" >&2; exit 1; }

echo "== helm (offline render of the pinned chart)"
bash scripts/install-helm.sh .venv
echo "== install done"
