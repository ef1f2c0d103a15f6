"""The seed's daily checklist as a command, run against a Prometheus URL.

    scripts/checklist --prometheus http://localhost:9090 --stack prod [--deadline 30]

Prints item, value, normal range, status and action; exit 0 when every item is OK or
WARN, 1 when any item FAILs, 2 (one line on stderr) when Prometheus cannot be asked,
rejects a query, or has not answered every query within the deadline (one deadline for
the whole run, not per read: a server that trickles its answer cannot hold it). Thresholds
come from the stack's config (Pulumi.yaml defaults overlaid by Pulumi.<stack>.yaml, read
offline), the same `Thresholds` object the alerts use; derived values come from the same
recording rules (components/monitoring/records.py) the alerts and the dashboard read.

Where the seed's fixed numbers became stack values:
- sessions: 0..thresholds.sessionsHigh (seed: 100); above -> WARN "check memory".
- memory used, as % of maxmemory (seed: 64 MB of a 128 MB maxmemory = 50 %): above
  thresholds.memoryUsedPercentWarning WARN "check evictions", above the critical FAIL.
- fragmentation: 1.0..fragmentationWarning (1.5) OK, above WARN, >= fragmentationCritical
  (2.0) FAIL "restart Redis"; below 1.0 WARN (memory swapped). Like the alerts, the ratio
  is not judged while Redis holds < 10 MB (allocator overhead dominates RSS, so a
  near-empty Redis shows 5-10 without anything being wrong).
Per WAS app: session count (0 = counted; 1 = the count failed or the app's Redis DB does
not match its config, FAIL), ready pods (>= minReplicas), metrics scraped, sessions in
Tomcat (== 0, else the login loop), JVM heap.

A value Prometheus gives as NaN reads as "no data", never as a value that passes.
"""
from __future__ import annotations

import argparse
import http.client
import json
import math
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from components.config.app import WasAppSettings
from components.monitoring import certificates as cert
from components.monitoring import records as rec
from components.monitoring.promql import Promql, promql
from components.monitoring.records import FRAGMENTATION_MIN_USED_BYTES, MIB
from components.monitoring.scope import Scope, scope_of
from components.monitoring.session_count import COUNT_FAILED, RECORD, STORE_MISMATCH

DEADLINE_SECONDS = 30.0
NO_DATA = ("FAIL", "no data: check the exporter and its ServiceMonitor")
App = WasAppSettings | None


@dataclass(frozen=True)
class Check:
    """One checklist item: a query and how to judge its value."""

    item: str
    """What is checked; per-app items are prefixed with the app name."""
    query: Promql
    """PromQL, rendered with `Scope.values` (the app's for per_app rows): `${store}` is the
    store's matchers, `${app}` (per_app) the namespace's plus app="<name>"."""
    normal: Callable[[Scope, App], str]
    """Normal range, as text."""
    judge: Callable[[float, Scope, App], tuple[str, str]]
    """value -> (status OK|WARN|FAIL, action)."""
    fmt: Callable[[float], str] = lambda v: f"{v:g}"
    """How the value is shown."""
    per_app: bool = False
    """One row per WAS app."""
    empty: tuple[str, str] = NO_DATA
    """(status, action) when the query returns nothing (or NaN)."""
    explain_empty: Promql | None = None
    """PromQL (rendered as `query`); when the value is empty and this returns something, the
    row is OK with `explain_note` (an empty value that is expected)."""
    explain_note: str = ""


def _up(v, s, app):
    return ("OK", "") if v == 1 else ("FAIL", "Redis is down: see runbook RedisDown")


def _sessions(v, s, app):
    return ("OK", "") if v <= s.thresholds.sessions_high else ("WARN", "sessions above threshold: check memory")


def _memory(v, s, app):
    t = s.thresholds
    if v > t.memory_used_percent_critical:
        return "FAIL", "evictions imminent: raise redisMaxmemory (runbook RedisMemoryHigh)"
    return ("OK", "") if v <= t.memory_used_percent_warning else ("WARN", "memory high: check evictions")


def _evictions(v, s, app):
    return ("OK", "") if v == 0 else ("FAIL", "sessions were evicted: raise redisMaxmemory")


def _fragmentation(v, s, app):
    t = s.thresholds
    if v >= t.fragmentation_critical:
        return "FAIL", "restart Redis (runbook RedisFragmentationHigh)"
    if v > t.fragmentation_warning:
        return "WARN", "fragmentation high: watch it"
    if v < 1.0:
        return "WARN", "ratio below 1.0: Redis memory is swapped, check node memory"
    return "OK", ""


