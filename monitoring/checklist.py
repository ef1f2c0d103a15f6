"""The seed's daily checklist as a command, run against a Prometheus URL.

    scripts/checklist --prometheus http://localhost:9090 --stack prod

Prints item, value, normal range, status and action; exit 0 when every item is OK or
WARN, 1 when any item FAILs, 2 (one line on stderr) when Prometheus cannot be asked or
rejects a query. Thresholds come from the stack's config (Pulumi.yaml defaults overlaid
by Pulumi.<stack>.yaml, read offline), the same `Thresholds` object the alerts use.

Where the seed's fixed numbers became stack values:
- sessions: 0..thresholds.sessionsHigh (seed: 100); above -> WARN "check memory".
- memory used: 0..thresholds.memoryUsedPercentWarning % of the stack's maxmemory
  (seed: 64 MB of a 128 MB maxmemory; dev: 80% of 96mb = 77 MB); above -> WARN
  "check evictions". The bound follows maxmemory, so it needs no separate setting.
- fragmentation: 1.0..fragmentationWarning (1.5) OK, above WARN, >= fragmentationCritical
  (2.0) FAIL "restart Redis"; below 1.0 WARN (memory swapped). Like the alerts, the ratio
  is not judged while Redis holds < 10 MB (allocator overhead dominates RSS, so a
  near-empty Redis shows 5-10 without anything being wrong).
"""
from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from monitoring.alerts import FRAGMENTATION_MIN_USED_BYTES
from monitoring.scope import Scope, scope_of
from monitoring.session_count import RECORD

MIB = 1024 * 1024


@dataclass(frozen=True)
class Check:
    """One checklist item: a query and how to judge its value."""

    item: str
    """What is checked."""
    query: str
    """PromQL; `{ns}` is the namespace matcher."""
    normal: Callable[[Scope], str]
    """Normal range, as text."""
    judge: Callable[[float, Scope], tuple[str, str]]
    """value -> (status OK|WARN|FAIL, action)."""
    fmt: Callable[[float], str] = lambda v: f"{v:g}"
    """How the value is shown."""
    guard: str | None = None
    """PromQL (`{ns}` as in query); when it returns nothing the value is not judged (OK)."""
    guard_note: str = ""
    """Shown as the action when the guard skips the judgement."""


def _up(v, s):
    return ("OK", "") if v == 1 else ("FAIL", "Redis is down: see runbook RedisDown")


def _sessions(v, s):
    high = s.thresholds.sessions_high
    return ("OK", "") if v <= high else ("WARN", "sessions above threshold: check memory")


def _memory_limit(s) -> float:
    return s.maxmemory_bytes * s.thresholds.memory_used_percent_warning / 100


def _memory(v, s):
    return ("OK", "") if v <= _memory_limit(s) else ("WARN", "memory high: check evictions")


def _evictions(v, s):
    return ("OK", "") if v == 0 else ("FAIL", "sessions were evicted: raise redisMaxmemory")


def _fragmentation(v, s):
    t = s.thresholds
    if v >= t.fragmentation_critical:
        return "FAIL", "restart Redis (runbook RedisFragmentationCritical)"
    if v > t.fragmentation_warning:
        return "WARN", "fragmentation high: watch it"
    if v < 1.0:
        return "WARN", "ratio below 1.0: Redis memory is swapped, check node memory"
    return "OK", ""


