"""Changes to a running stack that `pulumi up` cannot make in one step without loss.

How the program knows a change is happening: the stack exports `deployed` (what it last
deployed, `deployed_state`); the program reads its own previous exports through a
StackReference to its own stack (__main__.py) and compares them with the new settings
here. Nothing exported yet (a first deploy, or a stack deployed before this export) means
no change is known and nothing is refused.

A one-shot change that needs steps outside `pulumi up` (docs/runbooks.md, "Change a running
stack") is refused unless the stack config key `acknowledgeChange` names its key for that
`up`; a stale acknowledgement (naming a key that does not change) is refused too, so it
cannot approve a later change by accident. Pure functions: tested without Pulumi.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pulumi

from .schema import StackSettings
from .tls import CA_EARLY_RENEWAL_HOURS, CERT_EARLY_RENEWAL_HOURS

ACK_KEY = "acknowledgeChange"
EXPORT = "deployed"
"""The stack output holding deployed_state."""
CERTIFICATES_EXPORT = "tlsCertificatesNotAfter"
"""The stack output holding each TLS certificate's validityEndTime (RedisSessionStore.certificate_not_after)."""
CA_KEY = "redisTlsCa"
"""What acknowledgeChange names to let an up renew the CA (not a config key: a date decides it)."""
SELF_REFERENCE = "previous-deploy"
"""Resource name of the StackReference to the stack itself."""
RUNBOOK = "docs/runbooks.md#change-a-running-stack"


SENTINEL_SPLIT = ("each node restarts unable to talk to the old pods' Sentinels (other protocol or CA), and the first "
                  "becomes a master of its own: the sessions written during the Redis rollout are lost")
"""What a TLS change costs a Sentinel set rolled one pod at a time (tests/live/test_tls_switch_sentinel_live.py)."""
MASTER_SET_FIXED = ("the restarted pods ask the running Sentinels for a master set they do not know, their Sentinel "
                    "exits and the helm upgrade rolls back, every later up too: acknowledge it only to go back to "
                    "the name the running Sentinels know (after a failed up)")
"""What a master set rename does to a running Sentinel set (tests/live/test_master_set_rename_live.py)."""


TRANSITION_REMINDER = ("redisTlsTransition is on: Redis serves plaintext on 6379 beside TLS on 6380; once every "
                       "app has rolled, end it: pulumi config set redisTlsTransition false && pulumi up "
                       f"({RUNBOOK.split('#')[0]}, \"Switch TLS on or off\")")
"""What every preview and up says while a TLS transition lasts (its plaintext port is meant to close)."""


def deployed_state(s: StackSettings) -> dict[str, Any]:
    """What the next `up` compares against (exported as `deployed`; no secret in here)."""
    r = s.redis
    return {
        "namespace": s.namespace,
        "redisReleaseName": r.release_name,
        "redisTopology": r.topology,
        "redisPersistenceSize": r.persistence_size,
        "redisStorageClass": r.storage_class,
        "redisTls": r.tls,
        "redisPasswordGeneration": r.password_generation,
        "redisPasswordAlsoAccept": r.password_also_accept,
        "redisDefaultPasswordGeneration": r.default_password_generation,
        "sentinelMasterSet": r.sentinel.master_set if r.sentinel_topology else None,
    }


@dataclass(frozen=True)
class Change:
    """A refused one-shot change: the key, both values, what it would cost, and the procedure."""

    key: str
    before: Any
    after: Any
    cost: str
    procedure: str
    """`<docs/runbooks.md section>[: what to do first]` (tests/test_runbook_references.py)."""

    def message(self) -> str:
        return (f"stack config {self.key} changes {self.before!r} -> {self.after!r} on a running stack: "
                f"{self.cost}; follow {RUNBOOK} ({self.procedure}), then set {ACK_KEY}={self.key} for that up")


def _rotation(prev: Mapping[str, Any], s: StackSettings, key: str, before: int, after: int) -> Change | None:
    """A generation may only move by one, from a stack whose ACL already accepted the next one."""
    if after == before:
        return None
    if after == before + 1 and prev.get("redisPasswordAlsoAccept") == "next":
        return None
    cost = "pods started with the new password before every Redis has loaded it fail to connect"
    if key == "redisDefaultPasswordGeneration":
        # tests/live/test_default_rotation_sentinel_live.py: no acknowledged up can make it there
        cost += " (the acl-reload sidecar and liveness fail"
        cost += "; in sentinel topology the first restarted pod reads the Sentinels' NOAUTH reply as the master's " \
                "address and crash-loops, and the release rolls back: acknowledge it only to go back to the " \
                "generation the running Sentinels know)" if s.redis.topology == "sentinel" else ")"
    return Change(key, before, after, cost,
                  "Rotate Redis passwords: redisPasswordAlsoAccept=next first, one generation at a time")


