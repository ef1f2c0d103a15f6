"""The pinned chart's start scripts and probes, rendered for a stack and runnable on loopback.

Rendered by render/ (helm template of charts/redis-23.1.1.tgz); only the Bitnami shell
libraries they source (/opt/bitnami/scripts/lib*.sh) are stood in for by BITNAMI_LIBS, and the
rendered HEADLESS_SERVICE is replaced so that a node's "pod name" is its own loopback address
(secure.node_ip): `<HOSTNAME>.<HEADLESS_SERVICE>` is node_ip(node) with HOSTNAME=127.0.0."""
from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from render import render_stack
from simulators import secure
from simulators.certs import TlsFiles
from tests.tools import require_helm

# bitnami/containers bitnami/redis(-sentinel) rootfs/opt/bitnami/scripts/libvalidations.sh
# is_boolean_yes, libos.sh retry_while (verbatim but for BITNAMI_RETRY_SLEEP, which a test may
# set to shorten the wait between tries), and liblog.sh's info/debug, which write to stderr
# (liblog.sh `log` prints to stderr), so a `$(...)` captures only the answer.
BITNAMI_LIBS = r"""
is_boolean_yes() {
    local -r bool="${1:-}"
    shopt -s nocasematch
    if [[ "$bool" = 1 || "$bool" =~ ^(yes|true)$ ]]; then true; else false; fi
}
retry_while() {
    local cmd="${1:?cmd is missing}"
    local -i retries="${2:-12}"
    local -i sleep_time="${3:-5}"
    local return_value=1
    read -r -a command <<<"$cmd"
    for ((i = 1; i <= retries; i += 1)); do
        "${command[@]}" && return_value=0 && break
        sleep "${BITNAMI_RETRY_SLEEP:-$sleep_time}"
    done
    return $return_value
}
info() { echo "INFO  ==> $*" >&2; }
debug() { :; }
"""
NODE_HOSTNAME = "127.0.0"
"""HOSTNAME of every "pod": with HEADLESS_SERVICE the last octet, the full name is node_ip(node)."""
_LIB = re.compile(r"^\. /opt/bitnami/scripts/lib\w+\.sh$", re.M)


def rendered_scripts(tmp: Path, stack: str, overrides: dict) -> dict[str, str]:
    """The chart's scripts and health probes rendered for `stack` with `overrides`."""
    require_helm()
    _, paths = render_stack(stack, tmp / "rendered", overrides)
    scripts: dict[str, str] = {}
    for name in ("configmap-redis-scripts.yaml", "configmap-redis-health.yaml"):
        [path] = [p for p in paths if p.name == name]
        scripts.update(yaml.safe_load(path.read_text())["data"])
    return scripts


def runnable(text: str, node: int, libs: Path) -> str:
    """A rendered script as node `node`'s pod runs it here (see the module docstring)."""
    if not libs.exists():  # written once: a script of another pod may be sourcing it right now
        tmp = libs.with_name(libs.name + f".{os.getpid()}.tmp")
        tmp.write_text(BITNAMI_LIBS)
        tmp.replace(libs)
    text = _LIB.sub(f". {libs}", text)
    headless = [line for line in text.splitlines() if line.startswith("HEADLESS_SERVICE=")]
    if headless:
        text = text.replace(headless[0], f'HEADLESS_SERVICE="{secure.node_ip(node).rsplit(".", 1)[1]}"')
    return text


def pod_env(password_file: Path, tls: TlsFiles | None = None, **extra: str) -> dict[str, str]:
    """The environment a Redis pod's containers give the scripts: the pod name (see the module
    docstring), the password file, and the chart's TLS variables (Redis and Sentinel alike);
    `extra` adds ports and the like. No REDISCLI_AUTH from this shell leaks in."""
    env = {k: v for k, v in os.environ.items() if k != "REDISCLI_AUTH"}
    env |= {"HOSTNAME": NODE_HOSTNAME, "REDIS_PASSWORD_FILE": str(password_file)}
    for prefix in ("REDIS_TLS", "REDIS_SENTINEL_TLS"):
        env[f"{prefix}_ENABLED"] = "yes" if tls else "no"
        if tls:
            env |= {f"{prefix}_CERT_FILE": tls.cert, f"{prefix}_KEY_FILE": tls.key, f"{prefix}_CA_FILE": tls.ca}
    return env | extra
