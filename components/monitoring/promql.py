"""The one way PromQL is written here: text with `${name}` placeholders (issue 21 item 5).

Alerts, recording rules, dashboard panels and checklist rows are `Promql` templates. One
template renders for every reader through the values it is given:

- `Scope.values(app)` (components/monitoring/scope.py): what the Prometheus rules and the checklist send
  (the store's and the namespace's label matchers, thresholds, the app's name and minimum);
- `dashboard.variables(...)` (components/monitoring/dashboard.py): the panels', Grafana's variables
  ($namespace, $job, $instance, $__rate_interval), or the values Grafana puts in their place.

Only `${name}` is a placeholder (string.Template with the braced form alone): PromQL's
braces, Grafana's `$variable` and the Go templates of annotations (`{{ $value }}`) are plain
text, so nothing is escaped, and a value is never scanned again for placeholders. A name the
values lack is an error (KeyError), never a silent blank.
"""
from __future__ import annotations

import string
from collections.abc import Mapping


class Promql(string.Template):
    """PromQL (or alert text) whose `${name}`s are filled by `render`."""

    pattern = r"""
    \$(?:
      (?P<escaped>(?!)) |             # no escape: `$$` is plain text
      (?P<named>(?!)) |               # no bare `$name`: Grafana's and Go templates' own
      \{(?P<braced>[_a-z][_a-z0-9]*)\} |
      (?P<invalid>(?!))               # any other `$` is plain text
    )
    """  # type: ignore[assignment]

    def render(self, values: Mapping[str, object]) -> str:
        """The text with every placeholder replaced by `str(values[name])`."""
        return self.substitute(values)

    def __repr__(self) -> str:
        return f"Promql({self.template!r})"


def promql(text: str, **parts: Promql | str | int | float) -> Promql:
    """A template. `parts` fill placeholders now: a `Promql` part puts its own template in
    (its placeholders stay for `render`), any other part its text (metric names, numbers,
    the app's name: text with a `$` is refused, it would be read as a placeholder later).
    The placeholders not given stay for `render`."""
    template = Promql(text)
    if unknown := set(parts) - set(template.get_identifiers()):
        raise KeyError(f"{sorted(unknown)} not in {text!r}")
    if tainted := [k for k, v in parts.items() if not isinstance(v, Promql) and "$" in str(v)]:
        raise ValueError(f"{tainted}: a part with '$' would be read as a placeholder by render")
    return Promql(template.safe_substitute({k: v.template if isinstance(v, Promql) else v for k, v in parts.items()}))


def matchers(**labels: str) -> str:
    """Label matchers without braces, in the order given: `namespace="ns",job="exporter"`."""
    return ",".join(f'{name}="{value}"' for name, value in labels.items())
