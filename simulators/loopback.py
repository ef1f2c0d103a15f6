"""Real binaries on 127.0.0.1 for the live tests and the benchmarks: redis-server,
redis-sentinel, the exporter, Prometheus, Alertmanager, and an in-process webhook
receiver. Every wait is bounded in count and time; every process is killed by its owner
(`Processes.close`)."""
from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import redis
import yaml
from redis.backoff import NoBackoff
from redis.maint_notifications import MaintNotificationsConfig
from redis.retry import Retry

from components.monitoring.routing import (
    GROUP_BY,
    GROUP_INTERVAL,
    GROUP_WAIT,
    INHIBIT_RULES,
    NOTIFY_RECEIVER,
    NULL_RECEIVER,
    SEVERITY_REPEAT,
)
from simulators.certs import TlsFiles

HOST = "127.0.0.1"
BINARIES = ("redis-server", "redis-sentinel", "prometheus-redis-exporter", "prometheus", "prometheus-alertmanager")


def missing_binaries() -> list[str]:
    """The binaries of BINARIES that are not on PATH."""
    return [b for b in BINARIES if not shutil.which(b)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class ProcessDied(RuntimeError):
    """A process a wait depends on exited; carries the tail of its log."""


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.2, what: str = "condition",
               procs: tuple[Proc, ...] = ()) -> Any:
    """Poll `predicate` until truthy; at most `timeout` seconds and timeout/interval + 1 tries.
    Exceptions from the predicate count as "not yet" (the last one is reported); if one of
    `procs` exits, stop at once with its log instead of timing out."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    for _ in range(int(timeout / interval) + 1):
        for p in procs:
            if not p.alive():
                raise ProcessDied(f"{p.name} exited while waiting for {what}:\n{p.tail(30)}")
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - keep polling, report the last one
            last_error = exc
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}" + (f": {last_error!r}" if last_error else ""))


def roll_out(pods: list, start_new: Callable[[], Any], ready: Callable[[Any], bool], what: str) -> list:
    """A Deployment's rolling update (maxSurge 1, maxUnavailable 0) of client threads that
    stop when `running` is false: per old pod, a new one starts and is `ready` (bounded
    wait) before the old one stops. `pods` ends with the new ones; returns the old ones."""
    rolled = []
    for old in list(pods):
        new = start_new()
        new.start()
        wait_until(functools.partial(ready, new), 20, what=what)
        old.running = False
        old.join(timeout=10)
        rolled.append(old)
        pods.remove(old)
        pods.append(new)
    return rolled


def stop_all(pods: list) -> None:
    """Stops client threads started as in roll_out (bounded join)."""
    for p in pods:
        p.running = False
        p.join(timeout=10)


class Proc:
    """A child process with its log, stopped by SIGTERM then SIGKILL."""

    def __init__(self, name: str, args: list[str], workdir: Path, env: dict | None = None):
        self.name, self.args, self.workdir = name, args, workdir
        self.log = workdir / f"{name}.log"
        self.env = {**os.environ, **(env or {})}
        self.popen: subprocess.Popen | None = None

    def start(self) -> Proc:
        self.popen = subprocess.Popen(self.args, cwd=self.workdir, env=self.env, stdout=self.log.open("ab"),
                                      stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen is not None and self.alive():
            os.killpg(self.popen.pid, sig)
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen is not None and self.alive():
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""


class Processes:
    """Owns every process a test starts; `close()` stops them all."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.procs: list[Proc] = []

    def start(self, name: str, args: list[str], env: dict | None = None) -> Proc:
        proc = Proc(name, args, self.workdir, env).start()
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


# ------------------------------------------------------------------------- redis
def connect(host: str, port: int, password: str | None = None, db: int = 0, timeout: float = 10.0,
            username: str | None = None, tls: TlsFiles | None = None) -> redis.Redis:
    """One redis-py connection, opened here, with the handshake Lettuce 6 sends to nodes and
    Sentinels alike (docs/research/spring-session.md B, Lettuce RedisHandshake): HELLO 3 AUTH
    <user|default> <password> (HELLO 3 without one), CLIENT SETINFO lib-name/lib-ver with
    errors ignored (Lettuce 6.4+), SELECT <db> when db > 0; redis-py 8.1
    AbstractConnection.on_connect_check_health sends these (SETINFO before SELECT, as Lettuce
    6.3 batches them). No retry (a failure is the caller's to see), no maintenance-notification
    handshake (not Lettuce's), replies decoded to str. A pipeline or PubSub takes a second
    connection from the client's pool with the same handshake."""
    return redis.Redis(host, port, db, password, timeout, socket_connect_timeout=timeout, username=username,
                       decode_responses=True, protocol=3, single_connection_client=True,
                       retry=Retry(NoBackoff(), 0),
                       maint_notifications_config=MaintNotificationsConfig(enabled=False),
                       ssl=tls is not None, ssl_certfile=tls.cert if tls else None,
                       ssl_keyfile=tls.key if tls else None, ssl_ca_certs=tls.ca if tls else None)


