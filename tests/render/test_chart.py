"""What the program points at exists in what the pinned chart really creates (helm
template of charts/redis-<version>.tgz with the values the release gets), for dev, prod,
dev with Sentinel, prod with an indexed app and dev mid-way through a TLS switch: every client's host, port, Sentinel node
and scrape target; the NetworkPolicy admitting every client; the Secret the chart mounts;
the PDBs; the Redis configuration. No name is written here: each is read from the render."""
from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit

import pytest

from components.config import names
from render import CHARTS
from render.impact import extra_tls_ports as listening_undeclared
from tests.render.conftest import Rendered

CLUSTER_DOMAIN = "svc.cluster.local"
WORKLOADS = ("Deployment", "StatefulSet")


def selects(selector: dict, labels: dict) -> bool:
    """Kubernetes label selector semantics (an empty selector selects everything)."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        key, op, vals = e["key"], e["operator"], e.get("values", [])
        ok = {"In": key in labels and labels[key] in vals, "NotIn": labels.get(key) not in vals,
              "Exists": key in labels, "DoesNotExist": key not in labels}[op]
        if not ok:
            return False
    return True


def service_selects(svc: dict, labels: dict) -> bool:
    """A Service's selector is a plain map (not a LabelSelector); none selects no pod."""
    selector = svc["spec"].get("selector")
    return bool(selector) and selects({"matchLabels": selector}, labels)


def pods(r: Rendered, chart: bool | None = None) -> list[tuple[dict, dict, dict]]:
    """(workload, pod labels, pod spec) of every workload."""
    return [(w, w["spec"]["template"]["metadata"].get("labels", {}), w["spec"]["template"]["spec"])
            for kind in WORKLOADS for w in r.of_kind(kind, chart)]


def container_ports(spec: dict, extra: tuple[int, ...] = ()) -> dict:
    """name -> number and number -> number of every container port of a pod, and `extra` ports it
    listens on undeclared."""
    out = {p: p for p in extra}
    for c in spec["containers"]:
        for p in c.get("ports", []):
            out[p["containerPort"]] = p["containerPort"]
            if p.get("name"):
                out[p["name"]] = p["containerPort"]
    return out


def extra_tls_ports(r: Rendered) -> tuple[int, ...]:
    """The TLS port standalone Redis also listens on during a TLS transition (render/impact.py)."""
    return tuple(listening_undeclared(r.of_kind("ConfigMap", chart=True)))


def resolve(r: Rendered, host: str, port: int) -> str:
    """What `host:port` reaches in the render, or an AssertionError saying why not:
    `<service>.<ns>.svc.cluster.local` with a Service port that maps to a port of the pods
    it selects, or `<pod>.<headless service>.<ns>.svc.cluster.local` of a StatefulSet pod
    (ordinal < replicas, serviceName = that headless Service) with that container port."""
    ns = r.settings.namespace
    suffix = f".{ns}.{CLUSTER_DOMAIN}"
    assert host.endswith(suffix), f"{host} is not a name in namespace {ns}"
    parts = host[: -len(suffix)].split(".")
    services = {s["metadata"]["name"]: s for s in r.of_kind("Service") if s["metadata"].get("namespace") == ns}
    if len(parts) == 1:
        svc = services.get(parts[0])
        assert svc, f"{host}: no Service {parts[0]} in the render"
        [sp] = [p for p in svc["spec"]["ports"] if p["port"] == port] or [None]
        assert sp, f"{host}:{port}: Service {parts[0]} has no port {port}"
        backends = [spec for _, labels, spec in pods(r) if service_selects(svc, labels)]
        assert backends, f"Service {parts[0]} selects no pod"
        for spec in backends:
            assert sp.get("targetPort", port) in container_ports(spec, extra_tls_ports(r)), \
                f"{host}:{port}: target port not on its pods"
        return f"Service/{parts[0]}"
    assert len(parts) == 2, f"{host}: neither <service>{suffix} nor <pod>.<service>{suffix}"
    pod, headless = parts
    assert headless in services and services[headless]["spec"].get("clusterIP") == "None", \
        f"{host}: {headless} is not a headless Service"
    for sts in r.of_kind("StatefulSet"):
        name = sts["metadata"]["name"]
        m = re.fullmatch(re.escape(name) + r"-(\d+)", pod)
        if m and sts["spec"]["serviceName"] == headless:
            assert int(m.group(1)) < sts["spec"]["replicas"], f"{host}: ordinal beyond replicas"
            assert service_selects(services[headless], sts["spec"]["template"]["metadata"]["labels"])
            assert port in container_ports(sts["spec"]["template"]["spec"], extra_tls_ports(r)), \
                f"{host}:{port}: no such container port"
            return f"StatefulSet/{name}[{m.group(1)}]"
    raise AssertionError(f"{host}: no StatefulSet pod {pod} behind {headless}")


