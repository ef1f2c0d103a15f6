"""The impact of a change on a running stack, from two renders (python -m render): for every
changed object exactly one class, and one line saying what the user will see.

Classes, from harmless to worst (CLASSES): `in-place` (applied, nothing restarts),
`restart` (workloads roll), `failover` (a Redis master restarts), `upgrade-fails` (Kubernetes
or Pulumi refuses: an immutable field, or a protected resource), `replace` (Pulumi deletes
and creates), `sessions-lost` (the apps read sessions from an empty or another place; the
old volumes still exist), `data-lost` (the volumes themselves are deleted).

Computed from the objects and the rules of the systems that apply them, never from config
keys, so a chart version bump or a change nobody foresaw is classified too:

- Pulumi-managed objects (the program's own files, pulumi-resources.yaml): pulumi-kubernetes
  replaces an object when a `forceNew` property changes (provider/pkg/provider/diff.go,
  `forceNew` and `forceNewProperties`: metadata name/namespace, Secret type/data/stringData and
  ConfigMap data/binaryData unless enableSecretMutable/enableConfigMapMutable, Deployment/
  DaemonSet/StatefulSet selector, StatefulSet serviceName/volumeClaimTemplates/
  podManagementPolicy/revisionHistoryLimit, Service clusterIP, PVC accessModes/selector/
  storageClassName/volumeName, Job template, RoleBinding roleRef), delete-before-replace when
  the name stays (provider.go, `Diff`: deleteBeforeReplace). A resource whose Pulumi name
  changes while the object's name stays is a new URN: Pulumi creates it before deleting the
  old one, and Kubernetes answers AlreadyExists. The engine refuses to delete or replace a
  `protect`ed resource; a `retainOnDelete` one is left in the cluster.
- The Helm release: pulumi-kubernetes replaces a `helm.v3.Release` only when its name or
  namespace changes (helm_release.go, `Diff`: forceNewFields `.name`, `.namespace`); any other
  change is a `helm upgrade` of the chart's objects, which Kubernetes then validates:
  StatefulSet spec fields other than replicas, ordinals, template, updateStrategy,
  persistentVolumeClaimRetentionPolicy and minReadySeconds are forbidden
  (kubernetes pkg/apis/apps/validation, ValidateStatefulSetUpdate), Deployment/DaemonSet/
  ReplicaSet spec.selector (apps/v1), Service spec.clusterIP, PVC spec but
  resources.requests.storage, Job spec.template, a Secret or ConfigMap with `immutable: true`.
  A rejected upgrade of an atomic release rolls back.
- StatefulSets with volumeClaimTemplates hold the data: deleting one (helm removes it when the
  chart's names change, e.g. standalone `<fullname>-master` <-> sentinel `<fullname>-node`)
  leaves its PVCs (retention Retain) and the new StatefulSet starts on empty volumes; rolling
  one restarts every Redis node, the master included; scaling one down orphans the PVCs of the
  removed ordinals (whenScaled Retain).
- A Spring app's session store is its Redis (host or Sentinel master and nodes), database
  and key namespace (Spring Boot's properties of the app's Boot line, components/config/boot.py,
  as environment variables): if any of them moves, the app's
  users are logged out.
- Standalone: the release rolls Redis before the clients roll, so an app whose Service port no
  longer leads to Redis in its protocol (its Spring host, port and ssl.enabled against the
  Service's targetPort and what Redis listens on there: the chart's REDIS_TLS_ENABLED, an extra
  `--tls-port` in start-master.sh) reaches no Redis between the two; a TLS transition (Redis on
  both protocols) cuts no app off. Where the StatefulSet also runs Sentinel, a TLS mode
  (REDIS_TLS_ENABLED) change splits the set: the first restarted node asks the Sentinel Service
  in the new protocol, no old Sentinel answers, and the chart's start-node.sh (scripts-configmap
  .yaml, "Case 1: No active sentinel ... --> MASTER"; sentinel.conf is on an emptyDir) makes it
  a master of its own; the old master later rejoins it as a replica and resyncs, dropping what
  the apps wrote in between (tests/live/test_tls_switch_sentinel_live.py).
- An app's Deployment that appears on the database of a removed one, same Redis (an app
  renamed), reads the removed app's sessions only under the same key namespace.
- A lower `maxmemory` in the release's redis.conf: once the master runs with it, Redis evicts
  (any policy but noeviction) from the next command on, reads included, until the dataset fits
  (server.c `processCommand` -> `performEvictions`; tests/live/test_maxmemory_lowered_live.py).
- A restarted Sentinel node asks the running Sentinels for the master set its release's scripts
  name (start-node.sh and start-sentinel.sh, `get-master-addr-by-name <set>`); the running ones
  know only the set of the release they started from. For another set they answer nil, the
  node's Redis starts as a replica of no host and its Sentinel exits ("Redis master host is
  configured incorrectly"): the pod is never Ready, the StatefulSet's RollingUpdate waits for
  it and the atomic release rolls back (tests/live/test_master_set_rename_live.py).

It reads render folders (or renders a git ref with that tree's own code); the program never
imports it.
"""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.config import boot
from components.config.sessions import DEFAULT_NAMESPACE, sorted_set_key
from render import MARKER, PULUMI_FILE

