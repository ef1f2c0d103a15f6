#!/usr/bin/env bash
# Runs every test: unit (mock runtime), rendered-manifest judges, live monitoring on
# loopback, workflow lint, benchmark smoke. Extra arguments go to pytest.
# Run from the repository root after scripts/install.sh: bash scripts/test.sh
set -uo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/pytest ] || { echo "test.sh: .venv missing; run: bash scripts/install.sh" >&2; exit 2; }
export PATH="$PWD/.venv-tools/bin:$PATH"
.venv/bin/pytest "$@"
rc=$?
# pytest exits 5 when it collected nothing: that is a failure here, not a pass.
if [ "$rc" -eq 5 ]; then echo "test.sh: pytest collected no tests" >&2; exit 1; fi
exit "$rc"