def master_from_sentinels(sentinels: list[tuple[str, int]], master_set: str, password: str | None,
                          timeout: float = 2.0, username: str | None = None,
                          tls: TlsFiles | None = None) -> tuple[str, int]:
    """Ask each Sentinel in turn for the master's address with SENTINEL get-master-addr-by-name,
    as Lettuce does (redis.sentinel.Sentinel asks SENTINEL MASTERS, which an app's ACL user
    may not run: components/config/acl.py)."""
    last: Exception = redis.ConnectionError("no sentinel given")
    for host, port in sentinels:
        try:
            with connect(host, port, password, timeout=timeout, username=username, tls=tls) as s:
                addr = s.sentinel_get_master_addr_by_name(master_set)
                if addr:
                    return addr[0], int(addr[1])
        except (OSError, redis.RedisError) as exc:
            last = exc
    raise redis.ConnectionError(f"no sentinel knows master {master_set!r}: {last}")


def tls_conf(port: int, tls: TlsFiles) -> dict[str, str]:
    """TLS-only on `port` with client certificates required, replication over TLS: what the
    chart's start scripts pass with tls.enabled and tls.authClients."""
    return {"port": "0", "tls-port": str(port), "tls-cert-file": tls.cert, "tls-key-file": tls.key,
            "tls-ca-cert-file": tls.ca, "tls-auth-clients": "yes", "tls-replication": "yes"}


