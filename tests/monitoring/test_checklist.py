"""Daily checklist against a fake Prometheus on 127.0.0.1: OK, FAIL, unreachable."""
import json
import subprocess
import sys
import urllib.parse

import promql_parser
import pytest

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


def test_unreachable_prometheus_is_one_line_exit_two():
    proc = subprocess.run([str(ROOT / "scripts" / "checklist"), "--prometheus", "http://127.0.0.1:9", "--stack", "dev"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "cannot query Prometheus at http://127.0.0.1:9" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_unknown_stack_is_one_line_exit_two(capsys):
    assert main(["--prometheus", "http://127.0.0.1:9", "--stack", "staging"]) == 2
    assert "Pulumi.staging.yaml" in capsys.readouterr().err