def refused_changes(prev: Mapping[str, Any] | None, s: StackSettings) -> list[Change]:
    """Every change from the previous deploy that needs the runbook's steps."""
    if not prev:
        return []
    now = deployed_state(s)
    out: list[Change] = []

    def changed(key: str) -> bool:
        return key in prev and prev[key] != now[key]

    if changed("redisTopology"):
        out.append(Change("redisTopology", prev["redisTopology"], now["redisTopology"],
                          "the chart replaces the StatefulSet and its volumes: every session is lost",
                          "Standalone to Sentinel: copy the sessions by replication first"))
    if changed("redisReleaseName"):
        out.append(Change("redisReleaseName", prev["redisReleaseName"], now["redisReleaseName"],
                          "every Redis object gets a new name: a new, empty Redis (the old one keeps running "
                          "or is deleted)", "Rename the Redis release"))
    for key in ("redisPersistenceSize", "redisStorageClass"):
        if changed(key):
            out.append(Change(key, prev[key], now[key],
                              "StatefulSet spec.volumeClaimTemplates is immutable: the helm upgrade fails and "
                              "rolls back", "Grow the Redis volumes: expand the PVCs, orphan-delete the StatefulSet"))
    if changed("redisTls") and not s.redis.tls_transition:
        cost, procedure = (SENTINEL_SPLIT, "Switch TLS on or off: in sentinel topology, stop the apps' writes first") \
            if s.redis.topology == "sentinel" else \
            ("Redis switches protocol first and the clients only after the release: no session store until every "
             "WAS pod rolled", "Switch TLS on or off: set redisTlsTransition=true in the same up instead")
        out.append(Change("redisTls", prev["redisTls"], now["redisTls"], cost, procedure))
    for key in ("redisPasswordGeneration", "redisDefaultPasswordGeneration"):
        if key in prev and (c := _rotation(prev, s, key, int(prev[key]), int(now[key]))):
            out.append(c)
    if changed("sentinelMasterSet") and prev["sentinelMasterSet"] and now["sentinelMasterSet"] \
            and not changed("redisReleaseName"):
        out.append(Change("sentinelMasterSet", prev["sentinelMasterSet"], now["sentinelMasterSet"], MASTER_SET_FIXED,
                          "Rename the Sentinel master set: keep the name, or move to a new release"))
    return out


def renewals_due(not_after: Mapping[str, str] | None, now: datetime, s: StackSettings) -> tuple[list[str], bool]:
    """(leaves pulumi-tls renews in this up, whether the CA is renewed), from the certificates'
    recorded validityEndTime and the early-renewal windows (components/config/tls.py)."""
    if not not_after or not s.redis.certificates:
        return [], False

    def due(end: str, hours: int) -> bool:
        return now >= datetime.fromisoformat(end.replace("Z", "+00:00")) - timedelta(hours=hours)
    leaves = sorted(c for c, end in not_after.items() if c != "ca" and due(end, CERT_EARLY_RENEWAL_HOURS))
    return leaves, "ca" in not_after and due(not_after["ca"], CA_EARLY_RENEWAL_HOURS)


def certificate_changes(not_after: Mapping[str, str] | None, now: datetime, s: StackSettings) -> list[Change]:
    """A due CA renewal as a refused change (every certificate changes at once)."""
    _, ca = renewals_due(not_after, now, s)
    if not ca:
        return []
    cost = ("the CA is in its last 13 months: this up issues a new CA and re-signs every certificate, so Redis and "
            "every client roll at once and connections fail until both sides hold the new CA")
    procedure = "TLS certificates: plan the window"
    if s.redis.topology == "sentinel":
        cost, procedure = f"{cost}; {SENTINEL_SPLIT}", f"{procedure}, stop the apps' writes as for a TLS switch"
    return [Change(CA_KEY, not_after["ca"] if not_after else None, "renewed", cost, procedure)]


class ChangeRefused(pulumi.RunError):
    """A refused change; the message is one line naming the keys (the CLI prints no stack trace)."""


def check(prev: Mapping[str, Any] | None, s: StackSettings, acknowledged: tuple[str, ...],
          certificates: Mapping[str, str] | None = None, now: datetime | None = None) -> None:
    """Raise ChangeRefused for an unacknowledged change or a stale acknowledgement; log the
    leaf renewals this up makes (the scheduled preview shows them)."""
    now = now or datetime.now(UTC)
    refused = refused_changes(prev, s) + certificate_changes(certificates, now, s)
    leaves, _ = renewals_due(certificates, now, s)
    for leaf in leaves:
        pulumi.log.warn(f"TLS certificate {leaf} (notAfter {certificates[leaf] if certificates else '?'}) is in its "
                        "last 30 days: this up renews it and rolls the pods holding it")
    if s.redis.tls_transition:
        pulumi.log.warn(TRANSITION_REMINDER)
    for c in refused:
        if c.key not in acknowledged:
            raise ChangeRefused(c.message())
    stale = [k for k in acknowledged if k not in {c.key for c in refused}]
    if stale:
        raise ChangeRefused(f"stack config {ACK_KEY}={','.join(acknowledged)} names {', '.join(stale)}, which this up "
                            f"does not change (an acknowledgement holds for one up only): pulumi config rm {ACK_KEY}")