def env_of(spec: dict) -> dict:
    return {e["name"]: e.get("value") for c in spec["containers"] for e in c.get("env", [])}


def was_clients(r: Rendered) -> list[tuple[str, dict, dict]]:
    apps = {a.name for a in r.settings.was_apps}
    return [(w["metadata"]["name"], labels, spec) for w, labels, spec in pods(r, chart=False)
            if w["metadata"]["name"] in apps]


def redis_endpoints(spec: dict) -> list[tuple[str, int, str]]:
    """(host, port, what) every Redis address a WAS pod's Spring settings name."""
    env = env_of(spec)
    out = []
    for key, value in env.items():
        if key.endswith("_REDIS_HOST"):
            out.append((value, int(env[key[: -len("HOST")] + "PORT"]), key))
        if key.endswith("_REDIS_SENTINEL_NODES"):
            for node in value.split(","):
                host, _, port = node.rpartition(":")
                out.append((host, int(port), key))
    return out


# ------------------------------------------------------------------------- tests
def test_the_vendored_chart_is_the_recorded_one(rendered: Rendered):
    chart = CHARTS / f"redis-{rendered.settings.redis.chart_version}.tgz"
    digest = hashlib.sha256(chart.read_bytes()).hexdigest()
    assert digest in (CHARTS / "README.md").read_text(), f"{chart.name} changed: record its provenance"


def test_the_chart_creates_the_objects_the_program_plans_around(rendered: Rendered):
    s = rendered.settings
    made = {(o["kind"], o["metadata"]["name"]) for _, o in rendered.objects(chart=True)}
    assert made == set(names.chart_objects(s.redis.release_name, s.redis.topology))
    assert all(o["metadata"].get("namespace") == s.namespace for _, o in rendered.objects(chart=True))


def test_every_was_host_port_and_sentinel_node_exists_in_the_chart(rendered: Rendered):
    clients = was_clients(rendered)
    assert len(clients) == len(rendered.settings.was_apps)
    for name, _, spec in clients:
        endpoints = redis_endpoints(spec)
        assert endpoints, f"{name} names no Redis"
        kinds = {resolve(rendered, host, port).split("/")[0] for host, port, _ in endpoints}
        if rendered.settings.redis.topology == "standalone":
            [(host, port, _)] = endpoints
            target = resolve(rendered, host, port)
            svc = rendered.one("Service", target.split("/")[1])
            # incident 2: the Service must reach the master, which takes writes
            masters = [w for w, labels, _ in pods(rendered) if service_selects(svc, labels)]
            assert [w["metadata"]["name"] for w in masters] == [names.redis_node_statefulset(
                rendered.settings.redis.release_name, "standalone")]
            assert masters[0]["spec"]["replicas"] == 1
        else:  # every Sentinel of every node, each on the Sentinel port, master set as configured
            assert kinds == {"StatefulSet"}
            sts = rendered.of_kind("StatefulSet", chart=True)[0]
            assert len(endpoints) == sts["spec"]["replicas"]
            assert {p for _, p, _ in endpoints} == {26379}
            conf = rendered.one("ConfigMap", f"{rendered.settings.redis.release_name}-configuration")["data"]["sentinel.conf"]
            master_set = re.search(r"^sentinel monitor (\S+) ", conf, re.M).group(1)
            assert {v for k, v in env_of(spec).items() if k.endswith("SENTINEL_MASTER")} == {master_set}


