"""Known-CVE floor of the Redis and Sentinel images: the first patched release of each
supported Redis line, and the one check the config model runs on an image tag.

Sources (October 2025; the four CVEs share one set of fixed releases):
- Redis security advisory CVE-2025-49844 (https://redis.io/blog/security-advisory-cve-2025-49844/,
  GitHub advisory GHSA-4789-qfc9-5f9q on redis/redis): "Fixed in version 8.2.2"; workaround
  "use ACL to restrict EVAL and EVALSHA".
- Release notes of redis/redis 8.2.2, 8.0.4, 7.4.6, 7.2.11 and 6.2.20
  (https://github.com/redis/redis/releases/tag/<version>), section "Security fixes", each
  listing CVE-2025-49844, CVE-2025-46817, CVE-2025-46818 and CVE-2025-46819; the fixes are
  commits d5728cb57, fc9abc775, 45eac0262 and 3a1624da2 (cherry-picked to unstable in
  redis/redis pull request 14485); redis/docker-library-redis pull request 478 moves the
  official images to 6.2.20, 7.2.11 and 7.4.6 for the same four CVEs.

Every Redis release before these carries the four CVEs (all in the embedded Lua). Lines
that are not listed and older than the newest listed line (7.0, 6.0 and earlier, 8.1
milestones) received no fix; lines newer than 8.2 shipped with it.
"""
from __future__ import annotations

import re

CVES: dict[str, str] = {
    "CVE-2025-49844": "Lua use-after-free, remote code execution, CVSS 9.9",
    "CVE-2025-46817": "Lua integer overflow, remote code execution",
    "CVE-2025-46818": "Lua script runs in another user's context",
    "CVE-2025-46819": "Lua out-of-bounds read, crash",
}
"""The CVEs the floor guards against, with what each does."""

FIRST_PATCHED: dict[tuple[int, int], tuple[int, int, int]] = {
    (8, 2): (8, 2, 2),
    (8, 0): (8, 0, 4),
    (7, 4): (7, 4, 6),
    (7, 2): (7, 2, 11),
    (6, 2): (6, 2, 20),
}
"""First release of each supported line that fixes every CVE in CVES."""

_RELEASE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?![0-9])")


def release(tag: str) -> tuple[int, int, int] | None:
    """The Redis release an image tag names (`8.2.1-debian-12-r0` -> (8, 2, 1)); None when the
    tag names no major.minor.patch (`8.2`, `stable`, a build id)."""
    m = _RELEASE.match(tag)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def cve_id(text: str) -> str:
    if text not in CVES:
        raise ValueError(f"one of the CVEs the known-CVE floor guards against: {', '.join(CVES)}")
    return text


def floor_text() -> str:
    return ", ".join(".".join(map(str, v)) for v in FIRST_PATCHED.values())


def unpatched(tag: str) -> str | None:
    """Why the image tag is below the floor, or None when it is at or above it. A tag that
    names no release cannot be shown patched, so it is below the floor."""
    version = release(tag)
    if version is None:
        return "names no Redis release (major.minor.patch), so it cannot be shown to be patched"
    line = version[:2]
    if line in FIRST_PATCHED:
        fixed = FIRST_PATCHED[line]
        if version >= fixed:
            return None
        return f"is Redis {'.'.join(map(str, version))}, below the first patched {'.'.join(map(str, fixed))}"
    if line > max(FIRST_PATCHED):
        return None
    return f"is Redis {'.'.join(map(str, version))}, a line that received no fix (patched lines: {floor_text()})"