CLASSES = ("in-place", "restart", "failover", "upgrade-fails", "replace", "sessions-lost", "data-lost")
RUNBOOK = "docs/runbooks.md"

# pulumi-kubernetes provider/pkg/provider/diff.go, `forceNew` (the kinds this platform can
# render; core and apps v1), plus `forceNewProperties`' Secret and ConfigMap rule with the
# provider's defaults (enableSecretMutable and enableConfigMapMutable false).
FORCE_NEW: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec.selector",),
    "DaemonSet": ("spec.selector",),
    "StatefulSet": ("spec.podManagementPolicy", "spec.revisionHistoryLimit", "spec.selector", "spec.serviceName",
                    "spec.volumeClaimTemplates"),
    "PersistentVolumeClaim": ("spec.accessModes", "spec.selector", "spec.storageClassName", "spec.volumeName"),
    "Service": ("spec.clusterIP",),
    "Secret": ("type", "data", "stringData"),
    "ConfigMap": ("data", "binaryData"),
    "Job": ("spec.completions", "spec.parallelism", "spec.selector", "spec.template"),
    "RoleBinding": ("roleRef",),
    "ClusterRoleBinding": ("roleRef",),
    "StorageClass": ("parameters", "provisioner"),
}
# What Kubernetes' update validation forbids (a helm upgrade of these fails).
STATEFULSET_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
                       "minReadySeconds")
IMMUTABLE: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec.selector",),
    "DaemonSet": ("spec.selector",),
    "ReplicaSet": ("spec.selector",),
    "Service": ("spec.clusterIP",),
    "Job": ("spec.selector", "spec.template"),
    "RoleBinding": ("roleRef",),
    "ClusterRoleBinding": ("roleRef",),
}
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")


def _every_line(prefix: Callable[[boot.BootLine], str], suffix: str) -> tuple[str, ...]:
    """The env name of one Spring property in every Boot line (components/config/boot.py), each once."""
    return tuple(dict.fromkeys(f"{boot.env_name(prefix(r))}_{suffix}" for r in boot.LINES))


# Spring Boot's environment names of the properties that say where an app's sessions are.
SESSION_STORE_ENV = {
    "database": _every_line(lambda r: r.redis_properties, "DATABASE"),
    "key namespace": _every_line(lambda r: r.session_properties, "NAMESPACE"),
    "Redis host": _every_line(lambda r: r.redis_properties, "HOST"),
}
# Not the Sentinel master set: within one release a new name is the same Redis (the Sentinel
# nodes tell another Redis apart); the StatefulSet's rule says what the rename does (RedisFacts).

SENTINEL_NODES_ENV = _every_line(lambda r: r.redis_properties, "SENTINEL_NODES")
COUNT_STORES_ENV = "COUNT_STORES"  # components/exporter.py counter_env
CHECK_SINGLE_KEYS = "--check-single-keys="
ZSET_SUFFIX = sorted_set_key("")  # `<ns>` + this: the sorted-set store's key
REDIS_TLS_ENV = "REDIS_TLS_ENABLED"
CLIENT_PORT_ENV = _every_line(lambda r: r.redis_properties, "PORT")
CLIENT_SSL_ENV = _every_line(lambda r: r.redis_properties, "SSL_ENABLED")
CLIENT_HOST_ENV = SESSION_STORE_ENV["Redis host"]
# master.extraFlags in start-master.sh (components/redis.py _transition_values): one ARGS line per word.
_EXTRA_TLS_PORT = re.compile(r'ARGS\+=\("--tls-port"\)\s*\n\s*ARGS\+=\("(\d+)"\)')
_MASTER_QUERY = re.compile(r"get-master-addr-by-name \"?([^\s\"]+)")


class ImpactError(Exception):
    """A baseline that cannot be read or rendered; the message is one line."""


@dataclass(frozen=True)
class Impact:
    """One changed object: its class and what the user will see."""

    path: str
    """The rendered file (head side, or base side when it is gone)."""
    klass: str
    what: str
    refused: bool = False
    """Pulumi refuses the whole update for this one (a protected resource): it leads the report,
    and the other lines say what happens once the protection is lifted on purpose."""

    @property
    def rank(self) -> int:
        return CLASSES.index(self.klass)


