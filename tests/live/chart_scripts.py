"""The pinned chart's start scripts and probes, rendered for a stack and runnable on loopback.

Rendered by render/ (helm template of charts/redis-23.1.1.tgz); only the Bitnami shell
libraries they source (/opt/bitnami/scripts/lib*.sh) are stood in for by BITNAMI_LIBS, and the
rendered HEADLESS_SERVICE is replaced so that a node's "pod name" is its own loopback address
(secure.node_ip): `<HOSTNAME>.<HEADLESS_SERVICE>` is node_ip(node) with HOSTNAME=127.0.0.
`get_port` reads `<HOST>_SERVICE_PORT_<TYPE>` with printenv instead of `${!port_var}`, which
bash refuses for that numeric host name: the same lookup, and for a pod's own name it finds
nothing, as in a cluster (no Service is named after a pod), so the chart's 6379/26379 apply."""
from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from render import render_stack
from simulators import secure
from simulators.certs import TlsFiles
from tests.tools import require_helm

# bitnami/containers bitnami/redis(-sentinel) rootfs/opt/bitnami/scripts/libvalidations.sh
# is_boolean_yes, libos.sh retry_while (verbatim but for BITNAMI_RETRY_SLEEP, which a test may
# set to shorten the wait between tries), and liblog.sh's info, error and debug, which write
# to stderr (liblog.sh `log` prints to stderr), so a `$(...)` captures only the answer.
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
error() { echo "ERROR ==> $*" >&2; }
debug() { :; }
"""
NODE_HOSTNAME = "127.0.0"
"""HOSTNAME of every "pod": with HEADLESS_SERVICE the last octet, the full name is node_ip(node)."""
_LIB = re.compile(r"^\. /opt/bitnami/scripts/lib\w+\.sh$", re.M)


def rendered_scripts(tmp: Path, stack: str, overrides: dict) -> dict[str, str]:
    """The chart's scripts and health probes rendered for `stack` with `overrides` (once per
    process and stack config: a render takes seconds, the scripts are text)."""
    key = (stack, json.dumps(overrides, sort_keys=True))
    if key not in _RENDERED:
        require_helm()
        _, paths = render_stack(stack, tmp / "rendered", overrides)
        scripts: dict[str, str] = {}
        for name in ("configmap-redis-scripts.yaml", "configmap-redis-health.yaml"):
            [path] = [p for p in paths if p.name == name]
            scripts.update(yaml.safe_load(path.read_text())["data"])
        _RENDERED[key] = scripts
    return dict(_RENDERED[key])


_RENDERED: dict[tuple[str, str], dict[str, str]] = {}


def runnable(text: str, node: int, libs: Path) -> str:
    """A rendered script as node `node`'s pod runs it here (see the module docstring)."""
    if not libs.exists():  # written once: a script of another pod may be sourcing it right now
        tmp = libs.with_name(libs.name + f".{os.getpid()}.tmp")
        tmp.write_text(BITNAMI_LIBS)
        tmp.replace(libs)
    text = _LIB.sub(f". {libs}", text).replace("port=${!port_var}", 'port=$(printenv "$port_var")')
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


DECISION = 'if [[ -n "$REDIS_EXTERNAL_MASTER_HOST" ]]; then'
"""Both start scripts decide master/replica before this line (the external-master override)."""
_HOST_CHECK = re.compile(r'^if \[\[ -z "\$REDIS_MASTER_HOST" \]\].*?^fi$', re.M | re.S)
"""start-sentinel.sh's refusal of an empty master host, which comes after the decision."""
QUERY_TIMEOUT = 3
"""Seconds for each Sentinel query of the start scripts, instead of the chart's 90
(sentinel.getMasterTimeout): a TLS hello sent to a plaintext Sentinel waits for the timeout
(Redis reads it as an unfinished inline command) unless its random bytes hold a newline. The
5 s between the two tries (retry_while) is cut to RETRY_SLEEP. Only waits are shortened, never
an outcome: a loopback query that succeeds takes milliseconds."""
RETRY_SLEEP = "0.5"


@dataclass(frozen=True)
class Decision:
    """Where a start script sends its process."""

    rc: int
    """The script's exit status (non-zero: the container exits, the pod is not Ready)."""
    mode: str
    """`master` or `replica` (REDIS_REPLICATION_MODE)."""
    host: str
    """The master's host: the node's own name when master, empty when the script found none."""


class StartScripts:
    """A Redis pod's start-node.sh and start-sentinel.sh as rendered for a release, cut at their
    decision (start-sentinel.sh keeps its empty-host check); `log` keeps their stderr (their
    `info` and `error` lines) for failed assertions."""

    def __init__(self, scripts: dict[str, str], work: Path, tls: TlsFiles | None = None,
                 password: str = secure.DEFAULT_PASSWORD):
        """`password`: the chart password the pod's mounted Secret holds."""
        self.work, self.tls, self.log = work, tls, []
        work.mkdir(parents=True, exist_ok=True)
        self.password_file = work / "redis-password"
        self.password_file.write_text(password)
        self.texts = {name: self._decision(scripts[name]) for name in ("start-node.sh", "start-sentinel.sh")}

    @staticmethod
    def _decision(text: str) -> str:
        """The script up to its decision (and the empty-host check), then `<mode>|<master host>`."""
        head, tail = text[:text.index(DECISION)], text[text.index(DECISION):]
        check = _HOST_CHECK.search(tail)
        text = head + (check.group(0) + "\n" if check else "") + \
            'echo "$REDIS_REPLICATION_MODE|${REDIS_MASTER_HOST-$(get_full_hostname "$HOSTNAME")}"\n'
        # sentinel.getMasterTimeout (90 s) cut to QUERY_TIMEOUT: only the wait, not the outcome
        cut = text.replace("redis_cli_command 90)", f"redis_cli_command {QUERY_TIMEOUT})").replace(
            "timeout 90 redis-cli", f"timeout {QUERY_TIMEOUT} redis-cli")
        assert cut != text, "the rendered Sentinel query has no `timeout 90`"
        service = next(line for line in cut.splitlines()
                       if line.strip().startswith('REDIS_SERVICE="') and ".svc." in line)  # the Sentinel Service
        return cut.replace(service, 'REDIS_SERVICE="127.0.0.1"')

    def decide(self, script: str, node: int, sentinel_port: int) -> subprocess.Popen:
        """Run `script` as pod `node` up to its decision, with the Sentinel Service routed to
        `sentinel_port`."""
        path = self.work / f"{script}.{node}"
        path.write_text(runnable(self.texts[script], node, self.work / "bitnami-libs.sh"))
        env = pod_env(self.password_file, self.tls, BITNAMI_RETRY_SLEEP=RETRY_SLEEP,
                      REDIS_SERVICE_PORT_SENTINEL=str(sentinel_port))  # get_port "redis" "SENTINEL"
        return subprocess.Popen(["bash", str(path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    def answer(self, p: subprocess.Popen) -> Decision:
        out, err = p.communicate(timeout=60)
        self.log.append(err)
        mode, _, host = out.strip().rpartition("\n")[2].partition("|")
        return Decision(p.returncode, mode, host.strip())