class Redis:
    """A redis-server; restartable on the same dir/port. With `tls`, the port is TLS-only
    and `client()` presents the server's own certificate (as the chart's scripts do)."""

    def __init__(self, procs: Processes, name: str, password: str, conf: dict[str, str],
                 tls: TlsFiles | None = None):
        self.procs, self.name, self.password, self.tls = procs, name, password, tls
        self.port = free_port()
        self.dir = procs.workdir / name
        self.dir.mkdir()
        self.conf = {"bind": HOST, "port": str(self.port), "dir": str(self.dir), "requirepass": password,
                     "masterauth": password, "save": '""', "appendonly": "no", **conf,
                     **(tls_conf(self.port, tls) if tls else {})}
        self.proc: Proc | None = None

    @property
    def addr(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self) -> Redis:
        conf_file = self.dir / "redis.conf"
        conf_file.write_text("".join(f"{k} {v}\n" for k, v in self.conf.items()))
        self.proc = self.procs.start(self.name, ["redis-server", str(conf_file)])
        wait_until(self.ping, 10, what=f"{self.name} to answer PING", procs=(self.proc,))
        return self

    def client(self, db: int = 0, username: str | None = None, password: str | None = None,
               tls: TlsFiles | None = None) -> redis.Redis:
        """A connection as `username` (default: the default user with the server's password)."""
        return connect(HOST, self.port, password or self.password, db, username=username, tls=tls or self.tls)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the running server (SIGKILL: a crash)."""
        assert self.proc is not None, f"{self.name} was never started"
        self.proc.kill(sig)

    def restart(self, conf: dict[str, str], drop: tuple[str, ...] = ()) -> None:
        """A pod restart with new arguments on the same volume: graceful stop (the AOF is complete),
        `drop` left out of the config and `conf` applied, then start (`tls` as set before)."""
        self.kill(signal.SIGTERM)
        wait_until(lambda: not self.proc.alive(), 10, what=f"{self.name} stopped")  # type: ignore[union-attr]
        for key in drop:
            self.conf.pop(key, None)
        self.conf.update(conf)
        self.start()

    def ping(self) -> bool:
        with self.client() as c:
            return c.ping()

    def role(self) -> str:
        with self.client() as c:
            return c.role()[0]


class Sentinel:
    """A redis-sentinel monitoring `master_set` on `master`; `extra` lines end its config."""

    def __init__(self, procs: Processes, name: str, password: str, master: Redis, master_set: str,
                 quorum: int, down_after_ms: int, failover_timeout_ms: int, extra: str = "",
                 tls: TlsFiles | None = None, master_port: int | None = None, master_host: str = HOST):
        self.procs, self.name, self.password, self.tls = procs, name, password, tls
        self.port = free_port()
        self.dir = procs.workdir / name
        self.dir.mkdir()
        port_lines = "".join(f"{k} {v}\n" for k, v in tls_conf(self.port, tls).items()) if tls else f"port {self.port}\n"
        self.conf = (f"bind {HOST}\n{port_lines}dir {self.dir}\nrequirepass {password}\n"
                     f"sentinel monitor {master_set} {master_host} {master_port or master.port} {quorum}\n"
                     f"sentinel auth-pass {master_set} {password}\n"
                     f"sentinel down-after-milliseconds {master_set} {down_after_ms}\n"
                     f"sentinel failover-timeout {master_set} {failover_timeout_ms}\n"
                     f"sentinel parallel-syncs {master_set} 1\n{extra}")
        self.proc: Proc | None = None

    @property
    def addr(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self) -> Sentinel:
        conf_file = self.dir / "sentinel.conf"
        conf_file.write_text(self.conf)
        self.proc = self.procs.start(self.name, ["redis-sentinel", str(conf_file)])
        wait_until(lambda: self.client().ping(), 10, what=self.name, procs=(self.proc,))
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.proc is not None, f"{self.name} was never started"
        self.proc.kill(sig)

    def client(self, username: str | None = None, password: str | None = None) -> redis.Redis:
        return connect(HOST, self.port, password or self.password, username=username, tls=self.tls)


class Link:
    """A TCP relay 127.0.0.1:port -> 127.0.0.1:target. `cut()` turns it into a black hole, as a
    network partition does: connections stay open, nothing passes either way (bytes are read
    and dropped), new connections are accepted and go nowhere. `close()` ends everything."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.server = socket.socket()
        self.server.bind((HOST, 0))
        self.server.listen(64)
        self.port = self.server.getsockname()[1]
        self.is_cut = threading.Event()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _keep(self, *socks: socket.socket) -> None:
        with self.lock:
            self.sockets += socks

    def _accept(self) -> None:
        while True:
            try:
                down, _ = self.server.accept()
            except OSError:
                return  # closed
            self._keep(down)
            if self.is_cut.is_set():
                threading.Thread(target=self._pump, args=(down, None), daemon=True).start()
                continue
            try:
                up = socket.create_connection((HOST, self.target_port), timeout=5)
            except OSError:
                down.close()
                continue
            up.settimeout(None)
            self._keep(up)
            threading.Thread(target=self._pump, args=(down, up), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, down), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket | None) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if dst is not None and not self.is_cut.is_set():
                    dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            if sock is not None and not self.is_cut.is_set():
                try:
                    sock.close()
                except OSError:
                    pass

    def cut(self) -> None:
        self.is_cut.set()

    def close(self) -> None:
        self.server.close()
        with self.lock:
            for sock in self.sockets:
                try:
                    sock.close()
                except OSError:
                    pass


# --------------------------------------------------------------------- monitoring
def start_exporter(procs: Processes, args: list[str], name: str = "exporter",
                   env: dict | None = None) -> tuple[Proc, int]:
    """The real exporter with a container's args and env; the listen port is rebound to a free one."""
    port = free_port()
    args = [a for a in args if not a.startswith("--web.listen-address")] + [f"--web.listen-address={HOST}:{port}"]
    proc = procs.start(name, ["prometheus-redis-exporter", *args], env=env)
    wait_until(lambda: urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=2).status == 200, 10,
               what=f"{name} /health", procs=(proc,))
    return proc, port


def scrape(port: int, target: str, **params: str) -> dict[str, list[tuple[str, float]]]:
    """One redis_exporter /scrape of `target` (extra query `params`, e.g. count-keys):
    metric name -> [(labels text, value)]."""
    url = f"http://{HOST}:{port}/scrape?" + urllib.parse.urlencode({"target": target, **params})
    with urllib.request.urlopen(url, timeout=10) as r:
        text = r.read().decode()
    out: dict[str, list[tuple[str, float]]] = {}
    for m in re.finditer(r"^([a-z_:]+)(\{[^}]*\})? (\S+)$", text, re.M):
        out.setdefault(m.group(1), []).append((m.group(2) or "", float(m.group(3))))
    return out