@dataclass
class Rendered:
    """A render folder read back."""

    objects: dict[str, dict]
    """path -> Kubernetes object (the program's and the charts')."""
    releases: dict[str, dict]
    """release folder (`helm-<name>/`) -> release.yaml."""
    pulumi: dict[str, dict]
    """path or release folder -> {type, name, protect, retainOnDelete} (pulumi-resources.yaml)."""


# --------------------------------------------------------------------------- reading
def read(folder: Path) -> Rendered:
    """A render folder (made by python -m render)."""
    if not (folder / MARKER).is_file():
        raise ImpactError(f"{folder} is not a render folder (no {MARKER})")
    objects, releases = {}, {}
    for p in sorted(folder.rglob("*.yaml")):
        rel = p.relative_to(folder).as_posix()
        if rel == PULUMI_FILE:
            continue
        doc = yaml.safe_load(p.read_text())
        if "/" in rel and p.name == "release.yaml":
            releases[rel.rsplit("/", 1)[0] + "/"] = doc or {}
        elif "/" in rel and p.name == "values.yaml":
            continue
        elif isinstance(doc, dict) and doc.get("kind"):
            objects[rel] = doc
    pulumi_file = folder / PULUMI_FILE
    pulumi = yaml.safe_load(pulumi_file.read_text()) if pulumi_file.is_file() else {}
    return Rendered(objects, releases, pulumi or {})


def render_ref(ref: str, stack: str, work: Path, repo: Path) -> Path:
    """Render `stack` as the tree at git `ref` declares it (its own code, this interpreter)."""
    tree = work / "tree"
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(repo), "archive", ref], capture_output=True)
    if archive.returncode != 0:
        raise ImpactError(f"git archive {ref} failed: {' '.join(archive.stderr.decode().split())}")
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    out = work / "render"
    proc = subprocess.run([sys.executable, "-m", "render", "--stack", stack, "--out", str(out)], cwd=tree,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise ImpactError(f"render of {stack} at {ref} failed: {' '.join(proc.stderr.split())[-400:]}")
    return out


def baseline(source: str, stack: str, repo: Path, work: Path | None = None) -> Rendered:
    """The baseline: a render folder, or a git ref rendered in a temporary tree."""
    path = Path(source)
    if path.is_dir():
        return read(path)
    with tempfile.TemporaryDirectory(prefix="impact-") as tmp:
        return read(render_ref(source, stack, work or Path(tmp), repo))


# --------------------------------------------------------------------------- helpers
def get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def changed_paths(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths of the leaves that differ (lists compared whole)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new)):
            out += changed_paths(old.get(k), new.get(k), f"{prefix}.{k}" if prefix else k)
        return out
    return [] if old == new else [prefix]


def _short(paths: list[str], n: int = 3) -> str:
    return ", ".join(paths[:n]) + (f" and {len(paths) - n} more" if len(paths) > n else "")


def identity(obj: dict) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return obj["kind"], str(meta.get("namespace") or ""), str(meta.get("name") or "")


def label(obj: dict) -> str:
    kind, ns, name = identity(obj)
    return f"{kind} {ns + '/' if ns else ''}{name}"


def release_of(path: str) -> str | None:
    return path.split("/", 1)[0] + "/" if "/" in path else None


def env_of(obj: dict) -> dict[str, str]:
    """Every container's literal env values of a workload (first wins)."""
    env: dict[str, str] = {}
    for c in get(obj, "spec.template.spec.containers") or []:
        for e in c.get("env") or []:
            if "value" in e:
                env.setdefault(e["name"], str(e["value"]))
    return env


def holds_data(obj: dict) -> bool:
    return obj["kind"] == "StatefulSet" and bool(get(obj, "spec.volumeClaimTemplates"))


def runs_sentinel(obj: dict) -> bool:
    """A Redis StatefulSet whose pods also run Sentinel (the chart's `sentinel` container)."""
    return any(c.get("name") == "sentinel" for c in get(obj, "spec.template.spec.containers") or [])


@dataclass(frozen=True)
class RedisFacts:
    """What a release tells its Redis processes, read from its rendered ConfigMaps."""

    master_set: str | None = None
    """The Sentinel master set its start-node.sh asks for (None: no Sentinel)."""
    maxmemory: str | None = None
    """redis.conf `maxmemory`, as written."""
    policy: str | None = None
    """redis.conf `maxmemory-policy`."""
    endpoints: frozenset[tuple[str, int, bool]] = frozenset()
    """(Service, port, TLS?) of every Service port leading to a port Redis listens on, and in which
    protocol: the StatefulSet's env (the chart's TLS), its start script's extra `--tls-port`, the
    Services' targetPorts."""


