"""The two-phase `redisTls` switch of a standalone store (docs/runbooks.md, "Switch TLS on or off"),
live: a real redis-server with the chart's Redis config and the program's ACL, three WAS "pods"
touching their sessions every 20 ms, and the Kubernetes Service port 6380 played by a TCP relay
(kube-proxy's DNAT to the targetPort the program renders).

Up 1 (`redisTls` flipped with `redisTlsTransition: true`): Redis restarts serving both
protocols, with the program's own `master.extraFlags` (components/redis.py) as its extra
arguments; after the release the pods roll to the new protocol's port, one at a time.
Up 2 (`redisTlsTransition: false`): Redis restarts in the new protocol only, the Service's TLS
port now leading to 6379; the pods do not roll. Requests fail only while Redis restarts (the
cost of any standalone restart), none while the pods roll; every session is kept. Run in both
directions; the one-shot switch's cost is tests/live/test_tls_switch_live.py."""
from __future__ import annotations

import time

import pytest

from components.config import names
from components.redis import CERTS_DIR, chart_values
from simulators import certs, secure
from simulators.certs import TlsFiles
from simulators.loopback import HOST, Link, Redis, connect, free_port, roll_out, stop_all, tls_conf, wait_until
from tests.live.test_tls_switch_live import APP, PODS, RELEASE_SECONDS, Pod
from tools.stackfile import load_settings


def transition_conf(port: int, tls_port: int, server: TlsFiles) -> dict[str, str]:
    """redis.conf lines of the program's transition flags (`master.extraFlags`, appended last to the
    chart's `--port 6379`), with this machine's certificate paths and ports."""
    flags = chart_values("redis", load_settings("dev", {"redisTls": True, "redisTlsTransition": True}).redis
                         )["master"]["extraFlags"]
    files = {f"{CERTS_DIR}/tls.crt": server.cert, f"{CERTS_DIR}/tls.key": server.key, f"{CERTS_DIR}/ca.crt": server.ca,
             str(names.REDIS_TLS_PORT): str(tls_port)}
    conf = {flag.removeprefix("--"): files.get(value, value) for flag, value in zip(flags[::2], flags[1::2], strict=True)}
    assert conf["tls-port"] == str(tls_port) and conf["tls-auth-clients"] == "yes", flags
    return {"port": str(port), **conf}


TLS_KEYS = tuple(k for k in tls_conf(0, TlsFiles("", "", "")) if k != "port")
"""Every TLS line a restart replaces (the protocol of the next one is whatever its `conf` says)."""


def restart(node: Redis, conf: dict[str, str], tls: TlsFiles | None) -> float:
    """A StatefulSet restart of the only Redis pod with new arguments: how long it took."""
    began = time.monotonic()
    node.tls = tls
    node.restart(conf, drop=TLS_KEYS)
    return time.monotonic() - began


@pytest.mark.parametrize("to_tls", [True, False], ids=["on", "off"])
def test_two_phase_tls_switch_fails_requests_only_while_redis_restarts(procs, to_tls):
    stack = secure.start(procs, load_settings("dev", {"wasApps": [APP]}), sentinel=False)
    node = stack.nodes[0]
    user = stack.apps[0].user
    server, clients = certs.issue(procs.workdir / "certs", [], [user, names.EXPORTER_USER])
    tls_port = free_port()
    service_tls = Link(tls_port)  # the master Service's port 6380
    if not to_tls:  # start from the TLS stack: Redis TLS-only, the Service's 6380 leading to it
        restart(node, tls_conf(node.port, server), server)
        service_tls.target_port = node.port
    setup = stack.writer(APP["name"], node.client(stack.apps[0].database, username=user,
                                                  password=secure.client_password(APP["name"]),
                                                  tls=clients[user] if not to_tls else None))
    ids = list(setup.create(500))
    setup.client.close()

    def old_pod() -> Pod:
        return Pod(stack, node.port, None) if to_tls else Pod(stack, service_tls.port, clients[user])

    def new_pod() -> Pod:
        pod = Pod(stack, service_tls.port, clients[user]) if to_tls else Pod(stack, node.port, None)
        everyone.append(pod)
        return pod

    pods = [old_pod() for _ in range(PODS)]
    everyone = list(pods)
    for p in pods:
        p.start()
    wait_until(lambda: all(p.requests > 20 for p in pods), 20, what="pods writing")

    def failed() -> int:
        return sum(p.failed for p in everyone)

    assert failed() == 0
    # up 1: Redis restarts on both protocols (the Service's 6380 now leads to Redis's second port) ...
    service_tls.target_port = tls_port
    restart1 = restart(node, transition_conf(node.port, tls_port, server), None)
    time.sleep(RELEASE_SECONDS)
    failed_restart1 = failed()
    # ... and after the release the pods roll to the new protocol: both are served
    rolled = roll_out(pods, new_pod, lambda new: new.requests - new.failed > 20, what="a pod of the new protocol writing")
    failed_roll = failed() - failed_restart1
    wait_until(lambda: all(p.requests > 40 for p in pods), 20, what="new pods writing")
    # up 2: Redis restarts in the new protocol only; the pods keep their port and do not roll
    before_restart2 = failed()
    if to_tls:
        service_tls.target_port = node.port  # the Service's 6380 -> targetPort 6379, now TLS-only
        restart2 = restart(node, tls_conf(node.port, server), server)
    else:
        restart2 = restart(node, {"port": str(node.port)}, None)
    time.sleep(RELEASE_SECONDS)
    failed_restart2 = failed() - before_restart2
    wait_until(lambda: all(p.requests > 80 for p in pods), 30, what="pods writing after the transition")
    stop_all(pods)
    service_tls.close()

    requests = sum(p.requests for p in everyone)
    reader = stack.writer(APP["name"], connect(HOST, node.port, secure.client_password(APP["name"]),
                                              stack.apps[0].database, username=user,
                                              tls=clients[user] if to_tls else None))
    kept = sum(1 for sid in ids if reader.read(sid))
    print(f"\ntwo-phase TLS switch {'on' if to_tls else 'off'}: requests={requests} failed={failed()} "
          f"(restart 1 ({restart1:.1f}s): {failed_restart1}, pods rolling: {failed_roll}, restart 2 "
          f"({restart2:.1f}s): {failed_restart2}), sessions before={len(ids)} after={kept} "
          f"(Redis {'.'.join(map(str, stack.redis_version))})")
    assert len(rolled) == PODS and kept == len(ids)
    assert failed_roll == 0  # Redis serves both protocols while the pods roll
    assert failed() == failed_restart1 + failed_restart2  # the only failures: the two Redis restarts
