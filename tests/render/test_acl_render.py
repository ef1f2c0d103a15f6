"""The `default` users' commands, derived from what the pinned chart renders: every command its
scripts and probes send (to Redis and to Sentinel, all as `default`) is granted, and the
parser finds exactly the commands components/config/acl.py cites, so a chart upgrade that sends a new
one fails here. Sentinel's own and replication's commands come from redis/redis sources
(components/config/acl.py) and are proven live (tests/live/test_acl_live.py)."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from components.config import acl
from tests.harness import ROOT
from tests.render.conftest import Rendered


def _called(text: str) -> str:
    """The script without the bodies of shell functions it defines but never calls
    (start-node.sh's validate_quorum and trigger_manual_failover: only with
    sentinel.automateClusterRecovery, which the program leaves off)."""
    for name in re.findall(r"^\s*(\w+)\(\) \{", text, re.M):
        if len(re.findall(rf"\b{name}\b", text)) == 1:
            text = re.sub(rf"^(\s*){name}\(\) \{{.*?^\1\}}", "", text, flags=re.M | re.S)
    return text


def sent_commands(scripts: dict[str, str]) -> tuple[set[str], set[str]]:
    """(commands sent to Redis, commands sent to Sentinel) by the rendered scripts, as ACL names."""
    redis: set[str] = set()
    sentinel: set[str] = set()
    for name, raw in scripts.items():
        text = _called(raw)
        for cmd, sub in re.findall(r"run_redis_command ([A-Za-z]+)(?: ([A-Z]+))?", text):
            redis.add(f"{cmd.lower()}|{sub.lower()}" if sub else cmd.lower())
        sentinel |= {f"sentinel|{sub}" for sub in re.findall(r'run_sentinel_command ([a-z-]+)', text)}
        for line in text.splitlines():
            if "redis-cli" in line or "redis_cli_command" in line:
                sentinel |= {f"sentinel|{sub}" for sub in re.findall(r"\bsentinel ([a-z][a-z-]+)", line)}
        if re.search(r"^\s+ping$", text, re.M):  # the probes: redis-cli ... ping
            (sentinel if name == "ping_sentinel.sh" else redis).add("ping")
    return redis, sentinel


def chart_scripts(r: Rendered) -> dict[str, str]:
    scripts: dict[str, str] = {}
    for name in ("redis-scripts", "redis-health"):
        scripts |= r.one("ConfigMap", name.replace("redis", r.settings.redis.release_name, 1))["data"]
    return scripts


def granted(rules: str) -> set[str]:
    return set(re.findall(r"(?<![\w])\+([@\w|-]+)", rules))


def test_every_command_the_charts_scripts_send_is_granted_to_default_and_no_more_are_cited(rendered):
    if rendered.settings.redis.topology != "sentinel":
        pytest.skip("standalone: no Sentinel, the scripts send only PING")
    redis, sentinel = sent_commands(chart_scripts(rendered))
    assert redis == {"ping", "role", "client|pause"}
    assert sentinel == {"ping", "sentinel|get-master-addr-by-name", "sentinel|failover"}
    assert redis <= granted(acl.default_permissions())
    assert sentinel <= granted(acl.sentinel_default_permissions())
    # the function left out (validate_quorum) is defined, never called, and the values that would
    # call it (or add INFO replication to the readiness probe) stay off
    assert "validate_quorum" in chart_scripts(rendered)["start-node.sh"]
    assert not rendered.values["sentinel"].get("automateClusterRecovery")
    assert not rendered.values["sentinel"].get("replicaSyncCheck")
    # all of it as `default`: the chart password, no user name (redis-cli --user) anywhere
    scripts = chart_scripts(rendered)
    for name in ("prestop-redis.sh", "prestop-sentinel.sh"):
        assert 'export REDISCLI_AUTH="$(< "${REDIS_PASSWORD_FILE}")"' in scripts[name]
    assert not any("--user" in text for text in scripts.values())


@pytest.mark.parametrize("tag", ["7.0.15-debian-12-r0", "8.2.1-debian-12-r0"])
def test_the_sentinel_file_follows_the_sentinel_image_in_a_render(tmp_path, tag):
    """Issue 20 item 4: `--set sentinelImageTag=7.0.15-debian-12-r0` rendered +client|setinfo."""
    from render import render_stack
    from tests.harness import unwrap
    from tests.tools import require_helm
    require_helm()
    run, _ = render_stack("prod", tmp_path / "out", {"sentinelImageTag": tag})
    files = unwrap(run.one("kubernetes:core/v1:Secret", "redis-acl").inputs["stringData"])
    assert "client|setinfo" in files["redis.acl"]  # the Redis image is 8.2
    assert ("client|setinfo" in files["sentinel.acl"]) == (tag.startswith("8."))


@pytest.mark.parametrize("key", ["redisImageTag", "sentinelImageTag"])
def test_the_renderer_refuses_a_version_it_cannot_serve_in_one_line(tmp_path, key):
    out = subprocess.run([sys.executable, "-m", "render", "--stack", "prod", "--out", str(tmp_path / "o"),
                          "--set", f"{key}=6.2.14-debian-12-r0"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and out.stdout == ""
    [line] = out.stderr.splitlines()
    assert line.startswith(f'render: stack config {key}="6.2.14-debian-12-r0" is invalid: ') and "7.0 or later" in line