def redis_facts(rendered: Rendered, folder: str) -> RedisFacts:
    """The RedisFacts of release `folder`."""
    found: dict[str, Any] = {}
    mine = [obj for path, obj in rendered.objects.items() if release_of(path) == folder]
    found["endpoints"] = _endpoints(mine)
    for obj in mine:
        if obj["kind"] != "ConfigMap":
            continue
        data = obj.get("data") or {}
        if query := _MASTER_QUERY.search(data.get("start-node.sh", "")):
            found["master_set"] = query.group(1)
        for line in data.get("redis.conf", "").splitlines():
            key, _, value = line.strip().partition(" ")
            if key in ("maxmemory", "maxmemory-policy"):
                found["policy" if key == "maxmemory-policy" else key] = value.strip()
    return RedisFacts(**found)


def extra_tls_ports(objects: Iterable[dict]) -> list[int]:
    """The TLS ports standalone Redis also listens on (master.extraFlags in the chart's start-master.sh,
    a TLS transition); the chart has no key that would declare them as container ports."""
    return [int(p) for o in objects if o["kind"] == "ConfigMap"
            for p in _EXTRA_TLS_PORT.findall((o.get("data") or {}).get("start-master.sh", ""))]


def _endpoints(objects: list[dict]) -> frozenset[tuple[str, int, bool]]:
    """RedisFacts.endpoints of one release's objects."""
    listening: dict[int, bool] = {}
    named: dict[str, int] = {}
    extra = extra_tls_ports(objects)
    for sts in (o for o in objects if o["kind"] == "StatefulSet" and holds_data(o)):
        env = env_of(sts)
        if env.get(REDIS_TLS_ENV) == "yes" and "REDIS_TLS_PORT" in env:
            listening[int(env["REDIS_TLS_PORT"])] = True
        elif "REDIS_PORT" in env:
            listening[int(env["REDIS_PORT"])] = False
        listening.update(dict.fromkeys(extra, True))
        for c in get(sts, "spec.template.spec.containers") or []:
            named.update({p["name"]: p["containerPort"] for p in c.get("ports") or [] if "name" in p})
    found = set()
    for svc in (o for o in objects if o["kind"] == "Service"):
        for port in get(svc, "spec.ports") or []:
            target = port.get("targetPort", port["port"])
            target = named.get(target) if isinstance(target, str) else target
            if target in listening:
                found.add((svc["metadata"]["name"], port["port"], listening[target]))
    return frozenset(found)


def redis_clients(rendered: Rendered) -> dict[str, tuple[str, int, bool]]:
    """Each standalone-mode Spring app (label) -> the (Service, port, TLS?) it connects to (its Boot
    properties as env, components/was.py)."""
    out = {}
    for obj in rendered.objects.values():
        if obj["kind"] != "Deployment":
            continue
        env = env_of(obj)
        host, port = _first(env, CLIENT_HOST_ENV), _first(env, CLIENT_PORT_ENV)
        if host and port:
            out[label(obj)] = (host.split(".")[0], int(port), _first(env, CLIENT_SSL_ENV) == "true")
    return out


_REDIS_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}


def redis_bytes(text: str) -> int:
    """A redis.conf memory value in bytes (config.c `memtoull`: k/m/g are 1000-based, kb/mb/gb 1024)."""
    m = re.fullmatch(r"(\d+)([a-z]*)", text.strip().lower())
    if not m or m.group(2) not in _REDIS_UNITS:
        raise ImpactError(f"redis.conf memory value {text!r} is not <n>[b|k|kb|m|mb|g|gb]")
    return int(m.group(1)) * _REDIS_UNITS[m.group(2)]


# --------------------------------------------------------------------------- rules
def _protected(info: dict | None) -> bool:
    return bool(info and info.get("protect"))


def _refused(path: str, obj: dict, info: dict, action: str) -> Impact:
    return Impact(path, "upgrade-fails", f"Pulumi refuses to {action} protected {label(obj)} (protect, protectData): "
                                         f"`pulumi preview` and `up` stop; doing it is the deliberate step in "
                                         f"{RUNBOOK}, \"Delete a stack's data on purpose\"", refused=True)


def session_store(obj: dict) -> dict[str, str | None]:
    """Where a Spring app's sessions are (SESSION_STORE_ENV; all None for other workloads)."""
    env = env_of(obj)
    return {what: _first(env, keys) for what, keys in SESSION_STORE_ENV.items()}


def _first(env: Mapping[str, str], names: Iterable[str]) -> str | None:
    """The value of the first of `names` (one Spring property in every Boot line) set in `env`."""
    return next((env[k] for k in names if k in env), None)


def _sentinel_nodes(obj: dict) -> set[str]:
    env = env_of(obj)
    return {n for k in SENTINEL_NODES_ENV for n in env.get(k, "").split(",") if n}