def prometheus_config(targets: list[tuple[str, str, int]], labels: dict[str, str],
                      alertmanager_port: int | None, interval: str = "1s",
                      extra_static: list[dict] | None = None, job: str = "redis-exporter") -> dict:
    """Scrape config equivalent to the ServiceMonitor: one job per (instance, target URL,
    exporter port) with the /scrape param and `instance` relabelled to the target, plus
    the labels kube-prometheus adds."""
    jobs = []
    for i, (instance, url, exporter_port) in enumerate(targets):
        jobs.append({
            "job_name": f"redis-exporter-{i}",
            "metrics_path": "/scrape",
            "params": {"target": [url]},
            "scrape_interval": interval,
            "scrape_timeout": interval,
            "static_configs": [{"targets": [f"{HOST}:{exporter_port}"], "labels": labels}],
            "relabel_configs": [
                {"target_label": "instance", "replacement": instance},
                {"target_label": "job", "replacement": job},  # kube-prometheus: the Service name
            ],
        })
    config = {"global": {"scrape_interval": interval, "evaluation_interval": interval},
              "rule_files": ["rules.yml"], "scrape_configs": jobs + (extra_static or [])}
    if alertmanager_port:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [f"{HOST}:{alertmanager_port}"]}]}]}
    return config


def _relabel(rule: dict) -> dict:
    """A ServiceMonitor RelabelConfig (camelCase) as Prometheus config (snake_case)."""
    keys = {"sourceLabels": "source_labels", "targetLabel": "target_label"}
    return {keys.get(k, k): v for k, v in rule.items()}


def _tls_config(tls_config: dict, secret_files: dict[tuple[str, str], str]) -> dict:
    """A ServiceMonitor SafeTLSConfig as Prometheus's tls_config: each Secret key reference
    (`ca`/`cert` as {secret: {name, key}}, `keySecret` as {name, key}) as the file holding it."""
    def file_of(ref: dict) -> str:
        return secret_files[(ref["name"], ref["key"])]
    out = {"ca_file": file_of(tls_config["ca"]["secret"]), "cert_file": file_of(tls_config["cert"]["secret"]),
           "key_file": file_of(tls_config["keySecret"])}
    if "serverName" in tls_config:
        out["server_name"] = tls_config["serverName"]
    return out


def service_monitor_jobs(endpoints: list[dict], port_of: dict[str, int], url_of: dict[str, str],
                         labels: dict[str, str], job: str, interval: str | None = None,
                         name: str = "servicemonitor",
                         secret_files: dict[tuple[str, str], str] | None = None) -> list[dict]:
    """The scrape configs the Prometheus operator makes of ServiceMonitor endpoints, on
    loopback: the exporter port by name (`port_of`), cluster target URLs mapped to local ones
    (`url_of`), `job` = the Service name and `endpoint` = the port name (as kube-prometheus
    sets them) before the endpoint's own relabelings, its metricRelabelings. `interval`
    replaces every interval and timeout (tests run faster than production). With
    `secret_files` ((Secret name, key) -> file) the endpoint's `scheme` and `tlsConfig` are
    kept, the Secrets read from those files; without, the exporters run plain HTTP here."""
    jobs = []
    for i, ep in enumerate(endpoints):
        params = {k: [url_of.get(v, v) for v in vs] for k, vs in ep.get("params", {}).items()}
        jobs.append({
            "job_name": f"{name}-{i}",
            "metrics_path": ep.get("path", "/metrics"),
            "params": params,
            "scrape_interval": interval or ep.get("interval", "30s"),
            "scrape_timeout": interval or ep.get("scrapeTimeout", ep.get("interval", "10s")),
            "static_configs": [{"targets": [f"{HOST}:{port_of[ep['port']]}"], "labels": labels}],
            "relabel_configs": [{"target_label": "job", "replacement": job},
                                {"target_label": "endpoint", "replacement": ep["port"]}]
                               + [_relabel(r) for r in ep.get("relabelings", [])],
            "metric_relabel_configs": [_relabel(r) for r in ep.get("metricRelabelings", [])],
        })
        if secret_files is not None:
            jobs[-1]["scheme"] = ep.get("scheme", "http")
            if "tlsConfig" in ep:
                jobs[-1]["tls_config"] = _tls_config(ep["tlsConfig"], secret_files)
    return jobs


