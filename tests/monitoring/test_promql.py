"""One PromQL template scheme (components/monitoring/promql.py): what a template does, every query
rendered for each of its readers (Prometheus rules, the dashboard, the checklist) parses,
and no monitoring module builds PromQL another way."""
import ast
import re
from pathlib import Path

import promql_parser
import pytest

from components import monitoring
from components.monitoring.alerts import rule_groups
from components.monitoring.dashboard import panel_queries, variables
from components.monitoring.promql import Promql, matchers, promql
from components.monitoring.scope import scope_of
from tests.harness import STACKS, load_settings
from tools import checklist
from tools.checklist import rows_to_run


def scope(stack):
    return scope_of(load_settings(stack))


def test_only_braced_names_are_placeholders():
    """PromQL braces, Grafana's $variables, Go templates and `$$` are text; a value is not read again."""
    text = 'up{${store},job="$job"}[$__rate_interval] {{ $value }} $$ ${n}'
    assert Promql(text).render({"store": 'a="${n}"', "n": 2}) == 'up{a="${n}",job="$job"}[$__rate_interval] {{ $value }} $$ 2'


def test_a_missing_value_is_an_error_not_a_blank():
    with pytest.raises(KeyError, match="namespace"):
        Promql("up{${namespace}}").render({"store": 'job="x"'})


def test_parts_fill_now_and_leave_the_rest():
    inner = promql("${metric}{${store}}", metric="redis_up")
    outer = promql("min(${inner}) > ${limit}", inner=inner, limit=1.5)
    assert outer.template == "min(redis_up{${store}}) > 1.5"
    store = matchers(namespace="ns", job="exporter")
    assert outer.render({"store": store}) == 'min(redis_up{namespace="ns",job="exporter"}) > 1.5'
    with pytest.raises(KeyError, match="metric"):  # a part for a placeholder the text lacks
        promql("up{${store}}", metric="x")
    with pytest.raises(ValueError, match="store"):  # text that render would read as a placeholder
        promql("up{${store}}", store="${namespace}")


GRAFANA = ("$namespace", "$job", "$instance", "$__rate_interval")


def interpolate(held: str, values: dict[str, str]) -> str:
    """Grafana's variable interpolation ($name -> its value), for the variables the board has."""
    return re.sub(r"\$(__rate_interval|namespace|job|instance)\b", lambda m: values[m.group(0)], held)


@pytest.mark.parametrize("stack", STACKS)
def test_every_query_renders_for_each_reader_and_parses(stack):
    """Prometheus rules (alerts, records, session count), the dashboard as held and as sent,
    and every checklist row: no placeholder left, valid PromQL."""
    s = scope(stack)
    rules = [r for g in rule_groups(s) for r in g["rules"]]
    assert len(rules) > 30
    for rule in rules:
        assert "${" not in str(rule), rule
        promql_parser.parse(rule["expr"])
    held = panel_queries(s)
    sent = panel_queries(s, variables(s.namespace, s.job, ".*", "1m"))
    assert len(held) == len(sent) > 15
    for (title, board), (_, query) in zip(held, sent, strict=True):
        assert "${" not in board and set(re.findall(r"\$\w+", board)) <= set(GRAFANA), title
        # Grafana interpolating the board's variables sends what the live tests run
        assert interpolate(board, dict(zip(GRAFANA, (s.namespace, s.job, ".*", "1m"), strict=True))) == query, title
        promql_parser.parse(query)
    rows = rows_to_run(s)
    assert len(rows) > 10
    for check, _, values in rows:
        for template in (check.query, check.explain_empty):
            if template is not None:
                promql_parser.parse(template.render(values))


def _modules() -> list[Path]:
    return sorted({*Path(monitoring.__file__).parent.glob("*.py"), Path(checklist.__file__)})


def _other_ways(path: Path) -> list[str]:
    """Ways of building PromQL other than `Promql`: an f-string writing a brace (PromQL
    matchers through Python's brace escapes), str.format / format_map, a replace of `$...`
    or of a placeholder byte (`\\0`), a regex substitution."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            if "{" in text or "}" in text:
                found.append(f"{path.name}:{node.lineno} f-string with braces")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name, args = node.func.attr, node.args
            if name in ("format", "format_map", "sub", "subn"):
                found.append(f"{path.name}:{node.lineno} .{name}(")
            if name == "replace" and args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str) \
                    and re.search(r"[${}\x00-\x08]", args[0].value):
                found.append(f"{path.name}:{node.lineno} .replace({args[0].value!r}")
    return found


def test_no_module_builds_promql_another_way():
    assert len(_modules()) >= 9
    assert [w for path in _modules() for w in _other_ways(path)] == []


def test_the_source_check_finds_the_old_ways(tmp_path):
    """The check above can fail: each mechanism this scheme replaced is found."""
    old = tmp_path / "old.py"
    old.write_text('ns = "x"\n'
                   'a = f"up{{{ns}}}"\n'
                   'b = "up{{{ns}}}".format(ns=ns)\n'
                   'c = "up{job=\\"$job\\"}".replace("$job", "exporter")\n'
                   'd = "{{ $value }}".replace("{{", "\\0")\n')
    assert [w.split()[0] for w in _other_ways(old)] == ["old.py:2", "old.py:3", "old.py:4", "old.py:5"]