def count_layouts(obj: dict) -> dict[str, tuple[str, str]]:
    """How the exporter's pod counts each session database: `db<N>` -> (layout, key namespace).
    The session counter's COUNT_STORES (`<db>=<pattern>[=<skip>]`: pattern `<ns>:sessions:*`
    is the default repository, `<ns>:sessions:expires:*` the minute sets); a database it does
    not count is the sorted-set store, counted by ZCARD of the `--check-single-keys` sorted set
    `<ns>:sessions:expirations` (the app's own, not Spring's DEFAULT_NAMESPACE one that is
    checked beside it). Empty for any other workload."""
    layouts: dict[str, tuple[str, str]] = {}
    for c in get(obj, "spec.template.spec.containers") or []:
        for arg in c.get("args") or []:
            if arg.startswith(CHECK_SINGLE_KEYS):
                for db, key in (pair.split("=", 1) for pair in arg[len(CHECK_SINGLE_KEYS):].split(",")):
                    if key.endswith(ZSET_SUFFIX) and (db not in layouts or layouts[db][1] == DEFAULT_NAMESPACE):
                        layouts[db] = ("sorted-set", key[: -len(ZSET_SUFFIX)])
    for store in env_of(obj).get(COUNT_STORES_ENV, "").split():
        db, pattern = store.split("=")[:2]
        namespace, _, rest = pattern.rpartition(":sessions:")
        layouts[f"db{db}"] = ("minute" if rest == "expires:*" else "default", namespace)
    return layouts


def _count_notes(old: dict, new: dict) -> list[str]:
    """What the session count reads after a database's store changes layout (an app's
    repositoryType or sessionExpirationStore; tests/live/test_repository_switch_live.py)."""
    a, b = count_layouts(old), count_layouts(new)
    notes = []
    for db in sorted(set(a) & set(b)):
        (was, namespace), (now, _) = a[db], b[db]
        if was == now:
            continue
        what = f"{db}'s sessions now counted as {now} (was {was})"
        if was == "sorted-set":
            notes.append(f"{what}: SessionStoreMismatch fires and {db} records no count until the operator deletes "
                         f"{namespace}{ZSET_SUFFIX}, which nothing else removes ({RUNBOOK}, \"SessionStoreMismatch\")")
        elif now == "default":
            notes.append(f"{what}: each session counted once (the counter leaves the indexed shadow keys out)")
        else:
            notes.append(f"{what}: the count reads low for up to one sessionTimeout, a session saved before the switch "
                         "being counted from its next request")
    return notes


def _session_store_moves(old: dict, new: dict) -> list[str]:
    a, b = session_store(old), session_store(new)
    moved = [f"{what} {a[what]} -> {b[what]}" for what in SESSION_STORE_ENV if a[what] != b[what]]
    nodes_a, nodes_b = _sentinel_nodes(old), _sentinel_nodes(new)
    if nodes_a and nodes_b and not nodes_a & nodes_b:
        moved.append("Sentinel nodes: none in common")
    return moved


def _takeover(path: str, new: dict, removed: list[dict]) -> Impact | None:
    """A new app's Deployment on the database of a removed one, same Redis (a renamed app): its
    sessions stay only if the key namespace stays."""
    b = session_store(new)
    if b["database"] is None:
        return None
    for old in removed:
        a = session_store(old)
        same_redis = a["Redis host"] == b["Redis host"] and (_sentinel_nodes(old) == _sentinel_nodes(new))
        if old["kind"] != "Deployment" or a["database"] != b["database"] or not same_redis:
            continue
        if a["key namespace"] == b["key namespace"]:
            return Impact(path, "in-place", f"Pulumi creates {label(new)}, which reads the sessions {label(old)} (removed) "
                                            f"kept in database {b['database']} under {b['key namespace']}")
        return Impact(path, "sessions-lost",
                      f"{label(new)} takes database {b['database']} over from {label(old)} (removed) under key "
                      f"namespace {b['key namespace']} (was {a['key namespace']}): its users are logged out; to keep "
                      f"them, give the new app sessionNamespace {a['key namespace']}")
    return None


