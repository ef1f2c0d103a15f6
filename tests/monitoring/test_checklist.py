"""Daily checklist against a fake Prometheus on 127.0.0.1: OK, FAIL, unreachable."""
import json
import subprocess
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import promql_parser
import pytest

from monitoring.alerts import FRAGMENTATION_MIN_USED_BYTES
from monitoring.checklist import CHECKS, main
from simulators.loopback import HttpServer
from tests.harness import ROOT

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


HEALTHY = {"redis_up": 1, "active_sessions": 42, "redis_memory_used_bytes": 10 * MIB,
           "redis_evicted_keys_total": 0, "fragmentation": 1.2}


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
    for check in CHECKS:
        promql_parser.parse(check.query.format(ns='namespace="x"'))
        if check.guard:
            promql_parser.parse(check.guard.format(ns='namespace="x"'))
    assert [c.item for c in CHECKS] == ["redis_up", "sessions", "memory used", "evictions (24h)", "fragmentation"]


def test_all_ok_exits_zero(prometheus, capsys):
    assert main(["--prometheus", prometheus(HEALTHY), "--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["item", "value", "normal", "range", "status", "action"]
    assert out.count(" OK") == 5


def test_evictions_and_fragmentation_fail(prometheus, capsys):
    url = prometheus({**HEALTHY, "redis_evicted_keys_total": 12, "fragmentation": 2.3})
    assert main(["--prometheus", url, "--stack", "dev"]) == 1
    out = capsys.readouterr().out
    assert "raise redisMaxmemory" in out and "restart Redis" in out


def test_warnings_do_not_fail(prometheus, capsys):
    url = prometheus({**HEALTHY, "active_sessions": 101, "redis_memory_used_bytes": 90 * MIB})
    assert main(["--prometheus", url, "--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert "check memory" in out and "check evictions" in out and out.count("WARN") == 2


def test_redis_down_and_missing_data_fail(prometheus, capsys):
    url = prometheus({**HEALTHY, "redis_up": 0, "active_sessions": None})
    assert main(["--prometheus", url, "--stack", "dev"]) == 1
    out = capsys.readouterr().out
    assert "Redis is down" in out and "no data" in out


def test_fragmentation_of_a_near_empty_redis_is_not_judged(prometheus, capsys):
    guard = f"> {FRAGMENTATION_MIN_USED_BYTES}"
    url = prometheus({guard: None, **HEALTHY, "redis_memory_used_bytes": 2 * MIB, "fragmentation": 6.0})
    assert main(["--prometheus", url, "--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert "restart Redis" not in out and "not judged" in out and "6.00" in out


def test_fragmentation_below_one_warns(prometheus, capsys):
    assert main(["--prometheus", prometheus({**HEALTHY, "fragmentation": 0.8}), "--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert "WARN" in out and "swapped" in out


def test_thresholds_follow_the_stack(prometheus, capsys):
    # prod: sessionsHigh 50000 and 80% of 768mb; dev's bounds would flag both values.
    url = prometheus({**HEALTHY, "active_sessions": 40000, "redis_memory_used_bytes": 500 * MIB})
    main(["--prometheus", url, "--stack", "prod", "--namespace", "petclinic-dev"])
    out = capsys.readouterr().out
    assert "0 - 50000" in out and "0 - 614 MB" in out and "WARN" not in out


class _RejectingPrometheus:
    """Answers every query as Prometheus answers a bad one: HTTP 400 with a JSON error."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({"status": "error", "errorType": "bad_data",
                                   "error": "invalid parameter \"query\": 1:1: parse error:\nunexpected"}).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_query_error_is_one_line_exit_two(capsys):
    server = _RejectingPrometheus()
    try:
        assert main(["--prometheus", server.url, "--stack", "dev"]) == 2
    finally:
        server.close()
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "HTTP 400" in captured.err and "parse error: unexpected" in captured.err


def test_unreachable_prometheus_is_one_line_exit_two():
    proc = subprocess.run([str(ROOT / "scripts" / "checklist"), "--prometheus", "http://127.0.0.1:9", "--stack", "dev"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "cannot query Prometheus at http://127.0.0.1:9" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_unknown_stack_is_one_line_exit_two(capsys):
    assert main(["--prometheus", "http://127.0.0.1:9", "--stack", "staging"]) == 2
    assert "Pulumi.staging.yaml" in capsys.readouterr().err