class Prometheus:
    """A real Prometheus on a free port, with the given config and rule groups."""

    def __init__(self, procs: Processes, config: dict, rule_groups: list[dict], name: str = "prometheus"):
        self.port = free_port()
        self.dir = procs.workdir / name
        self.dir.mkdir()
        (self.dir / "prometheus.yml").write_text(yaml.safe_dump(config))
        (self.dir / "rules.yml").write_text(yaml.safe_dump({"groups": rule_groups}))
        self.proc = procs.start(name, [
            "prometheus", f"--config.file={self.dir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.dir / 'data'}", f"--web.listen-address={HOST}:{self.port}",
            "--web.enable-lifecycle", "--rules.alert.resend-delay=1s", "--log.level=warn"])
        self.url = f"http://{HOST}:{self.port}"
        wait_until(lambda: urllib.request.urlopen(f"{self.url}/-/ready", timeout=2).status == 200, 30,
                   what="prometheus ready", procs=(self.proc,))

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        return self.api("query", query=expr)["result"]

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def rule_health(self) -> dict[str, str]:
        """Rule name -> health ("ok", "err: <error>", "unknown") of every loaded rule."""
        return {r["name"]: r["health"] + (f": {r['lastError']}" if r.get("lastError") else "")
                for g in self.api("rules")["groups"] for r in g["rules"]}

    def firing(self) -> set[str]:
        return {a["labels"]["alertname"] for a in self.api("alerts")["alerts"] if a["state"] == "firing"}


def plain_config(webhook_url: str, group_wait: str = GROUP_WAIT, group_interval: str = GROUP_INTERVAL) -> dict:
    """The routing of components/monitoring/routing.py (what the AlertmanagerConfig holds) as
    plain Alertmanager config, notifying a webhook."""
    def matcher(label: str, op: str, value: str) -> str:
        return f'{label}{op}"{value}"'
    return {
        "route": {
            "receiver": NULL_RECEIVER,
            "group_by": GROUP_BY,
            "group_wait": group_wait,
            "group_interval": group_interval,
            "routes": [{"receiver": NOTIFY_RECEIVER, "matchers": [f'severity="{severity}"'],
                        "repeat_interval": repeat} for severity, repeat in SEVERITY_REPEAT.items()],
        },
        "inhibit_rules": [{
            "source_matchers": [matcher(*m) for m in rule.source],
            "target_matchers": [matcher(*m) for m in rule.target],
            "equal": list(rule.equal),
        } for rule in INHIBIT_RULES],
        "receivers": [
            {"name": NULL_RECEIVER},
            {"name": NOTIFY_RECEIVER, "webhook_configs": [{"url": webhook_url, "send_resolved": True}]},
        ],
    }


class Alertmanager:
    """A real Alertmanager (no clustering) with the project's routing."""

    def __init__(self, procs: Processes, config: dict, name: str = "alertmanager"):
        self.port = free_port()
        self.dir = procs.workdir / name
        self.dir.mkdir()
        (self.dir / "alertmanager.yml").write_text(yaml.safe_dump(config))
        procs.start(name, [
            "prometheus-alertmanager", f"--config.file={self.dir / 'alertmanager.yml'}",
            f"--storage.path={self.dir / 'data'}", f"--web.listen-address={HOST}:{self.port}",
            "--cluster.listen-address=", "--log.level=warn"])
        wait_until(lambda: urllib.request.urlopen(f"http://{HOST}:{self.port}/-/ready", timeout=2).status == 200, 30,
                   what="alertmanager ready")


class HttpServer:
    """A tiny HTTP server on 127.0.0.1 in a thread, answering GET requests with
    `respond(path) -> (content_type, body)` or `(status, content_type, body)`; stands in for
    an endpoint we cannot run here."""

    def __init__(self, respond: Callable[[str], tuple]):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                answer = respond(self.path)
                status, content_type, body = answer if len(answer) == 3 else (200, *answer)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.address = f"{HOST}:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


class Webhook:
    """Records Alertmanager webhook posts: one event per alert (arrival time, status,
    alertname, labels), and per post (a Slack message) its arrival time and alerts."""

    def __init__(self):
        self.events: list[tuple[float, str, str, dict]] = []
        self.posts: list[tuple[float, list[dict]]] = []
        lock = self.lock = threading.Lock()
        events, posts = self.events, self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    posts.append((time.monotonic(), body["alerts"]))
                    for alert in body["alerts"]:
                        events.append((time.monotonic(), alert["status"], alert["labels"]["alertname"], alert["labels"]))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def first(self, alertname: str, status: str = "firing", after: float = 0.0) -> tuple | None:
        with self.lock:
            return next((e for e in self.events if e[2] == alertname and e[1] == status and e[0] >= after), None)

    def close(self) -> None:
        self.server.shutdown()