def _workload_change(path: str, old: dict, new: dict, facts: tuple[RedisFacts, RedisFacts] = (RedisFacts(), RedisFacts()),
                     clients: Mapping[str, tuple[str, int, bool]] | None = None) -> Impact:
    """A workload whose pod template (or replicas) changed; forbidden fields handled before.
    `facts`: what its release told Redis before and after; `clients`: where each app connected before."""
    template = changed_paths(old.get("spec", {}).get("template"), new.get("spec", {}).get("template"), "spec.template")
    if not holds_data(old):
        moved = _session_store_moves(old, new)
        if moved:
            return Impact(path, "sessions-lost", f"{label(new)} reads its sessions from another place ({'; '.join(moved)}): "
                                                 "every user of it is logged out")
        counts = "".join(f"; {n}" for n in _count_notes(old, new))
        if template:
            return Impact(path, "restart", f"{label(new)} rolls its pods ({_short(template)}){counts}")
        return Impact(path, "in-place", f"{label(new)} changes in place ({_short(changed_paths(old, new))})")
    old_n, new_n = get(old, "spec.replicas") or 1, get(new, "spec.replicas") or 1
    name = (new.get("metadata") or {}).get("name")
    notes = []
    if new_n < old_n:
        gone = ", ".join(f"{name}-{i}" for i in range(new_n, old_n))
        notes.append(f"pods {gone} are removed and their PVCs stay orphaned (whenScaled: Retain); if the master is one "
                     "of them Sentinel fails over")
    tls_before, tls_after = env_of(old).get(REDIS_TLS_ENV), env_of(new).get(REDIS_TLS_ENV)
    before, after = facts
    if tls_before != tls_after and runs_sentinel(old):
        return Impact(path, "sessions-lost",
                      f"{label(new)}: Redis and Sentinel switch TLS {tls_before} -> {tls_after} one pod at a time: "
                      "the first restarted node reaches no old Sentinel and starts as a master of its own "
                      "(start-node.sh), the old master later resyncs from it: the sessions written during the "
                      "Redis rollout are lost")
    # Standalone: an app is cut off when the Service port it used no longer leads to Redis in its
    # protocol; a TLS transition (Redis on both protocols) keeps every app's port working.
    cut = sorted(app for app, used in (clients or {}).items() if used in before.endpoints and used not in after.endpoints)
    if cut and not runs_sentinel(old):
        what = f"Redis switches TLS {tls_before} -> {tls_after}" if tls_before != tls_after else \
            "Redis changes the protocol of its ports"
        notes.append(f"{what} before its clients roll: no pod of {', '.join(cut)} reaches Redis from the first node's "
                     "restart until it has rolled")
    # (after TLS: a node that reaches no Sentinel at all starts as a master of its own instead)
    if runs_sentinel(old) and runs_sentinel(new) and before.master_set != after.master_set:
        return Impact(path, "upgrade-fails",
                      f"{label(new)}: the restarted pod asks the running Sentinels for master set {after.master_set}, "
                      f"they know only {before.master_set}: its Redis starts as a replica of no host and its Sentinel "
                      "exits (start-sentinel.sh: master host configured incorrectly); the rollout waits for that pod, "
                      "the atomic release rolls back and every later `pulumi up` fails the same way; no session is lost")
    if before.maxmemory and after.maxmemory and redis_bytes(after.maxmemory) < redis_bytes(before.maxmemory):
        cap = (f"maxmemory {before.maxmemory} -> {after.maxmemory}: once the master runs with it, a dataset above "
               f"{after.maxmemory}")
        check = f"compare the master's used_memory with {after.maxmemory} first ({RUNBOOK}, \"Lower the maxmemory\")"
        if after.policy == "noeviction":
            notes.append(f"{cap} makes every write fail (OOM) until enough sessions expire; {check}")
        else:
            return Impact(path, "sessions-lost", f"{label(new)}: {cap} loses sessions to eviction (maxmemory-policy "
                                                 f"{after.policy}) from the next command on, reads included; {check}")
    if template:
        notes.insert(0, f"every Redis node restarts, the master included ({_short(template)}); sessions stay on the "
                        "volumes")
    if not notes:
        return Impact(path, "in-place", f"{label(new)} changes in place ({_short(changed_paths(old, new))})")
    return Impact(path, "failover", f"{label(new)}: {'; '.join(notes)}")


def _forbidden(old: dict, new: dict) -> list[str]:
    """Fields Kubernetes' update validation refuses to change on this object."""
    kind = old["kind"]
    if kind == "StatefulSet":
        spec_a, spec_b = old.get("spec") or {}, new.get("spec") or {}
        return [f"spec.{k}" for k in sorted(set(spec_a) | set(spec_b))
                if k not in STATEFULSET_MUTABLE and spec_a.get(k) != spec_b.get(k)]
    if kind == "PersistentVolumeClaim":
        return [p for p in changed_paths(old.get("spec"), new.get("spec"), "spec")
                if p not in ("spec.resources.requests.storage", "spec.volumeAttributesClassName")]
    if kind in ("Secret", "ConfigMap") and old.get("immutable"):
        return [p for p in ("data", "binaryData", "stringData") if old.get(p) != new.get(p)]
    return [p for p in IMMUTABLE.get(kind, ()) if get(old, p) != get(new, p)]


def _chart_change(path: str, old: dict, new: dict, facts: tuple[RedisFacts, RedisFacts] = (RedisFacts(), RedisFacts()),
                  clients: Mapping[str, tuple[str, int, bool]] | None = None) -> Impact:
    forbidden = _forbidden(old, new)
    if forbidden:
        return Impact(path, "upgrade-fails", f"helm upgrade fails: {label(new)} field {_short(forbidden)} is immutable; "
                                             "the atomic release rolls back and every later `pulumi up` fails the same way")
    if old["kind"] in WORKLOADS:
        return _workload_change(path, old, new, facts, clients)
    return Impact(path, "in-place", f"helm updates {label(new)} ({_short(changed_paths(old, new))})")


