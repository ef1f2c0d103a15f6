"""Check chart values against the pinned Bitnami Redis chart's own values.yaml.

Helm silently ignores a values key the chart does not read, so a misspelt key
(``sentinel.downAfterMiliseconds``) deploys without error and without effect.
``unknown_keys`` reports such keys as dotted paths. The key tree is read from the
vendored chart (charts/redis-<version>.tgz), the same file `render` templates.

Tree shapes: nested dicts; ``{}`` for a free-form map (an empty map default, or one whose
keys contain dots, e.g. annotations), ``[]`` for a list, None for a scalar.
"""
from __future__ import annotations

import tarfile
from collections.abc import Iterable, Iterator
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

CHARTS = Path(__file__).resolve().parent.parent / "charts"
FREE_FORM, LIST = "{}", "[]"


def key_lines(values: dict, prefix: str = "") -> Iterator[str]:
    """The fixture's lines for a chart's values.yaml mapping."""
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and not any("." in str(k) for k in value):
            yield from key_lines(value, path + ".")
        elif isinstance(value, dict):
            yield f"{path} {FREE_FORM}"
        elif isinstance(value, list):
            yield f"{path} {LIST}"
        else:
            yield path


def key_tree(values: dict) -> dict:
    """The shape ``unknown_keys`` walks, from a values.yaml mapping."""
    tree: dict = {}
    for line in key_lines(values):
        dotted, _, marker = line.partition(" ")
        *parents, leaf = dotted.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = {FREE_FORM: {}, LIST: [], "": None}[marker]
    return tree


def load_chart_keys(version: str, chart: str = "redis") -> dict:
    """The key tree of the vendored chart's values.yaml for ``version``."""
    path = CHARTS / f"{chart}-{version}.tgz"
    if not path.is_file():
        raise FileNotFoundError(f"no vendored chart {path.name} (charts/README.md)")
    with tarfile.open(path) as tgz:
        values = yaml.safe_load(tgz.extractfile(f"{chart}/values.yaml").read())  # type: ignore[union-attr]
    return key_tree(values)


def unknown_keys(values: dict, chart: dict, *, free_form: Iterable[str] = (), _prefix: str = "") -> list[str]:
    """Dotted paths present in ``values`` but not in the chart's key tree.

    A dict in ``values`` is matched key by key against the chart's dict at the same place.
    Where the chart has a free-form map (podLabels, nodeSelector, resources, ...) or a
    list, anything below is accepted. Where it has a scalar, only the key's presence is
    checked.

    ``free_form`` (opt-in, empty by default) names further dotted paths, ``*`` matching one
    segment, below which anything is accepted. Use it for dicts the chart passes through
    to Kubernetes whole although its defaults list only some children: Bitnami's
    ``common.compatibility.renderSecurityContext`` renders every key of
    ``*.podSecurityContext`` / ``*.containerSecurityContext`` except ``enabled``.
    """
    free_form = tuple(free_form)
    found: list[str] = []
    for key, value in values.items():
        path = f"{_prefix}{key}"
        if not isinstance(chart, dict) or key not in chart:
            found.append(path)
            continue
        below: Any = chart[key]
        if any(_matches(path, pattern) for pattern in free_form):
            continue
        if isinstance(value, dict) and isinstance(below, dict) and below:
            found.extend(unknown_keys(value, below, free_form=free_form, _prefix=path + "."))
    return found


def _matches(path: str, pattern: str) -> bool:
    parts, pats = path.split("."), pattern.split(".")
    return len(parts) == len(pats) and all(fnmatchcase(a, b) for a, b in zip(parts, pats, strict=True))
