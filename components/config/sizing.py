"""Memory sizing rules shared by config validation and the benchmark.

Bytes per session are measured by `bench/` on real Redis (docs/benchmarks.md): Redis
`used_memory` growth divided by the number of sessions, for each repository type, as a
fixed overhead plus the payload. Keep these constants in step with the benchmark table.
"""
from __future__ import annotations

# used_memory per session = OVERHEAD[type] + PAYLOAD_FACTOR * payload bytes. Measured
# (bench/memory.py, Redis 7.0, 20k sessions, payloads 0.5/2/8 KB): default 732 B + 1.25x,
# indexed 1195 B + 1.25x; rounded up here.
SESSION_OVERHEAD_BYTES = {"default": 750, "indexed": 1200}
PAYLOAD_FACTOR = 1.25

# maxmemory must hold the declared peak with this headroom (login bursts, fragmentation).
SESSION_HEADROOM = 1.25

# The container needs room beyond maxmemory for the AOF-rewrite fork's copy-on-write
# pages, client buffers and the allocator: maxmemory <= 80% of the memory limit.
MAXMEMORY_MAX_FRACTION_OF_LIMIT = 0.80


def bytes_per_session(repository_type: str, payload_bytes: int) -> int:
    """Redis memory one live session costs, in bytes."""
    return int(SESSION_OVERHEAD_BYTES[repository_type] + PAYLOAD_FACTOR * payload_bytes)


def required_maxmemory(peak_sessions: int, payload_bytes: int, repository_type: str) -> int:
    """maxmemory (bytes) needed to hold `peak_sessions` without eviction, with headroom."""
    return int(peak_sessions * bytes_per_session(repository_type, payload_bytes) * SESSION_HEADROOM)
