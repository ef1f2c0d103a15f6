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
echo "== .venv (program + tests)"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -r requirements-dev.txt

echo "== helm (offline render of the pinned chart)"
bash scripts/install-helm.sh .venv

echo "== .venv-tools (kubernetes-validate, checkov, actionlint, CRD models)"
[ -x .venv-tools/bin/python ] || "$PY" -m venv .venv-tools
.venv-tools/bin/pip install -q --upgrade pip
.venv-tools/bin/pip install -q -r requirements-tools.txt
echo "== install done"