CHECKS = (
    Check("redis_up", "min(redis_up{{{ns}}})", lambda s: "== 1", _up),
    Check("sessions", f"sum({RECORD}{{{{{{ns}}}}}})", lambda s: f"0 - {s.thresholds.sessions_high}", _sessions),
    Check("memory used", "max(redis_memory_used_bytes{{{ns}}})",
          lambda s: f"0 - {_memory_limit(s) / MIB:.0f} MB", _memory, lambda v: f"{v / MIB:.1f} MB"),
    Check("evictions (24h)", "sum(increase(redis_evicted_keys_total{{{ns}}}[24h]))", lambda s: "== 0", _evictions,
          lambda v: f"{v:.0f}"),
    Check("fragmentation", "max(redis_mem_fragmentation_ratio{{{ns}}})",
          lambda s: f"1.0 - {s.thresholds.fragmentation_warning:g}", _fragmentation, lambda v: f"{v:.2f}",
          guard="max(redis_memory_used_bytes{{{ns}}}) > " + str(FRAGMENTATION_MIN_USED_BYTES),
          guard_note=f"not judged: Redis holds < {FRAGMENTATION_MIN_USED_BYTES // MIB} MB"),
)


class PrometheusError(Exception):
    """Prometheus could not be asked; the message is one line."""


def query(url: str, expr: str, timeout: float = 10.0) -> float | None:
    """Instant query; the first sample's value, or None when the result is empty."""
    full = f"{url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    try:
        with urllib.request.urlopen(full, timeout=timeout) as response:
            body = json.load(response)
    except urllib.error.HTTPError as exc:  # a bad query is HTTP 400 with the reason in the JSON body
        try:
            reason = json.load(exc).get("error") or exc.reason
        except (ValueError, OSError, AttributeError):
            reason = exc.reason
        raise PrometheusError(f"Prometheus at {url} answered HTTP {exc.code} for {expr!r}: {_one_line(reason)}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PrometheusError(f"cannot query Prometheus at {url}: {reason}") from None
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error", "unknown error") if isinstance(body, dict) else "not a Prometheus API answer"
        raise PrometheusError(f"Prometheus rejected {expr!r}: {_one_line(error)}")
    try:
        result = body["data"]["result"]
        return float(result[0]["value"][1]) if result else None
    except (KeyError, IndexError, TypeError, ValueError):
        raise PrometheusError(f"Prometheus at {url} gave an unexpected answer for {expr!r}") from None


def _one_line(text) -> str:
    return " ".join(str(text).split())


def run(url: str, s: Scope) -> tuple[list[tuple[str, str, str, str, str]], int]:
    """Rows (item, value, normal, status, action) and the exit code."""
    ns = s.selector
    rows, failed = [], False
    for check in CHECKS:
        value = query(url, check.query.format(ns=ns))
        if value is None:
            status, action, shown = "FAIL", "no data: check the exporter and its ServiceMonitor", "-"
        elif check.guard and query(url, check.guard.format(ns=ns)) is None:
            status, action, shown = "OK", check.guard_note, check.fmt(value)
        else:
            (status, action), shown = check.judge(value, s), check.fmt(value)
        failed |= status == "FAIL"
        rows.append((check.item, shown, check.normal(s), status, action))
    return rows, 1 if failed else 0


def format_table(rows) -> str:
    header = ("item", "value", "normal range", "status", "action")
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Daily Redis session checklist against Prometheus.")
    parser.add_argument("--prometheus", required=True, help="Prometheus base URL, e.g. http://localhost:9090")
    parser.add_argument("--stack", required=True, help="stack whose namespace and thresholds apply (dev, prod)")
    parser.add_argument("--namespace", help="override the stack's namespace")
    args = parser.parse_args(argv)
    from settings.config import ConfigError
    from settings.pulumi_cli import PulumiCliError
    from settings.stackfile import load_settings

    try:
        overrides = {"namespace": args.namespace} if args.namespace else None
        scope = scope_of(load_settings(args.stack, overrides))
    except (FileNotFoundError, ConfigError, PulumiCliError) as exc:
        print(f"checklist: {exc}", file=sys.stderr)
        return 2
    try:
        rows, code = run(args.prometheus, scope)
    except PrometheusError as exc:
        print(f"checklist: {exc}", file=sys.stderr)
        return 2
    print(format_table(rows))
    return code


if __name__ == "__main__":
    sys.exit(main())