def _program_change(path: str, old: dict, new: dict, info_a: dict | None, info_b: dict | None) -> Impact:
    if info_a and info_b and (info_a.get("type"), info_a.get("name")) != (info_b.get("type"), info_b.get("name")):
        if _protected(info_a):
            return _refused(path, old, info_a, "delete")
        return Impact(path, "upgrade-fails",
                      f"{label(new)} keeps its name but its Pulumi resource is now {info_b.get('name')} (was "
                      f"{info_a.get('name')}): Pulumi creates the new one before deleting the old, Kubernetes answers "
                      "AlreadyExists and `pulumi up` stops half-way")
    force = [p for p in ("metadata.name", "metadata.namespace", *FORCE_NEW.get(old["kind"], ()))
             if get(old, p) != get(new, p)]
    if force:
        if _protected(info_a):
            return _refused(path, old, info_a or {}, "replace")
        if get(old, "metadata.name") != get(new, "metadata.name") or \
                get(old, "metadata.namespace") != get(new, "metadata.namespace"):
            return Impact(path, "replace", f"Pulumi creates {label(new)} and then deletes {label(old)} ({_short(force)} "
                                           "forces replacement in pulumi-kubernetes)")
        return Impact(path, "replace", f"Pulumi deletes and recreates {label(new)} ({_short(force)} forces replacement "
                                       "in pulumi-kubernetes; the name stays, so delete first): it is missing between the two")
    if old["kind"] in WORKLOADS:
        return _workload_change(path, old, new)
    return Impact(path, "in-place", f"{label(new)} changes in place ({_short(changed_paths(old, new))})")


def _removed(path: str, obj: dict, chart: bool, info: dict | None) -> Impact:
    if chart:
        if holds_data(obj):
            return Impact(path, "sessions-lost", f"{label(obj)} is deleted: its PVCs stay orphaned (Retain) but no Redis "
                                                 "serves them; the apps see an empty session store")
        if obj["kind"] == "PersistentVolumeClaim":
            return Impact(path, "data-lost", f"{label(obj)} is deleted with its volume")
        return Impact(path, "in-place", f"helm deletes {label(obj)}")
    if _protected(info):
        return _refused(path, obj, info or {}, "delete")
    if info and info.get("retainOnDelete"):
        return Impact(path, "in-place", f"Pulumi forgets {label(obj)} and leaves it in the cluster (retainOnDelete)")
    if obj["kind"] == "Namespace":
        return Impact(path, "data-lost", f"Pulumi deletes {label(obj)}: Kubernetes deletes every object in it, the Redis "
                                         "volumes (PVCs) included")
    if obj["kind"] == "PersistentVolumeClaim":
        return Impact(path, "data-lost", f"Pulumi deletes {label(obj)} with its volume")
    if obj["kind"] == "Service":
        return Impact(path, "in-place", f"Pulumi deletes {label(obj)}: whatever reaches the app by this name (an "
                                        "Ingress, another app) gets no answer")
    return Impact(path, "in-place", f"Pulumi deletes {label(obj)}")


def _release_impacts(base: Rendered, head: Rendered) -> list[Impact]:
    """Releases replaced (name or namespace changed: helm_release.go, `Diff`) or removed."""
    impacts = []
    ident = {(r.get("namespace"), r.get("name")) for r in head.releases.values()}
    new = [f"{r.get('namespace')}/{r.get('name')}" for r in head.releases.values()
           if (r.get("namespace"), r.get("name")) not in {(b.get("namespace"), b.get("name")) for b in base.releases.values()}]
    for folder, rel in base.releases.items():
        if (rel.get("namespace"), rel.get("name")) in ident:
            continue
        info, path = base.pulumi.get(folder), f"{folder}release.yaml"
        what = f"Release {rel.get('namespace')}/{rel.get('name')}" + (f" -> {', '.join(new)}" if new else "")
        if _protected(info):
            impacts.append(Impact(path, "upgrade-fails", f"Pulumi refuses to {'replace' if new else 'delete'} protected "
                                                         f"{what} (protect, protectData): `pulumi preview` and `up` stop; "
                                                         f"doing it is the deliberate step in {RUNBOOK}, \"Delete a "
                                                         "stack's data on purpose\"", refused=True))
        elif info and info.get("retainOnDelete"):
            impacts.append(Impact(path, "replace" if new else "in-place",
                                  f"{what}{'' if new else ' is removed'}: Pulumi forgets the old release and leaves it "
                                  "running (retainOnDelete)"))
        else:
            impacts.append(
                Impact(path, "replace", f"{what}: Pulumi installs the new release and uninstalls the old one "
                                        "(pulumi-kubernetes helm_release.go: name and namespace force a replacement); "
                                        "its volumes stay (Retain)") if new else
                Impact(path, "in-place", f"{what}: Pulumi uninstalls it; its volumes stay (Retain)"))
    return impacts


