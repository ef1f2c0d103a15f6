"""Dashboard 007: the seed's four rows and the login-loop row in order, queries reading the
shared recording rules, shared thresholds, valid layout."""
import json

import promql_parser
import pytest
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard as DashboardModel

from components.monitoring import records as rec
from components.monitoring.dashboard import build, panel_queries, variables
from components.monitoring.records import FRAGMENTATION_MIN_USED_BYTES
from components.monitoring.scope import scope_of
from tests.harness import STACKS, load_settings


def scope(stack, overrides=None):
    return scope_of(load_settings(stack, overrides))


def sent(s):
    """What Grafana sends for the scope's store, every instance picked."""
    return variables(s.namespace, s.job, ".*", "1m")

ROWS = {
    "Redis status": ["Redis up", "Active sessions", "Apps not counted", "Connected clients",
                     "Memory used (% of maxmemory)", "Fragmentation"],
    "Session trends": ["Active sessions by app", "Memory % of maxmemory"],
    "Redis performance": ["Commands/s", "Evictions/s (each one logs a user out)"],
    "WAS pods": ["Ready pods", "Pods per node", "Container memory (working set)", "JVM heap %"],
    "WAS sessions (login loop)": ["Sessions in Tomcat (login loop if > 0)", "Pods scraped",
                                  "Requests/s (actuator excluded)"],
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
def test_rows_in_order_with_their_panels(stack):
    rows = rows_of(build(scope(stack)))
    assert list(rows) == list(ROWS)
    assert {r: [p["title"] for p in ps] for r, ps in rows.items()} == ROWS


@pytest.mark.parametrize("stack", STACKS)
def test_every_query_parses_and_fixes_the_seed_errors(stack):
    s = scope(stack)
    queries = dict(panel_queries(s))
    for _title, expr in panel_queries(s, sent(s)):
        promql_parser.parse(expr)
    assert "redis_db_keys" not in " ".join(queries.values())  # counts keys, not sessions
    assert "spring_session:active_sessions" in queries["Active sessions"]
    assert rec.REDIS_MEMORY_PERCENT in queries["Memory % of maxmemory"]  # guarded for maxmemory 0 there
    assert rec.REDIS_MEMORY_PERCENT in queries["Memory used (% of maxmemory)"]
    assert "container_memory_working_set_bytes" in queries["Container memory (working set)"]
    assert queries["JVM heap %"].startswith(rec.JVM_HEAP_PERCENT)
    assert "kube_pod_info" in queries["Pods per node"] and rec.WAS_POD in queries["Pods per node"]
    assert not [t for t, q in queries.items() if "pod=~" in q]  # pods from the workload rule, not a name regex
    assert queries["Sessions in Tomcat (login loop if > 0)"].startswith(rec.TOMCAT_SESSIONS)


def test_fragmentation_stat_is_not_judged_below_10_mb():
    """The stat reads the judged record (empty below 10 MB) and says so instead of turning red."""
    panel = next(p for p in build(scope("dev"))["panels"] if p["title"] == "Fragmentation")
    selector = 'namespace="$namespace",job="$job",instance=~"$instance"'
    assert panel["targets"][0]["expr"] == f"max({rec.REDIS_FRAGMENTATION}{{{selector}}})"
    mib = FRAGMENTATION_MIN_USED_BYTES // 2**20
    assert panel["fieldConfig"]["defaults"]["noValue"] == f"not judged (< {mib} MB used)"
    record = next(r for r in rec.recording_rules(scope("dev")) if r["record"] == rec.REDIS_FRAGMENTATION)
    store = 'namespace="petclinic-dev",job="redis-exporter"'
    assert record["expr"].endswith(f"redis_memory_used_bytes{{{store}}} > {FRAGMENTATION_MIN_USED_BYTES}")


def test_thresholds_shared_with_alerts():
    s = scope("prod", {"thresholds": {"sessionsHigh": 777, "fragmentationCritical": 2.5}})
    panels = {p["title"]: p for p in build(s)["panels"] if p["type"] != "row"}
    steps = lambda title: [st["value"] for st in panels[title]["fieldConfig"]["defaults"]["thresholds"]["steps"]]
    assert 777 in steps("Active sessions")
    assert steps("Fragmentation")[-1] == 2.5
    assert panels["Memory used (% of maxmemory)"]["fieldConfig"]["defaults"]["unit"] == "percent"
    assert steps("Memory used (% of maxmemory)")[1:] == [80, 90]
    assert panels["Memory % of maxmemory"]["fieldConfig"]["defaults"]["unit"] == "percent"


def test_layout_ids_variables_and_sdk_round_trip():
    board = build(scope("prod"))
    cells = set()
    for p in board["panels"]:
        g = p["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps"
                cells.add((x, y))
        assert g["x"] + g["w"] <= 24
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert set(variables) == {"datasource", "namespace", "job", "instance"}
    assert variables["instance"]["includeAll"] and variables["instance"]["allValue"] == ".*"
    for p in board["panels"]:
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${datasource}"
            assert all("$namespace" in t["expr"] for t in p["targets"])
    register_default_plugins()
    model = DashboardModel.from_json(json.loads(json.dumps(board)))
    assert model.title == board["title"] and len(model.panels) == len(board["panels"])


@pytest.mark.parametrize("stack", STACKS)
def test_panel_ids_targets_and_datasources(stack):
    s = scope(stack)
    board = build(s)
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids)
    exprs = []
    for p in board["panels"]:
        if p["type"] == "row":
            assert p["gridPos"]["w"] == 24 and not p.get("targets")
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert [t["refId"] for t in p["targets"]] == ["A"], p["title"]
        for t in p["targets"]:
            assert t["datasource"] == p["datasource"]
            exprs.append(t["expr"])
        assert p["gridPos"]["y"] > 0
    assert exprs == [expr for _, expr in panel_queries(s)]  # panel_queries is what the board runs
    for expr in panel_queries(s, sent(s)):  # what Grafana will send
        promql_parser.parse(expr[1])
    # Each row's panels share its y and fill the 24 columns.
    for row, panels in rows_of(board).items():
        assert len({p["gridPos"]["y"] for p in panels}) == 1, row
        assert sum(p["gridPos"]["w"] for p in panels) == 24, row


def test_instance_variable_scopes_redis_queries_and_namespace_scopes_all():
    queries = dict(panel_queries(scope("dev")))
    scoped = []
    for title, expr in queries.items():
        assert 'namespace="$namespace"' in expr, title
        if "redis_" in expr:  # exporter series: the store (job) and instance pickers apply
            assert expr.count("redis_") == expr.count('job="$job",instance=~"$instance"'), title
            scoped.append(title)
    assert len(scoped) == 7


def test_program_ships_the_dashboard_to_grafana(program, stack):
    [cm] = [r for r in program.of_type("kubernetes:core/v1:ConfigMap") if "grafana_dashboard" in r.plain["metadata"]["labels"]]
    meta = cm.plain["metadata"]
    assert meta["labels"]["grafana_dashboard"] == "1" and meta["namespace"] == "monitoring"
    [(key, text)] = cm.plain["data"].items()
    assert key.endswith(".json") and json.loads(text)["title"].startswith("Dashboard 007")
