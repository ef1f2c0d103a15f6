"""unknown_keys on tiny dicts, and the vendored chart's own values.yaml."""
from __future__ import annotations

import pytest

from tests.chart_keys import key_lines, key_tree, load_chart_keys, unknown_keys

CHART = {
    "architecture": "replication",
    "auth": {"enabled": True, "existingSecret": ""},
    "master": {
        "podLabels": {},
        "resources": {},
        "extraFlags": [],
        "podSecurityContext": {"enabled": True, "fsGroup": 1001, "sysctls": []},
        "persistence": {"size": "8Gi", "storageClass": ""},
    },
    "sentinel": {"downAfterMilliseconds": 60000},
}


def test_valid_keys_pass():
    values = {
        "architecture": "standalone",
        "auth": {"enabled": False},
        "master": {"persistence": {"size": "1Gi"}, "podSecurityContext": {"fsGroup": 2000}},
        "sentinel": {"downAfterMilliseconds": 5000},
    }
    assert unknown_keys(values, CHART) == []


def test_misspelt_keys_are_reported_with_their_dotted_path():
    values = {
        "architecure": "replication",
        "sentinel": {"downAfterMiliseconds": 5000},
        "master": {"persistence": {"sise": "1Gi", "size": "1Gi"}},
    }
    assert unknown_keys(values, CHART) == [
        "architecure",
        "sentinel.downAfterMiliseconds",
        "master.persistence.sise",
    ]


def test_free_form_maps_and_lists_accept_anything_below():
    values = {
        "master": {
            "podLabels": {"team": "x", "any": {"nested": 1}},
            "resources": {"requests": {"cpu": "1"}, "limits": {"memory": "1Gi"}},
            "extraFlags": ["--maxmemory-policy volatile-ttl"],
            "podSecurityContext": {"sysctls": [{"name": "net.core.somaxconn", "value": "1024"}]},
        }
    }
    assert unknown_keys(values, CHART) == []


def test_scalars_are_checked_by_key_presence_only():
    # A scalar default (storageClass "") does not restrict what is given in its place.
    values = {"master": {"persistence": {"storageClass": {"odd": "shape"}}}}
    assert unknown_keys(values, CHART) == []


def test_a_key_below_a_non_free_form_dict_must_exist():
    values = {"master": {"podSecurityContext": {"fsGroupChangePolicy": "OnRootMismatch"}}}
    assert unknown_keys(values, CHART) == ["master.podSecurityContext.fsGroupChangePolicy"]


def test_opt_in_free_form_paths_accept_anything_below():
    values = {"master": {"podSecurityContext": {"seccompProfile": {"type": "RuntimeDefault"}}, "bogus": 1}}
    assert unknown_keys(values, CHART) == ["master.podSecurityContext.seccompProfile", "master.bogus"]
    assert unknown_keys(values, CHART, free_form=["*.podSecurityContext"]) == ["master.bogus"]


def test_a_chart_version_that_is_not_vendored_is_an_error():
    with pytest.raises(FileNotFoundError, match="redis-0.0.0.tgz"):
        load_chart_keys("0.0.0")


def test_the_pinned_chart_key_list_loads_and_has_the_keys_we_rely_on():
    chart = load_chart_keys("23.1.1")
    assert {"architecture", "auth", "commonConfiguration", "master", "replica", "sentinel"} <= set(chart)
    assert "masterSet" in chart["sentinel"] and "existingSecretPasswordKey" in chart["auth"]
    assert chart["master"]["podLabels"] == {} and chart["master"]["extraFlags"] == []  # free-form, list
    assert chart["master"]["persistence"]["size"] is None  # a scalar
    assert unknown_keys(
        {
            "architecture": "replication",
            "sentinel": {"masterSet": "mymaster"},
            "auth": {"existingSecretPasswordKey": "redis-password"},
            "commonConfiguration": "appendonly yes",
            "networkPolicy": {"allowExternal": False},
            "master": {
                "persistence": {"size": "8Gi"},
                "podSecurityContext": {"fsGroupChangePolicy": "OnRootMismatch"},
                "resources": {"requests": {"cpu": "100m"}},
            },
            "sentinel_typo": {},
        },
        chart,
    ) == ["sentinel_typo"]


def test_the_key_tree_of_a_values_mapping():
    values = {"a": {"b": 1, "labels": {}, "flags": ["x"], "annotations": {"prometheus.io/port": "9121"}},
              "c": {"d": {"e": ""}}}
    assert list(key_lines(values)) == ["a.b", "a.labels {}", "a.flags []", "a.annotations {}", "c.d.e"]
    assert key_tree(values) == {"a": {"b": None, "labels": {}, "flags": [], "annotations": {}}, "c": {"d": {"e": None}}}