def test_every_scrape_target_exists_in_the_chart(rendered: Rendered):
    [sm] = rendered.of_kind("ServiceMonitor")
    assert all(list(e["params"]) == ["target"] for e in sm["spec"]["endpoints"])  # one scrape path (issue 20)
    targets = [e["params"]["target"][0] for e in sm["spec"]["endpoints"]]
    reached = []
    for url in targets:
        parts = urlsplit(url)
        assert parts.scheme == ("rediss" if rendered.settings.redis.tls else "redis")
        reached.append(resolve(rendered, parts.hostname, parts.port))
    sts = rendered.of_kind("StatefulSet", chart=True)[0]
    pods_per_port = len(targets) // sts["spec"]["replicas"]
    assert len(set(reached)) == sts["spec"]["replicas"] and pods_per_port == (
        2 if rendered.settings.redis.topology == "sentinel" else 1), "every node (and Sentinel) scraped once"
    exporter = [spec for w, _, spec in pods(rendered, chart=False) if w["metadata"]["name"] == sm["metadata"]["name"]]
    [spec] = exporter
    for c in spec["containers"]:
        if c["name"] == "session-counter":  # the Redis nodes it counts on are every node target's
            nodes = next(e["value"] for e in c["env"] if e["name"] == "COUNT_NODES").split()
            assert {f"{urlsplit(t).hostname}:{urlsplit(t).port}" for t in targets} >= set(nodes)
            continue
        [addr] = [a.split("=", 1)[1] for a in c["args"] if a.startswith("--redis.addr=")]
        assert addr in targets


def test_the_chart_network_policy_admits_every_client(rendered: Rendered):
    fullname = rendered.settings.redis.release_name
    [policy] = [p for p in rendered.of_kind("NetworkPolicy", chart=True)]
    redis_pods = [labels for _, labels, _ in pods(rendered, chart=True)]
    assert redis_pods and all(selects(policy["spec"]["podSelector"], labels) for labels in redis_pods)
    assert "Ingress" in policy["spec"]["policyTypes"]
    clients = [(name, labels, spec) for name, labels, spec in was_clients(rendered)]
    clients += [(w["metadata"]["name"], labels, spec) for w, labels, spec in pods(rendered, chart=False)
                if w["metadata"]["name"] == names.exporter(fullname)]
    assert len(clients) == len(rendered.settings.was_apps) + 1
    wanted_ports = {6379, *extra_tls_ports(rendered)} | ({26379} if rendered.settings.redis.topology == "sentinel"
                                                          else set())
    for name, labels, _ in clients:
        admitted = set()
        for rule in policy["spec"].get("ingress", []):
            peers = rule.get("from", [])
            ok = not peers or any("namespaceSelector" not in p and "ipBlock" not in p
                                  and selects(p.get("podSelector", {}), labels) for p in peers)
            if ok:
                admitted |= {p["port"] for p in rule.get("ports", [])} or wanted_ports
        assert wanted_ports <= admitted, f"{name} (labels {labels}) is not admitted to {sorted(wanted_ports)}"
    # and nothing else is: no other namespace, no address block, no label-free rule
    for rule in policy["spec"]["ingress"]:
        assert rule.get("from"), "an ingress rule without `from` admits everyone"
        assert all("namespaceSelector" not in p and "ipBlock" not in p for p in rule["from"])