def _key(path: str, obj: dict, rendered: Rendered) -> tuple:
    """What one object is across two renders: a program object is its Pulumi resource (type
    and logical name: the URN), a chart object its Kubernetes identity."""
    info = rendered.pulumi.get(path)
    if release_of(path) is None and info:
        return ("pulumi", info.get("type"), info.get("name"))
    return ("k8s", "chart" if release_of(path) else "program", *identity(obj))


def classify(base: Rendered, head: Rendered) -> list[Impact]:
    """One Impact per changed object, worst first."""
    impacts = _release_impacts(base, head)
    old_by = {_key(p, o, base): (p, o) for p, o in base.objects.items()}
    new_by = {_key(p, o, head): (p, o) for p, o in head.objects.items()}
    # A program object that keeps its Kubernetes name under a new Pulumi resource name: the
    # engine creates the new URN before deleting the old one (AlreadyExists).
    gone = {identity(o): (p, o) for k, (p, o) in old_by.items() if k not in new_by and release_of(p) is None}
    removed = [o for _, o in gone.values()]
    facts = {(side, folder): redis_facts(rendered, folder)  # each release's ConfigMaps read once
             for side, rendered in (("base", base), ("head", head))
             for folder in {f for f in map(release_of, rendered.objects) if f is not None}}
    clients = redis_clients(base)
    taken = set()
    for key in sorted(set(old_by) | set(new_by), key=str):
        old_entry, new_entry = old_by.get(key), new_by.get(key)
        if old_entry and new_entry:
            (pa, old), (pb, new) = old_entry, new_entry
            if old == new:
                continue
            folder_a, folder_b = release_of(pa), release_of(pb)
            if folder_a is not None and folder_b is not None:
                impacts.append(_chart_change(pb, old, new, (facts[("base", folder_a)], facts[("head", folder_b)]),
                                             clients))
            else:
                impacts.append(_program_change(pb, old, new, base.pulumi.get(pa), head.pulumi.get(pb)))
        elif new_entry:
            pb, new = new_entry
            twin = gone.get(identity(new)) if release_of(pb) is None else None
            if twin is not None:
                taken.add(identity(new))
                impacts.append(_program_change(pb, twin[1], new, base.pulumi.get(twin[0]), head.pulumi.get(pb)))
                continue
            how = "helm creates" if release_of(pb) else "Pulumi creates"
            extra = ": a new StatefulSet starts on empty volumes" if holds_data(new) else ""
            taken_over = _takeover(pb, new, removed) if release_of(pb) is None else None
            impacts.append(taken_over or Impact(pb, "in-place", f"{how} {label(new)}{extra}"))
    for key, (pa, old) in old_by.items():
        if key in new_by or (release_of(pa) is None and identity(old) in taken):
            continue
        folder = release_of(pa)
        impacts.append(_removed(pa, old, folder is not None, base.pulumi.get(pa)))
    return sorted(impacts, key=lambda i: (not i.refused, -i.rank, i.path))


def worst(impacts: list[Impact]) -> Impact | None:
    """What leads the report: a refusal (nothing is applied), else the worst class."""
    return impacts[0] if impacts else None


def report(impacts: list[Impact], title: str = "") -> str:
    """Text for a terminal: the worst class first, then one line per changed object."""
    if not impacts:
        return f"impact{title}: no rendered object changes"
    top = impacts[0]
    lines = [f"impact{title}: {top.klass} (worst of {len(impacts)} changed objects): {top.what}"]
    if top.refused and len(impacts) > 1:
        lines.append("  (refused until the protection is lifted; the lines below are what happens then)")
    lines += [f"  {i.klass:<13} {i.path}: {i.what}" for i in impacts]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """python -m render.impact BASE_FOLDER HEAD_FOLDER [--json]: classify two render folders."""
    import argparse
    import json
    parser = argparse.ArgumentParser(prog="python -m render.impact", description=main.__doc__)
    parser.add_argument("base", type=Path)
    parser.add_argument("head", type=Path)
    parser.add_argument("--json", action="store_true", help="one JSON list of {path, class, what}, worst first")
    args = parser.parse_args(argv)
    try:
        impacts = classify(read(args.base), read(args.head))
    except (ImpactError, OSError, yaml.YAMLError) as exc:
        print(f"impact: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([{"path": i.path, "class": i.klass, "what": i.what, "refused": i.refused} for i in impacts]))
    else:
        print(report(impacts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
