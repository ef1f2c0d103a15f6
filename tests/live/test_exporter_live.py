"""The exporter pod's containers, run as real redis_exporter processes with exactly the
args `exporter_containers` generates (cluster addresses and mount paths mapped to
loopback), against a real Sentinel topology whose app uses the indexed repository with
the sorted-set store (counted by ZCARD through `--check-single-keys`). Every node and every
Sentinel must be up with its role, and the key checks must never reach a Sentinel."""
from __future__ import annotations

import json
import re

from components.config.sessions import stores_for, stores_in_order
from components.exporter import AUTH_DIR, exporter_containers
from components.monitoring.session_count import KEY_SIZE_METRIC, check_single_keys
from components.monitoring.targets import password_file, scrape_targets
from components.redis import EXPORTER_PASSWORD_FILE, connection_for
from simulators.loopback import HOST, Redis, Sentinel, scrape, start_exporter
from simulators.stack import redis_conf, without_acl
from tools.stackfile import load_settings

PASSWORD = "exporter-live-password-42"
APP = {"name": "petclinic", "image": "docker.io/springcommunity/spring-petclinic:3.4.0", "minReplicas": 3,
       "repositoryType": "indexed", "sessionExpirationStore": "sorted-set"}


def test_every_node_and_sentinel_is_up_with_its_role_and_the_key_checks_skip_sentinels(procs):
    settings = load_settings("prod", {"wasApps": [APP], "redisTls": False})  # TLS: test_security_live.py
    s = settings.redis.sentinel
    conn = connection_for(settings.redis.release_name, settings.redis, settings.namespace, stores_in_order(settings.was_apps))
    conf = redis_conf(settings)
    master = Redis(procs, "node-0", PASSWORD, conf).start()
    nodes = [master] + [Redis(procs, f"node-{i}", PASSWORD, {**conf, "replicaof": f"{HOST} {master.port}"}).start()
                        for i in range(1, s.nodes)]
    sentinels = [Sentinel(procs, f"sentinel-{i}", PASSWORD, master, s.master_set, s.quorum, s.down_after_ms,
                          s.failover_timeout_ms).start() for i in range(s.nodes)]
    targets = scrape_targets(conn)
    local = {t.url: f"redis://{p.addr}" for t, p in zip(targets, [*nodes, *sentinels], strict=True)}

    single_keys = check_single_keys(stores_for(settings.was_apps))
    assert single_keys
    # The file the exporter's Secret holds, re-keyed to the loopback addresses.
    (procs.workdir / EXPORTER_PASSWORD_FILE).write_text(json.dumps(
        {local[url]: pw for url, pw in json.loads(password_file(conn, PASSWORD)).items() if url in local}))

    ports: dict[str, int] = {}
    containers = exporter_containers(conn, "unused", single_keys)
    assert [c["name"] for c in containers] == ["redis-exporter", "sentinel-exporter"]
    for c in containers:
        args = [a.replace(f"{AUTH_DIR}/", f"{procs.workdir}/") for a in c["args"]]
        args = [f"--redis.addr={local[a.split('=', 1)[1]]}" if a.startswith("--redis.addr=") else a
                for a in without_acl(args)]
        _, ports[c["ports"][0]["name"]] = start_exporter(procs, args, name=c["name"])

    for i, t in enumerate(targets):
        metrics = scrape(ports[t.port], local[t.url])
        assert metrics["redis_up"] == [("", 1.0)], (t.instance, metrics.get("redis_exporter_last_scrape_error"))
        [(info, _)] = metrics["redis_instance_info"]
        role = re.search(r'role="([^"]*)"', info).group(1)
        if t.url.endswith(f":{conn['port']}"):
            assert role == ("master" if i == 0 else "slave"), t.instance
            store = stores_for(settings.was_apps)[0]  # indexed, sorted-set store: counted by ZCARD
            sizes = dict(metrics[KEY_SIZE_METRIC])
            for key in store.checked_keys:  # 0: no session yet (and the key does not exist)
                assert sizes[f'{{db="db{store.database}",key="{key}"}}'] == 0.0, key
            assert "redis_script_values" not in metrics
        else:
            assert role == "" and metrics["redis_sentinel_masters"] == [("", 1.0)], t.instance
            assert KEY_SIZE_METRIC not in metrics
