"""An app's session placement (Redis database, key namespace) never depends on the other
apps: adding, removing or reordering wasApps leaves every existing app where it was
(components/config/config.py, _database_given; docs/decisions.md, "Session placement")."""
from __future__ import annotations

import itertools

import pytest

from components.config.config import ConfigError
from tests.harness import STACKS, load_settings

IMAGE = "registry.example.com/app:1.0.0"
APPS = [{"name": "petclinic", "image": IMAGE, "sessionDatabase": 1},
        {"name": "shop", "image": IMAGE, "sessionDatabase": 4, "sessionNamespace": "shop:sessions"},
        {"name": "cart", "image": IMAGE, "sessionDatabase": 2},
        {"name": "admin", "image": IMAGE, "sessionDatabase": 7}]


def placement(stack: str, apps: list[dict]) -> dict[str, tuple[int, str]]:
    settings = load_settings(stack, {"wasApps": apps})
    return {a.name: (a.database, a.key_namespace) for a in settings.was_apps}


@pytest.mark.parametrize("stack", STACKS)
def test_todays_stacks_keep_their_database(stack):
    # The stack files list one app without sessionDatabase: it stays in database 1, where
    # the positional default put it.
    [app] = load_settings(stack).was_apps
    assert (app.database, app.key_namespace) == (1, f"spring:session:{app.name}")


@pytest.mark.parametrize("stack", STACKS)
def test_adding_removing_or_reordering_apps_never_moves_another_app(stack):
    everyone = placement(stack, APPS)
    assert everyone == {"petclinic": (1, "spring:session:petclinic"), "shop": (4, "shop:sessions"),
                        "cart": (2, "spring:session:cart"), "admin": (7, "spring:session:admin")}
    seen = 0
    for size in range(1, len(APPS) + 1):
        for subset in itertools.permutations(APPS, size):  # every insert, removal and order
            got = placement(stack, list(subset))
            assert got == {name: everyone[name] for name in got}, [a["name"] for a in subset]
            seen += 1
    assert seen == 64


def test_an_app_added_to_a_single_app_stack_needs_explicit_databases():
    # The only app may leave sessionDatabase unset (1); a second app in front of it would
    # have taken its database by position: refused, naming the key and the database to keep.
    new = {"name": "shop", "image": IMAGE}
    with pytest.raises(ConfigError, match=r"^stack config wasApps\[0\]\.sessionDatabase=null is invalid: required "
                                          r"\(0\.\.15, one per app\) when wasApps lists more than one app.*here 1\)"):
        load_settings("prod", {"wasApps": [new, {"name": "petclinic", "image": IMAGE}]})
    with pytest.raises(ConfigError, match=r"wasApps\[1\]\.sessionDatabase=null.*here 2\); taken: \[1\]$"):
        load_settings("prod", {"wasApps": [{"name": "petclinic", "image": IMAGE, "sessionDatabase": 1}, new]})
    assert placement("prod", [{**new, "sessionDatabase": 2}, {"name": "petclinic", "image": IMAGE,
                                                              "sessionDatabase": 1}])["petclinic"] == \
        (1, "spring:session:petclinic")
