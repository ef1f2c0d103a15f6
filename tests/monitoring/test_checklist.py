"""Daily checklist against a fake Prometheus on 127.0.0.1: OK, FAIL, unreachable, slow, NaN."""
import json
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import promql_parser
import pytest

from components.monitoring.records import FRAGMENTATION_MIN_USED_BYTES
from components.monitoring.scope import scope_of
from simulators.loopback import HttpServer
from tests.harness import ROOT, load_settings
from tools.checklist import CHECKS, main, rows_to_run

MIB = 1024 * 1024


def serve(values):
    """Fake Prometheus answering instant queries from {metric substring: value or None}."""
    def respond(path):
        expr = urllib.parse.parse_qs(urllib.parse.urlparse(path).query)["query"][0]
        assert 'namespace="petclinic-dev"' in expr
        value = next((v for k, v in values.items() if k in expr), None)
        result = [] if value is None else [{"metric": {}, "value": [0, str(value)]}]
        return "application/json", json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()
    return HttpServer(respond)


HEALTHY = {"redis_up": 1, "active_sessions": 42, "count_failed": 0, "memory_used:percent": 10.4,
           "redis_evicted_keys_total": 0, "fragmentation": 1.2, "replicas_ready": 1, "up:sum": 1,
           "tomcat_sessions": 0, "jvm_memory_heap": 40, "tls_certificate_not_after": 200}
ROWS = ["redis_up", "sessions", "memory used", "evictions (24h)", "fragmentation", "TLS certificate expiry",
        "petclinic: session count",
        "petclinic: ready pods", "petclinic: metrics scraped", "petclinic: Tomcat sessions",
        "petclinic: JVM heap (max pod)"]


@pytest.fixture
def prometheus():
    servers = []

    def start(values):
        servers.append(serve(values))
        return f"http://{servers[-1].address}"
    yield start
    for s in servers:
        s.close()


def test_queries_parse():
    rows = rows_to_run(scope_of(load_settings("prod")))
    assert {check.item for check, _, _ in rows} == {c.item for c in CHECKS}
    for check, _, values in rows:
        promql_parser.parse(check.query.render(values))
        if check.explain_empty:
            promql_parser.parse(check.explain_empty.render(values))


