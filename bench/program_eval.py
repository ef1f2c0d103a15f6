"""Measure 5: wall time of the mocked run of __main__.py for each stack."""
from __future__ import annotations

import statistics
import time

from render.mockrun import STACKS, run_program


def measure(repeats: int) -> list[dict]:
    """Run the program `repeats` times per stack; one warm-up run is discarded."""
    rows = []
    for stack in STACKS:
        run = run_program(stack)  # warm-up: imports, plugin schemas
        if run.error:
            raise RuntimeError(f"{stack}: {run.error}")
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run = run_program(stack)
            times.append(time.perf_counter() - start)
            if run.error:
                raise RuntimeError(f"{stack}: {run.error}")
        rows.append({
            "stack": stack,
            "resources": len(run.resources),
            "runs": repeats,
            "median_ms": round(statistics.median(times) * 1000, 1),
            "max_ms": round(max(times) * 1000, 1),
        })
    return rows
