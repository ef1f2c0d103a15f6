"""The exporter and the session counter log in with the credentials the store hands them (issue 21):
the program runs under mocks with a different password per RandomPassword, and a real redis-server
(Debian's 7.0) loads the ACL file the store rendered; the real redis_exporter (1.45) runs with the
exporter container's args and its Secret volume's files, the counter script with its container's
password file. Each logs in as its own user; the same exporter handed another client's Secret
cannot (every user's password differs). Web-endpoint TLS is test_exporter_auth_live.py's."""
import json
from pathlib import Path

import pytest

from components.config import names
from components.config.sessions import stores_for
from components.exporter import AUTH_DIR, COUNTER_DIR
from components.monitoring.session_count import counted_by_scan
from render.mockrun import RecordingMocks, run_program, unwrap
from simulators.loopback import Redis, scrape, start_exporter, wait_until
from simulators.stack import start_counter
from tools.stackfile import load_settings

# What Debian's redis-server is: the store writes the ACL file for its image's version.
STACK = {"redisImageTag": "7.0.15-debian-12-r0", "sentinelImageTag": "7.0.15-debian-12-r0", "redisTls": False}


@pytest.fixture
def store(monkeypatch):
    """The dev stack under mocks, each RandomPassword with its own result; returns
    (run, {Secret name: its data}, the exporter's Deployment pod spec)."""
    monkeypatch.setattr(RecordingMocks, "password", staticmethod(lambda resource: f"pw-{resource}-Zq81"))
    run = run_program("dev", STACK)
    assert run.error is None, run.error
    secrets = {s.plain["metadata"]["name"]: unwrap(s.inputs["stringData"]) for s in run.of_type("kubernetes:core/v1:Secret")}
    [pod] = [d.plain["spec"]["template"]["spec"] for d in run.of_type("kubernetes:apps/v1:Deployment")
             if d.name == f"{names.exporter('redis')}-deployment"]
    return run, secrets, pod


def mounted(pod: dict, container: dict, secrets: dict, folder: Path) -> dict[str, Path]:
    """Each Secret volume the container mounts, written out as the kubelet would (its items, or every
    key): mount path -> local folder."""
    volumes = {v["name"]: v for v in pod["volumes"]}
    paths = {}
    for mount in container["volumeMounts"]:
        secret = volumes[mount["name"]].get("secret")
        if secret is None:
            continue
        data = secrets[secret["secretName"]]
        local = folder / mount["name"]
        local.mkdir()
        for item in secret.get("items") or [{"key": k, "path": k} for k in data]:
            (local / item["path"]).write_text(data[item["key"]])
        paths[mount["mountPath"]] = local
    return paths


def test_the_exporter_and_the_counter_log_in_with_what_the_store_hands_them(procs, store):
    run, secrets, pod = store
    settings = load_settings("dev", STACK)
    work = procs.workdir
    (work / "redis.acl").write_text(unwrap(run.one("kubernetes:core/v1:Secret", "redis-acl").inputs["stringData"])
                                    [names.REDIS_ACL_FILE])
    default = secrets[names.redis_password_secret("redis")][names.PASSWORD_KEY]
    redis = Redis(procs, "redis", default, {"aclfile": str(work / "redis.acl")}).start()
    local = f"redis://{redis.addr}"

    exporter = next(c for c in pod["containers"] if c["name"] == "redis-exporter")
    files = mounted(pod, exporter, secrets, work)
    assert set(files) >= {AUTH_DIR}
    [target] = [a.split("=", 1)[1] for a in exporter["args"] if a.startswith("--redis.addr=")]
    password_file = files[AUTH_DIR] / "passwords.json"
    # The store's file names the cluster address; here the same password under the loopback one.
    by_url = json.loads(password_file.read_text())
    password_file.write_text(json.dumps({k.replace(target.split("://")[1], redis.addr): v for k, v in by_url.items()}))
    args = [a.replace(f"{AUTH_DIR}/", f"{files[AUTH_DIR]}/") for a in exporter["args"]
            if not a.startswith(("--tls-server-", "--redis.addr="))]
    assert f"--redis.user={names.EXPORTER_USER}" in args
    _, port = start_exporter(procs, [*args, f"--redis.addr={local}"])
    metrics = scrape(port, local)
    assert metrics["redis_up"] == [("", 1.0)], metrics.get("redis_exporter_last_scrape_error")
    assert metrics["redis_exporter_last_scrape_error"] == [('{err=""}', 0.0)]  # logged in, every command allowed

    counter = next(c for c in pod["containers"] if c["name"] == "session-counter")
    stores = counted_by_scan(stores_for(settings.was_apps))
    assert stores  # dev's app uses the default repository: counted by the sidecar
    (work / "counter").mkdir()
    counter_files = mounted(pod, counter, secrets, work / "counter")
    counter_password = (counter_files[COUNTER_DIR] / names.CLIENT_PASSWORD_KEY).read_text()
    start_counter(procs, [redis.addr], stores_for(settings.was_apps), counter_password, interval=1)
    db = stores[0].database
    as_exporter = redis.client(db, username=names.EXPORTER_USER, password=by_url[target])
    wait_until(lambda: as_exporter.get(names.SESSION_COUNT_KEY) == "0", 20,
               what="the counter's SET with the store's counter password")

    # Another client's Secret in the exporter's place: its own user's password does not fit.
    app_password = secrets[names.client_auth_secret("petclinic")][names.CLIENT_PASSWORD_KEY]
    assert app_password != by_url[target]
    password_file.write_text(json.dumps({local: app_password}))
    _, wrong = start_exporter(procs, [*args, f"--redis.addr={local}"], name="exporter-wrong-secret")
    assert scrape(wrong, local)["redis_up"] == [("", 0.0)]