def _counted(v, s, app):
    return ("OK", "") if v == 0 else ("FAIL", "not counted: runbook SessionCountFailed or SessionStoreMismatch")


def _ready(v, s, app):
    return ("OK", "") if v >= app.min_replicas else ("WARN", "fewer ready pods than minReplicas (runbook WasPodsBelowMinimum)")


def _scraped(v, s, app):
    return ("OK", "") if v >= 1 else ("FAIL", "/actuator/prometheus not scraped (runbook WasMetricsNotScraped)")


def _tomcat(v, s, app):
    return ("OK", "") if v == 0 else ("FAIL", "login loop: sessions kept in Tomcat, not Redis (runbook WasSessionsNotInRedis)")


def _heap(v, s, app):
    return ("OK", "") if v <= s.thresholds.jvm_heap_percent_warning else ("WARN", "JVM heap high (runbook WasJvmHeapHigh)")


def _cert_days(v, s, app):
    if v < cert.CRITICAL_DAYS:
        return "FAIL", "a Redis TLS certificate expires within 7 days: pulumi up now (runbook RedisTlsCertificateExpiring)"
    if v < cert.WARNING_DAYS:
        return "WARN", "a Redis TLS certificate expires within 30 days: pulumi up (runbook RedisTlsCertificateExpiring)"
    return "OK", ""


def _percent(v: float) -> str:
    return f"{v:.1f} %"


CHECKS = (
    Check("redis_up", promql("min(redis_up{${store}})"), lambda s, a: "== 1", _up),
    Check("sessions", promql("sum(${sessions}{${store}})", sessions=RECORD),
          lambda s, a: f"0 - {s.thresholds.sessions_high}", _sessions),
    Check("memory used", promql("max(${memory}{${store}})", memory=rec.REDIS_MEMORY_PERCENT),
          lambda s, a: f"0 - {s.thresholds.memory_used_percent_warning:g} % of maxmemory", _memory, _percent),
    Check("evictions (24h)", promql("sum(increase(redis_evicted_keys_total{${store}}[24h]))"), lambda s, a: "== 0",
          _evictions, lambda v: f"{v:.0f}"),
    Check("fragmentation", promql("max(${fragmentation}{${store}})", fragmentation=rec.REDIS_FRAGMENTATION),
          lambda s, a: f"1.0 - {s.thresholds.fragmentation_warning:g}", _fragmentation, lambda v: f"{v:.2f}",
          explain_empty=promql("max(redis_memory_used_bytes{${store}}) <= ${min_used}",
                               min_used=FRAGMENTATION_MIN_USED_BYTES),
          explain_note=f"not judged: Redis holds < {FRAGMENTATION_MIN_USED_BYTES // MIB} MB"),
    Check("session count", promql("max(${failed}{${app}} == 1 or ${mismatch}{${app}} == 1) or max(${failed}{${app}})",
                                  failed=COUNT_FAILED, mismatch=STORE_MISMATCH),
          lambda s, a: "counted (0)", _counted, lambda v: f"{v:.0f}", per_app=True),
    Check("ready pods", promql("max(${ready}{${app}})", ready=rec.WAS_READY),
          lambda s, a: f">= {a.min_replicas if a else 1}", _ready,
          per_app=True, empty=("FAIL", "no data: check kube-state-metrics")),
    Check("metrics scraped", promql("sum(${scraped}{${app}})", scraped=rec.WAS_METRICS_UP), lambda s, a: ">= 1 pod",
          _scraped, per_app=True,
          empty=("FAIL", "no scrape target: PodMonitor not selected (runbook WasMetricsNotScraped)")),
    Check("Tomcat sessions", promql("sum(${tomcat}{${app}})", tomcat=rec.TOMCAT_SESSIONS), lambda s, a: "== 0",
          _tomcat, per_app=True, empty=("WARN", "no Tomcat session metrics: app not scraped, or not on Tomcat")),
    Check("JVM heap (max pod)", promql("max(${heap}{${app}})", heap=rec.JVM_HEAP_PERCENT),
          lambda s, a: f"0 - {s.thresholds.jvm_heap_percent_warning:g} %", _heap, _percent, per_app=True,
          empty=("WARN", "no JVM metrics: app not scraped")),
    Check("TLS certificate expiry", promql("(min(${record}{${store}}) - time()) / ${day}", record=cert.RECORD,
                                           day=cert.DAY),
          lambda s, a: f">= {cert.WARNING_DAYS} days left", _cert_days, fmt=lambda v: f"{v:.0f} days",
          empty=("FAIL", "no certificate recorded: is the program's PrometheusRule loaded?")),
)


