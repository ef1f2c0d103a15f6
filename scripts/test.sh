#!/usr/bin/env bash
# Runs every check: ruff (lint), mypy (types), then pytest: unit (mock runtime),
# rendered-manifest judges (ours and the chart's), live monitoring on loopback, workflow
# lint, benchmark smoke. Extra arguments go to pytest.
# pytest runs on 2 workers (pytest-xdist), one test file at a time per worker, the files that
# wait on real processes (tests/live, tests/bench) handed out first (tests/conftest.py): the live
# tests mostly wait, so two of them side by side take little more than one. `-n 0` (as an extra
# argument) runs everything in one process, in pytest's order.
# Run from the repository root after scripts/install.sh: bash scripts/test.sh
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
[ -x .venv/bin/pytest ] || { echo "test.sh: .venv missing; run: bash scripts/install.sh" >&2; exit 2; }
export PATH="$PWD/.venv-tools/bin:$PATH"
rc=0
echo "== ruff"; .venv/bin/ruff check . || rc=1
echo "== mypy"; .venv/bin/mypy || rc=1
echo "== pytest"; .venv/bin/pytest -n 2 --dist loadfile --no-loadscope-reorder "$@"
prc=$?
# pytest exits 5 when it collected nothing: that is a failure here, not a pass.
if [ "$prc" -eq 5 ]; then echo "test.sh: pytest collected no tests" >&2; prc=1; fi
[ "$prc" -eq 0 ] || rc=$prc
exit "$rc"