def test_the_chart_mounts_the_programs_secret_and_key(rendered: Rendered):
    ours = {s["metadata"]["name"]: s for s in rendered.of_kind("Secret", chart=False)}
    for w, _, spec in pods(rendered, chart=True):
        volumes = {v["name"]: v for v in spec.get("volumes", []) if "secret" in v}
        assert volumes, f"{w['metadata']['name']} mounts no password Secret"
        files: dict[str, set] = {}
        for v in volumes.values():
            secret = ours.get(v["secret"]["secretName"])
            assert secret, f"chart mounts Secret {v['secret']['secretName']}, which the program does not create"
            keys = {i["key"] for i in v["secret"].get("items", [])} or set(secret["stringData"])
            assert keys <= set(secret["stringData"]), (keys, set(secret["stringData"]))
            files[v["name"]] = {i.get("path", i["key"]) for i in v["secret"].get("items", [])} or keys
        for c in spec["containers"]:  # every *_PASSWORD_FILE names a file of a Secret mounted there
            mounts = {m["mountPath"].rstrip("/"): m["name"] for m in c.get("volumeMounts", []) if m["name"] in volumes}
            for e in c.get("env", []):
                if e["name"].endswith("PASSWORD_FILE"):
                    folder, _, file = e["value"].rpartition("/")
                    assert folder in mounts and file in files[mounts[folder]], (c["name"], e)
    # WAS pods read Secrets the program creates
    for _name, _, spec in was_clients(rendered):
        assert {v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v} <= set(ours)


def test_every_pdb_selects_pods(rendered: Rendered):
    pdbs = rendered.of_kind("PodDisruptionBudget")
    assert pdbs
    for pdb in pdbs:
        ns = pdb["metadata"]["namespace"]
        selected = [w for w, labels, _ in pods(rendered) if w["metadata"]["namespace"] == ns
                    and selects(pdb["spec"]["selector"], labels)]
        assert selected, f"PDB {pdb['metadata']['name']} selects no pod"
    if rendered.settings.redis.topology == "sentinel":  # the Redis nodes are covered
        assert rendered.of_kind("PodDisruptionBudget", chart=True)


def test_maxmemory_policy_and_aof_reach_the_charts_redis_config(rendered: Rendered):
    s = rendered.settings.redis
    data = rendered.one("ConfigMap", f"{s.release_name}-configuration")["data"]
    conf = dict(line.split(" ", 1) for line in data["redis.conf"].splitlines() if line and not line.startswith("#"))
    assert conf["maxmemory"] == s.maxmemory and conf["maxmemory-policy"] == s.maxmemory_policy
    assert conf["appendonly"] == "yes" and conf["save"] == '""'
    if any(a.repository == "indexed" for a in rendered.settings.was_apps):
        assert conf["notify-keyspace-events"] == "Egx"
    else:
        assert "notify-keyspace-events" not in conf
    for w, _, spec in pods(rendered, chart=True):  # and every node reads that file
        mounted = {v["configMap"]["name"] for v in spec["volumes"] if "configMap" in v}
        assert f"{s.release_name}-configuration" in mounted, w["metadata"]["name"]


def test_the_resolver_refuses_what_the_chart_does_not_make(rendered: Rendered):
    """The checks above can fail: the seed's `redis` host (incident 2), a pod beyond the
    replicas, a port the Service does not have."""
    s = rendered.settings
    fullname, ns = s.redis.release_name, s.namespace
    sts = rendered.of_kind("StatefulSet", chart=True)[0]
    beyond = f"{sts['metadata']['name']}-{sts['spec']['replicas']}.{fullname}-headless.{ns}.{CLUSTER_DOMAIN}"
    bad = [(f"{beyond}", 6379), (f"{fullname}-headless.{ns}.{CLUSTER_DOMAIN}", 6380),
           (f"{fullname}-replicas.{ns}.{CLUSTER_DOMAIN}", 6379)]
    if s.redis.topology == "standalone":
        bad.append((f"{fullname}.{ns}.{CLUSTER_DOMAIN}", 6379))  # what the seed's WAS used
    for host, port in bad:
        with pytest.raises(AssertionError):
            resolve(rendered, host, port)


