"""What the exporter scrapes in one store, and the password file that lets it log in to exactly
those targets (redis_exporter's `--redis.password-file`). The store writes the file into the
exporter's credentials Secret; the exporter's ServiceMonitor has one endpoint per target."""
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config import names

METRICS_PORT = "metrics"
"""Exporter port (container and Service) that scrapes the Redis nodes (with check-single-keys)."""
SENTINEL_METRICS_PORT = "sentinel-metrics"
"""Exporter port that scrapes the Sentinels (no keys to read)."""


@dataclass(frozen=True)
class ScrapeTarget:
    """One Redis or Sentinel process the exporter scrapes."""

    instance: str
    """Stable `host:port`, the `instance` label."""
    url: str
    """The `target` parameter of /scrape."""
    port: str = METRICS_PORT
    """Name of the exporter port (container and Service) that scrapes this target."""


def scrape_targets(conn: Mapping[str, Any]) -> list[ScrapeTarget]:
    """Every Redis node, then (sentinel) every Sentinel, of a store's connection (components/redis.py
    RedisConnection)."""
    scheme, port, sentinel_port = conn["scheme"], conn["node_port"], conn["sentinel_port"]
    targets = [ScrapeTarget(f"{h}:{port}", f"{scheme}://{h}:{port}") for h in conn["node_hosts"]]
    if conn["mode"] == "sentinel":
        targets += [ScrapeTarget(f"{h}:{sentinel_port}", f"{scheme}://{h}:{sentinel_port}", SENTINEL_METRICS_PORT)
                    for h in conn["node_hosts"]]
    return targets


def with_user(url: str, user: str = names.EXPORTER_USER) -> str:
    """`scheme://user@host:port`: the password-file key redis_exporter >= 1.69 looks up when
    --redis.user is set (exporter.go lookupPasswordInPasswordMap); 1.45 looks up the bare URI."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{user}@{rest}"


def password_file(conn: Mapping[str, Any], password: str) -> str:
    """redis_exporter's password file: a JSON map of target URI -> password, each target
    under both keys (with and without the user) so 1.45 and 1.74 find it."""
    return json.dumps({k: password for t in scrape_targets(conn) for k in (t.url, with_user(t.url))}, sort_keys=True)