class PrometheusError(Exception):
    """Prometheus could not be asked; the message is one line."""


def _ask(url: str, expr: str, timeout: float) -> float | None:
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
    except json.JSONDecodeError:
        raise PrometheusError(f"{url} answered {expr!r} with something other than the Prometheus API's JSON: "
                              "is it Prometheus's address and port (e.g. http://localhost:9090)?") from None
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise PrometheusError(f"cannot query Prometheus at {url}: {reason}") from None
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error", "unknown error") if isinstance(body, dict) else "not a Prometheus API answer"
        raise PrometheusError(f"Prometheus rejected {expr!r}: {_one_line(error)}")
    try:
        result = body["data"]["result"]
        value = float(result[0]["value"][1]) if result else None
    except (KeyError, IndexError, TypeError, ValueError):
        raise PrometheusError(f"Prometheus at {url} gave an unexpected answer for {expr!r}") from None
    return None if value is None or math.isnan(value) else value


class Deadline:
    """One deadline for a whole run (time.monotonic based)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.at - time.monotonic()


def query(url: str, expr: str, deadline: Deadline | None = None) -> float | None:
    """Instant query: the first sample's value, or None when the result is empty or NaN.
    Gives up when `deadline` passes, whatever the server does: urllib's timeout bounds each
    socket read, not the answer, so the request runs in a daemon thread that is abandoned
    (the process exits soon after)."""
    deadline = deadline or Deadline(DEADLINE_SECONDS)
    remaining = deadline.remaining()
    if remaining <= 0:
        raise PrometheusError(f"Prometheus at {url} did not answer within the {deadline.seconds:g}s deadline")
    outcome: list = []

    def ask() -> None:
        try:
            outcome.append(_ask(url, expr, remaining))
        except PrometheusError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=ask, name="checklist-query", daemon=True)
    worker.start()
    worker.join(remaining)
    if not outcome:
        raise PrometheusError(f"Prometheus at {url} did not answer within the {deadline.seconds:g}s deadline")
    if isinstance(outcome[0], PrometheusError):
        raise outcome[0]
    return outcome[0]


def _one_line(text) -> str:
    return " ".join(str(text).split())


def rows_to_run(s: Scope) -> list[tuple[Check, App, dict[str, object]]]:
    """(check, app or None, values its queries are rendered with) for every row, in order:
    store rows, then per app."""
    out: list[tuple[Check, App, dict[str, object]]] = [(c, None, s.values()) for c in CHECKS if not c.per_app]
    for app in s.apps:
        out += [(c, app, s.values(app)) for c in CHECKS if c.per_app]
    return out


def run(url: str, s: Scope, deadline_seconds: float = DEADLINE_SECONDS) -> tuple[list[tuple[str, str, str, str, str]], int]:
    """Rows (item, value, normal, status, action) and the exit code."""
    deadline = Deadline(deadline_seconds)
    rows, failed = [], False
    for check, app, values in rows_to_run(s):
        value = query(url, check.query.render(values), deadline)
        if value is not None:
            (status, action), shown = check.judge(value, s, app), check.fmt(value)
        elif check.explain_empty and query(url, check.explain_empty.render(values), deadline) is not None:
            status, action, shown = "OK", check.explain_note, "-"
        else:
            (status, action), shown = check.empty, "-"
        failed |= status == "FAIL"
        item = f"{app.name}: {check.item}" if app else check.item
        rows.append((item, shown, check.normal(s, app), status, action))
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
    parser.add_argument("--deadline", type=float, default=DEADLINE_SECONDS,
                        help=f"seconds for the whole run (default {DEADLINE_SECONDS:g}); exit 2 when it passes")
    args = parser.parse_args(argv)
    from components.config.config import ConfigError
    from tools.pulumi_cli import PulumiCliError
    from tools.stackfile import load_settings

    try:
        overrides = {"namespace": args.namespace} if args.namespace else None
        scope = scope_of(load_settings(args.stack, overrides))
    except (FileNotFoundError, ConfigError, PulumiCliError) as exc:
        print(f"checklist: {exc}", file=sys.stderr)
        return 2
    parts = urllib.parse.urlsplit(args.prometheus)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        print(f"checklist: --prometheus {args.prometheus!r} is not an http(s) URL with a host: give the scheme, "
              "e.g. http://localhost:9090", file=sys.stderr)
        return 2
    try:
        rows, code = run(args.prometheus, scope, args.deadline)
    except PrometheusError as exc:
        print(f"checklist: {exc}", file=sys.stderr)
        return 2
    print(format_table(rows))
    return code


if __name__ == "__main__":
    sys.exit(main())