def test_the_chart_loads_our_acl_file_in_every_redis_and_sentinel(rendered: Rendered):
    """Every Redis and Sentinel container mounts the ACL Secret where the config's `aclfile`
    points, and the chart's own users.acl stays empty (auth.acl is off)."""
    s = rendered.settings.redis
    data = rendered.one("ConfigMap", f"{s.release_name}-configuration")["data"]
    assert f"aclfile {names.ACL_DIR}/{names.REDIS_ACL_FILE}" in data["redis.conf"].splitlines()
    assert not data.get("users.acl", "").strip()
    if s.topology == "sentinel":
        assert f"aclfile {names.ACL_DIR}/{names.SENTINEL_ACL_FILE}" in data["sentinel.conf"].splitlines()
    ours = {x["metadata"]["name"] for x in rendered.of_kind("Secret", chart=False)}
    [sts] = rendered.of_kind("StatefulSet", chart=True)
    spec = sts["spec"]["template"]["spec"]
    [acl_volume] = [v for v in spec["volumes"] if v.get("secret", {}).get("secretName") == names.acl_secret(s.release_name)]
    assert acl_volume["secret"]["secretName"] in ours
    servers = [c for c in spec["containers"] if c["name"] in ("redis", "sentinel")]
    assert len(servers) == (2 if s.topology == "sentinel" else 1)
    for c in servers + [c for c in spec["containers"] if c["name"] == "acl-reload"]:
        assert {"name": acl_volume["name"], "mountPath": names.ACL_DIR, "readOnly": True} in c["volumeMounts"], c["name"]


def test_tls_reaches_every_port_of_the_chart(rendered: Rendered):
    s = rendered.settings.redis
    [sts] = rendered.of_kind("StatefulSet", chart=True)
    env = {e["name"]: e.get("value") for c in sts["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])}
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    if s.tls_transition:  # plaintext on the chart's port, mutual TLS on a second one, the same certificate
        assert env.get("REDIS_TLS_ENABLED") in (None, "no")
        [script] = [c["data"]["start-master.sh"] for c in rendered.of_kind("ConfigMap", chart=True)
                    if "start-master.sh" in c.get("data", {})]
        args = re.findall(r'ARGS\+=\("([^"]*)"\)', script)
        tail = args[args.index("--tls-port"):]
        assert dict(zip(tail[::2], tail[1::2], strict=True)) == {
            "--tls-port": "6380", "--tls-cert-file": "/opt/bitnami/redis/certs/tls.crt",
            "--tls-key-file": "/opt/bitnami/redis/certs/tls.key", "--tls-ca-cert-file": "/opt/bitnami/redis/certs/ca.crt",
            "--tls-auth-clients": "yes"}
        assert 'ARGS=("--port" "${REDIS_PORT}")' in script  # the chart's plaintext port stays
        [redis] = [c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "redis"]
        mount = next(m for m in redis["volumeMounts"] if m["mountPath"] == "/opt/bitnami/redis/certs")
        assert volumes[mount["name"]]["secret"]["secretName"] == names.tls_secret(s.release_name)
        return
    if not s.tls:
        assert env.get("REDIS_TLS_ENABLED") in (None, "no")
        return
    assert env["REDIS_TLS_ENABLED"] == "yes" and env["REDIS_TLS_AUTH_CLIENTS"] == "yes"
    if s.topology == "sentinel":
        assert env["REDIS_SENTINEL_TLS_ENABLED"] == "yes"
    assert volumes["redis-certificates"]["secret"]["secretName"] == names.tls_secret(s.release_name)


def test_the_charts_user_secret_would_fail_open():
    """Why the ACL does not use auth.acl.userSecret (docs/decisions.md): the chart reads that
    Secret with Helm `lookup`, which finds nothing when rendering without the live cluster (and
    when a key is missing), and then writes the user as `nopass`: any password logs in."""
    from render import chart_objects
    from tests.tools import require_helm
    require_helm()
    values = {"architecture": "standalone", "auth": {"enabled": True, "password": "x", "acl": {
        "enabled": True, "userSecret": "app-passwords",
        "users": [{"username": "app", "keys": "~app:*", "commands": "-@all +get"}]}}}
    objects = chart_objects({"chart": "oci://registry-1.docker.io/bitnamicharts/redis", "version": "23.1.1",
                             "name": "redis", "namespace": "ns"}, values)
    [cm] = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "redis-configuration"]
    assert "user app on nopass ~app:*" in cm["data"]["users.acl"]
