"""The known-CVE floor of the Redis and Sentinel images (components/config/cve.py): a tag below the
first patched release of its line is refused in one line naming the key and the CVE,
unless redisImageAcceptedCves acknowledges every CVE it carries; a stale acknowledgement
is refused too; a digest pins the bytes and the chart pulls by it."""
import subprocess
import sys

import pytest

from components.config import cve
from components.config.config import ConfigError
from tests.harness import ROOT, run_program

ALL = list(cve.CVES)
DIGEST = "sha256:" + "0123456789abcdef" * 4
NO_ACK = {"redisImageAcceptedCves": []}


@pytest.mark.parametrize("tag,below", [
    ("8.2.1-debian-12-r0", True), ("8.2.2-debian-12-r0", False), ("8.2.10", False), ("8.0.3", True), ("8.0.4", False),
    ("7.4.5-alpine", True), ("7.4.6", False), ("7.2.10", True), ("7.2.11", False), ("6.2.19", True), ("6.2.20", False),
    ("7.0.15-debian-12-r0", True), ("6.0.20", True), ("5.0.14", True), ("8.4.0", False), ("9.0.0", False),
    ("8.2", True), ("stable", True), ("v8.2.2", False), ("8.2.1a", True),
])
def test_floor_per_line(tag, below):
    assert (cve.unpatched(tag) is not None) is below, cve.unpatched(tag)


def test_every_cve_of_the_floor_is_named_by_the_advisories():
    assert set(cve.CVES) == {"CVE-2025-49844", "CVE-2025-46817", "CVE-2025-46818", "CVE-2025-46819"}
    assert cve.floor_text() == "8.2.2, 8.0.4, 7.4.6, 7.2.11, 6.2.20"


@pytest.mark.parametrize("stack,overrides,key,fragment", [
    ("dev", NO_ACK, "redisImageTag", "is Redis 8.2.1, below the first patched 8.2.2"),
    ("dev", {**NO_ACK, "redisImageTag": "7.0.15-debian-12-r0"}, "redisImageTag", "a line that received no fix"),
    ("dev", {**NO_ACK, "redisImageTag": "stable"}, "redisImageTag", "names no Redis release"),
    ("dev", {"redisImageAcceptedCves": ALL[:3], "redisImageTag": "8.0.3"}, "redisImageTag", "carries CVE-2025-46819"),
    ("prod", {**NO_ACK, "redisImageTag": "8.2.2-debian-12-r0"}, "sentinelImageTag", "below the first patched 8.2.2"),
    ("dev", {"redisImageTag": "8.2.2-debian-12-r0"}, "redisImageAcceptedCves", "CVE-2025-49844"),
    ("dev", {"redisImageAcceptedCves": ["CVE-2024-0001"]}, "redisImageAcceptedCves[0]", "one of the CVEs"),
    ("dev", {"redisImageDigest": "sha256:abc"}, "redisImageDigest", "sha256:<64 lower-case hex digits>"),
])
def test_below_the_floor_is_refused_in_one_line_naming_key_and_cve(stack, overrides, key, fragment):
    run = run_program(stack, overrides)
    assert isinstance(run.error, ConfigError), run.error
    message = str(run.error)
    assert "\n" not in message and message.startswith(f"stack config {key}="), message
    assert fragment in message, message
    if key.endswith("ImageTag"):
        assert "CVE-2025-" in message and "redisImageAcceptedCves" in message
    assert run.resources == []


def test_the_sentinel_tag_is_checked_only_where_sentinel_is_deployed():
    assert run_program("dev", {**NO_ACK, "redisImageTag": "8.2.2", "sentinelImageTag": "7.0.15"}).error is None


def _images(run) -> list[str]:
    from render import chart_objects
    values = next(r.inputs for r in run.resources if r.type.endswith("helm.sh/v3:Release"))
    objects = chart_objects(values, values["values"])
    return sorted({c["image"] for o in objects if o["kind"] in ("StatefulSet", "Deployment")
                   for c in o["spec"]["template"]["spec"]["containers"] + o["spec"]["template"]["spec"].get(
                       "initContainers", [])})


def test_patched_images_pinned_by_digest_need_no_acknowledgement_and_pull_by_digest():
    run = run_program("prod", {**NO_ACK, "redisImageTag": "8.2.2-debian-12-r0", "redisImageDigest": DIGEST,
                               "sentinelImageTag": "8.2.2-debian-12-r0", "sentinelImageDigest": DIGEST})
    assert run.error is None, run.error
    images = _images(run)
    assert f"docker.io/bitnamilegacy/redis@{DIGEST}" in images
    assert f"docker.io/bitnamilegacy/redis-sentinel@{DIGEST}" in images
    assert not [i for i in images if "bitnamilegacy" in i and DIGEST not in i], images


def test_render_refuses_the_default_image_without_the_acknowledgement(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "render", "--stack", "dev", "--json", "redisImageAcceptedCves=[]",
                           "--out", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert 'redisImageTag="8.2.1-debian-12-r0" is invalid' in proc.stderr and "CVE-2025-49844" in proc.stderr