def test_all_ok_exits_zero(prometheus, capsys):
    assert main(["--prometheus", prometheus(HEALTHY), "--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["item", "value", "normal", "range", "status", "action"]
    assert [line.split("  ")[0] for line in out.splitlines()[2:]] == ROWS
    assert out.count(" OK") == len(ROWS)


def test_login_loop_fails_the_checklist(prometheus, capsys):
    assert main(["--prometheus", prometheus({**HEALTHY, "tomcat_sessions": 3}), "--stack", "dev"]) == 1
    row = next(line for line in capsys.readouterr().out.splitlines() if "Tomcat sessions" in line)
    assert "FAIL" in row and "login loop" in row and "WasSessionsNotInRedis" in row


def test_app_not_scraped_fails_the_checklist(prometheus, capsys):
    url = prometheus({**HEALTHY, "up:sum": 0, "tomcat_sessions": None, "jvm_memory_heap": None})
    assert main(["--prometheus", url, "--stack", "dev"]) == 1
    out = capsys.readouterr().out
    assert "WasMetricsNotScraped" in out and "no Tomcat session metrics" in out


def test_evictions_and_fragmentation_fail(prometheus, capsys):
    url = prometheus({**HEALTHY, "redis_evicted_keys_total": 12, "fragmentation": 2.3})
    assert main(["--prometheus", url, "--stack", "dev"]) == 1
    out = capsys.readouterr().out
    assert "raise redisMaxmemory" in out and "restart Redis" in out


def test_an_app_not_counted_fails(prometheus, capsys):
    assert main(["--prometheus", prometheus({**HEALTHY, "count_failed": 1}), "--stack", "dev"]) == 1
    assert "SessionCountFailed" in capsys.readouterr().out


def test_warnings_do_not_fail(prometheus, capsys):
    url = prometheus({**HEALTHY, "active_sessions": 101, "memory_used:percent": 85})
    assert main(["--prometheus", url, "--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert "check memory" in out and "check evictions" in out and out.count("WARN") == 2


def test_redis_down_and_missing_data_fail(prometheus, capsys):
    url = prometheus({**HEALTHY, "redis_up": 0, "active_sessions": None})
    assert main(["--prometheus", url, "--stack", "dev"]) == 1
    out = capsys.readouterr().out
    assert "Redis is down" in out and "no data" in out


def test_fragmentation_of_a_near_empty_redis_is_not_judged(prometheus, capsys):
    # the recorded ratio is empty below 10 MB; the row says why instead of failing
    url = prometheus({**HEALTHY, "fragmentation": None, f"<= {FRAGMENTATION_MIN_USED_BYTES}": 2 * MIB})
    assert main(["--prometheus", url, "--stack", "dev"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("fragmentation"))
    assert "OK" in row and "not judged" in row


def test_fragmentation_missing_above_10_mb_is_no_data(prometheus, capsys):
    assert main(["--prometheus", prometheus({**HEALTHY, "fragmentation": None}), "--stack", "dev"]) == 1
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("fragmentation"))
    assert "FAIL" in row and "no data" in row


@pytest.mark.parametrize("item,key", [("redis_up", "redis_up"), ("fragmentation", "fragmentation"),
                                      ("evictions (24h)", "redis_evicted_keys_total"),
                                      ("petclinic: Tomcat sessions", "tomcat_sessions")])
def test_nan_reads_as_no_data_never_ok(prometheus, capsys, item, key):
    """NaN compares false with every bound, so a naive judge calls it OK (fragmentation did)."""
    main(["--prometheus", prometheus({**HEALTHY, key: "NaN"}), "--stack", "dev"])
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(item))
    assert " OK" not in row and "no" in row and "NaN" not in row.split("  ")[1], row


def test_fragmentation_below_one_warns(prometheus, capsys):
    assert main(["--prometheus", prometheus({**HEALTHY, "fragmentation": 0.8}), "--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert "WARN" in out and "swapped" in out


def test_thresholds_follow_the_stack(prometheus, capsys):
    # prod: sessionsHigh 50000 and 80% of 768mb; dev's bounds would flag both values.
    url = prometheus({**HEALTHY, "active_sessions": 40000, "replicas_ready": 3})
    main(["--prometheus", url, "--stack", "prod", "--namespace", "petclinic-dev"])
    out = capsys.readouterr().out
    assert "0 - 50000" in out and ">= 3" in out and "WARN" not in out


def _rejecting_prometheus() -> HttpServer:
    """Answers every query as Prometheus answers a bad one: HTTP 400 with a JSON error."""
    body = json.dumps({"status": "error", "errorType": "bad_data",
                       "error": "invalid parameter \"query\": 1:1: parse error:\nunexpected"}).encode()
    return HttpServer(lambda path: (400, "application/json", body))


def test_query_error_is_one_line_exit_two(capsys):
    server = _rejecting_prometheus()
    try:
        assert main(["--prometheus", f"http://{server.address}", "--stack", "dev"]) == 2
    finally:
        server.close()
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "HTTP 400" in captured.err and "parse error: unexpected" in captured.err


class _TricklingPrometheus:
    """Sends the headers of a 200 answer, then one byte every 5 s (never a whole answer in
    a bounded time, yet never silent long enough for a per-read timeout)."""

    def __init__(self):
        stop = self.stop = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "1000")
                self.end_headers()
                for _ in range(200):  # bounded: at most 1000 s, ended by close()
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    if stop.wait(5):
                        return

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_trickling_server_cannot_hold_the_checklist(capsys):
    server = _TricklingPrometheus()
    try:
        started = time.monotonic()
        code = main(["--prometheus", server.url, "--stack", "dev", "--deadline", "2"])
        elapsed = time.monotonic() - started
    finally:
        server.close()
    captured = capsys.readouterr()
    assert code == 2 and elapsed < 4, elapsed
    assert captured.err.count("\n") == 1 and "did not answer within the 2s deadline" in captured.err


def test_unreachable_prometheus_is_one_line_exit_two():
    proc = subprocess.run([str(ROOT / "scripts" / "checklist"), "--prometheus", "http://127.0.0.1:9", "--stack", "dev"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "cannot query Prometheus at http://127.0.0.1:9" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_unknown_stack_is_one_line_exit_two(capsys):
    assert main(["--prometheus", "http://127.0.0.1:9", "--stack", "staging"]) == 2
    assert "Pulumi.staging.yaml" in capsys.readouterr().err


def test_a_port_that_is_not_prometheus_is_named_in_one_line(capsys):
    server = HttpServer(lambda path: ("text/html", b"<html>Grafana</html>"))  # something else on the port
    url = f"http://{server.address}"
    try:
        assert main(["--prometheus", url, "--stack", "dev"]) == 2
    finally:
        server.close()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "other than the Prometheus API's JSON" in err and url in err, err
    assert "Expecting value" not in err


@pytest.mark.parametrize("url", ["localhost:9090", "127.0.0.1:9090", "ftp://localhost:9090", "http://"])
def test_a_url_without_an_http_scheme_is_named_in_one_line(url, capsys):
    assert main(["--prometheus", url, "--stack", "dev"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--prometheus {url!r} is not an http(s) URL" in err, err
    assert "unknown url type" not in err


@pytest.mark.parametrize("days,status", [(90, "OK"), (20, "WARN"), (3, "FAIL")])
def test_certificate_expiry_row_judges_the_days_left(prometheus, capsys, days, status):
    main(["--prometheus", prometheus({**HEALTHY, "tls_certificate_not_after": days}), "--stack", "dev"])
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("TLS certificate expiry"))
    assert f"{days} days" in row and f" {status}" in row
    if status != "OK":
        assert "RedisTlsCertificateExpiring" in row
