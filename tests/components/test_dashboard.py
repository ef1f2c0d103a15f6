"""Dashboard 007: four rows in order, correct queries, shared thresholds, valid layout."""
import json

import promql_parser
import pytest
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard as DashboardModel

from monitoring.dashboard import build, concrete, panel_queries
from tests.harness import STACKS, load_settings

ROWS = {
    "Redis status": ["Redis up", "Active sessions", "Connected clients", "Memory used", "Fragmentation"],
    "Session trends": ["Active sessions by app", "Memory % of maxmemory"],
    "Redis performance": ["Commands/s", "Evictions/s (each one logs a user out)"],
    "WAS pods": ["Pods per node", "Container memory (working set)", "JVM heap %"],
}


def rows_of(board):
    out, current = {}, None
    for panel in board["panels"]:
        if panel["type"] == "row":
            current = panel["title"]
            out[current] = []
        else:
            out[current].append(panel)
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_four_rows_in_order_with_their_panels(stack):
    rows = rows_of(build(load_settings(stack)))
    assert list(rows) == list(ROWS)
    assert {r: [p["title"] for p in ps] for r, ps in rows.items()} == ROWS


@pytest.mark.parametrize("stack", STACKS)
def test_every_query_parses_and_fixes_the_seed_errors(stack):
    s = load_settings(stack)
    queries = dict(panel_queries(s))
    for title, expr in queries.items():
        promql_parser.parse(concrete(expr, s.namespace))
    assert "redis_db_keys" not in " ".join(queries.values())  # counts keys, not sessions
    assert "spring_session:active_sessions" in queries["Active sessions"]
    assert "(redis_memory_max_bytes" in queries["Memory % of maxmemory"] and "> 0)" in queries["Memory % of maxmemory"]
    assert "container_memory_working_set_bytes" in queries["Container memory (working set)"]
    assert "jvm_memory_used_bytes" in queries["JVM heap %"] and "jvm_memory_heap_used_bytes" not in queries["JVM heap %"]
    assert 'jvm_memory_max_bytes{namespace="$namespace",area="heap"} > 0' in queries["JVM heap %"]
    assert "kube_pod_info" in queries["Pods per node"]


def test_thresholds_shared_with_alerts():
    s = load_settings("prod", {"thresholds": {"sessionsHigh": 777, "fragmentationCritical": 2.5}})
    panels = {p["title"]: p for p in build(s)["panels"] if p["type"] != "row"}
    steps = lambda title: [st["value"] for st in panels[title]["fieldConfig"]["defaults"]["thresholds"]["steps"]]  # noqa: E731
    assert 777 in steps("Active sessions")
    assert steps("Fragmentation")[-1] == 2.5
    assert panels["Memory used"]["fieldConfig"]["defaults"]["unit"] == "bytes"
    assert panels["Memory % of maxmemory"]["fieldConfig"]["defaults"]["unit"] == "percent"


def test_layout_ids_variables_and_sdk_round_trip():
    board = build(load_settings("prod"))
    cells = set()
    for p in board["panels"]:
        g = p["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps"
                cells.add((x, y))
        assert g["x"] + g["w"] <= 24
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert set(variables) == {"datasource", "namespace", "instance"}
    assert variables["instance"]["includeAll"] and variables["instance"]["allValue"] == ".*"
    for p in board["panels"]:
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${datasource}"
            assert all("$namespace" in t["expr"] for t in p["targets"])
    register_default_plugins()
    model = DashboardModel.from_json(json.loads(json.dumps(board)))
    assert model.title == board["title"] and len(model.panels) == len(board["panels"])


def test_program_ships_the_dashboard_to_grafana(program, stack):
    [cm] = [r for r in program.of_type("kubernetes:core/v1:ConfigMap") if "grafana_dashboard" in r.plain["metadata"]["labels"]]
    meta = cm.plain["metadata"]
    assert meta["labels"]["grafana_dashboard"] == "1" and meta["namespace"] == "monitoring"
    [(key, text)] = cm.plain["data"].items()
    assert key.endswith(".json") and json.loads(text)["title"].startswith("Dashboard 007")
