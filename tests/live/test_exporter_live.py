"""The exporter pod's containers, run as real redis_exporter processes with exactly the
args `exporter_containers` generates (cluster addresses and mount paths mapped to
loopback), against a real Sentinel topology whose app uses the indexed repository (so
the counting script is on). Every node and every Sentinel must be up with its role, and
the script must never reach a Sentinel."""
from __future__ import annotations

import json
import re

from components.exporter import (
    AUTH_DIR,
    AUTH_FILE,
    SCRIPT_DIR,
    SCRIPT_FILE,
    exporter_containers,
    password_file,
    scrape_targets,
)
from components.redis import connection_for
from monitoring.session_count import lua_script, script_key, script_mismatch_key, stores_for
from settings.stackfile import load_settings
from simulators.loopback import HOST, Redis, Sentinel, scrape, start_exporter
from simulators.stack import redis_conf, without_acl

PASSWORD = "exporter-live-password-42"
APP = {"name": "petclinic", "image": "docker.io/springcommunity/spring-petclinic:3.4.0", "minReplicas": 3,
       "repositoryType": "indexed", "sessionExpirationStore": "sorted-set"}


def test_every_node_and_sentinel_is_up_with_its_role_and_the_script_skips_sentinels(procs):
    settings = load_settings("prod", {"wasApps": [APP], "redisTls": False})  # TLS: test_security_live.py
    s = settings.redis.sentinel
    conn = connection_for(settings.redis.release_name, settings.redis, settings.namespace)
    conf = redis_conf(settings)
    master = Redis(procs, "node-0", PASSWORD, conf).start()
    nodes = [master] + [Redis(procs, f"node-{i}", PASSWORD, {**conf, "replicaof": f"{HOST} {master.port}"}).start()
                        for i in range(1, s.nodes)]
    sentinels = [Sentinel(procs, f"sentinel-{i}", PASSWORD, master, s.master_set, s.quorum, s.down_after_ms,
                          s.failover_timeout_ms).start() for i in range(s.nodes)]
    targets = scrape_targets(conn)
    local = {t.url: f"redis://{p.addr}" for t, p in zip(targets, [*nodes, *sentinels], strict=True)}

    script = lua_script(stores_for(settings.was_apps))
    assert script
    (procs.workdir / SCRIPT_FILE).write_text(script)
    # The file the exporter's Secret holds, re-keyed to the loopback addresses.
    (procs.workdir / AUTH_FILE).write_text(json.dumps(
        {local[url]: pw for url, pw in json.loads(password_file(conn, PASSWORD)).items() if url in local}))

    ports: dict[str, int] = {}
    containers = exporter_containers(conn, "unused", has_script=True)
    assert [c["name"] for c in containers] == ["redis-exporter", "sentinel-exporter"]
    for c in containers:
        args = [a.replace(f"{SCRIPT_DIR}/", f"{procs.workdir}/").replace(f"{AUTH_DIR}/", f"{procs.workdir}/")
                for a in c["args"]]
        args = [f"--redis.addr={local[a.split('=', 1)[1]]}" if a.startswith("--redis.addr=") else a
                for a in without_acl(args)]
        _, ports[c["ports"][0]["name"]] = start_exporter(procs, args, name=c["name"])

    for i, t in enumerate(targets):
        metrics = scrape(ports[t.port], local[t.url])
        assert metrics["redis_up"] == [("", 1.0)], (t.instance, metrics.get("redis_exporter_last_scrape_error"))
        [(info, _)] = metrics["redis_instance_info"]
        role = re.search(r'role="([^"]*)"', info).group(1)
        if t.url.endswith(f":{conn.port}"):
            assert role == ("master" if i == 0 else "slave"), t.instance
            store = stores_for(settings.was_apps)[0]  # indexed, sorted-set store: counted by the script
            assert (f'{{key="{script_key(store)}"}}', 0.0) in metrics["redis_script_values"]
            assert (f'{{key="{script_mismatch_key(store)}"}}', 0.0) in metrics["redis_script_values"]
        else:
            assert role == "" and metrics["redis_sentinel_masters"] == [("", 1.0)], t.instance
            assert "redis_script_values" not in metrics

    # Why the Sentinels have their own container: through the scripted one they are "down".
    sentinel_target = next(t for t in targets if t.url.endswith(f":{conn.sentinel_port}"))
    assert scrape(ports["metrics"], local[sentinel_target.url])["redis_up"] == [("", 0.0)]
