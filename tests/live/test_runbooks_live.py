"""Every redis-cli command of docs/runbooks.md, run as the runbook writes it against real
redis-server and redis-sentinel processes loaded with the program's ACL files (components/config/acl.py,
simulators/secure.py), once in plaintext and once with mutual TLS on every port (TLS-only,
client certificates required, like prod's `redisTls`). A command fails the test if Redis
refuses anything it sends (NOPERM on its output, or a denial in the target's ACL LOG: redis-cli
7.0's `--memkeys` prints 0 bytes where MEMORY USAGE was refused), the connection fails (a
plaintext client on a TLS port), or it gets any other error reply; then every right of the
operator is withdrawn in turn to show a runbook line needs it ("exactly the rights the
runbooks need"). The ACL LOG is read by the test-only admin user simulators/secure.py appends to
the ACL files (never in the program's).

What is substituted, and nothing else (the redis-cli invocation itself is what is tested):
- `kubectl ... exec ... -- CMD...` (the preamble's `inpod` calls it) runs CMD on this machine
  with only the pod's environment: the chart's REDIS_TLS_* variables of the redis container
  (REDIS_TLS_ENABLED yes|no, and the CA, certificate and key files: the test certificates of
  the Redis processes, as the chart mounts the server certificate into that container);
- the operator's mounted password file (names.OPERATOR_DIR) -> a local file with its password;
  with an old runbook's inline template, the chart's `default` one likewise;
- ports: a loopback stack listens on free ports, so `redis-cli` gets `-p <master's port>`
  (REPLICAOF: a replica's, since it runs on a node that is not the master) and `-p 26379`
  becomes a Sentinel's port; `REPLICAOF <master-host> 6379` names the master's address;
- placeholders: `<db>` and `<namespace>` are each app's session database and namespace (a
  line with them runs once per app), `<stack namespace>` a name, `mymaster` the master set;
- a pipeline after the redis-cli call (`| head`, `| cut ...`) is not run: it is local text work;
  a line that is not a redis-cli call (`inpod cat /data/dump.rdb`) is not run.

Redis 7.0 here (Debian); the Bitnami image runs 8.2: the commands granted exist in both
(redis/redis src/commands/*.json), and redis-cli sends the same commands for these options
(src/redis-cli.c cliSelect, getScanReply, findBigKeys). RUNBOOKS=<file> runs another version
of the runbooks (docs/decisions.md says how the old ones fail)."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from components.config import acl, names
from components.config.sessions import SessionStore
from components.redis import PASSWORD_FILE
from simulators import secure
from simulators.loopback import HOST, Processes, connect, wait_until
from tests.runbook_commands import Command, commands, runbooks_path, template, wrapper
from tests.tools import require_binaries
from tools.stackfile import load_settings

APPS = [
    {"name": "petclinic", "image": "docker.io/springcommunity/spring-petclinic:3.4.0", "minReplicas": 3,
     "sessionDatabase": 1},
    {"name": "shop", "image": "registry.example.com/shop:2.1.0", "repositoryType": "indexed", "minReplicas": 2,
     "sessionDatabase": 2},
]
TIMEOUT = 30  # seconds per command: a TLS client on a plaintext port would wait forever
# Not a refusal: Debian's redis-server is built without the jemalloc defrag hint, so it refuses
# to enable active defragmentation after the ACL check passed (the Bitnami image has it).
BUILD_LIMITS = ("Active defragmentation cannot be enabled",)
# redis-cli without a terminal prints an error reply as is (`NOPERM ...`, `ERR ...`, `INPROG ...`),
# and its own failures as `Error: ...`, `I/O error`, `Could not connect ...`, `SELECT 1 failed: ...`,
# `Couldn't determine DBSIZE: ...`, `SCAN error: ...` (src/redis-cli.c); it may still exit 0.
# Error codes: redis/redis src/server.c createSharedObjects and sentinel.c's replies.
CODES = ("ERR", "NOPERM", "WRONGPASS", "NOAUTH", "WRONGTYPE", "BUSY", "LOADING", "READONLY", "MASTERDOWN",
         "MISCONF", "OOM", "NOREPLICAS", "EXECABORT", "NOSCRIPT", "INPROG", "NOQUORUM", "NOGOODSLAVE", "IDONTKNOW")
FAILED = re.compile(r"NOPERM|^(?:(?:" + "|".join(CODES) + r") |Error|I/O error|Could not connect|Couldn't|SCAN error"
                    r"|\S+ \S+ failed: )", re.M)
# `kubectl [-n NS] exec [-i] POD [-c C] -- CMD...`: CMD here, with only the pod's environment.
FAKE_KUBECTL = """kubectl() {
  while [ "$#" -gt 0 ] && [ "$1" != -- ]; do shift; done; shift
  env -i PATH="$PATH" %s "$@"
}
"""


def settings_for(tls: bool):
    return load_settings("prod", {"wasApps": APPS, "redisTls": tls})


@pytest.fixture(scope="module", params=[False, True], ids=["plaintext", "tls"])
def stack(request, tmp_path_factory):
    require_binaries()
    procs = Processes(tmp_path_factory.mktemp("runbooks-tls" if request.param else "runbooks-plain"))
    try:
        stack = secure.start(procs, settings_for(request.param), tls=request.param, admin=True)
        # as deployed: the Sentinels know each other (hello messages every 2 s), so CKQUORUM answers OK
        def quorum(sentinel) -> bool:
            with stack.admin_client(sentinel) as c:
                return str(c.execute_command("SENTINEL", "ckquorum", stack.master_set)).startswith("OK")
        wait_until(lambda: all(quorum(s) for s in stack.sentinels), 60, what="Sentinel quorum reachable")
        seed(stack)
        yield stack
    finally:
        procs.close()


def seed(stack: secure.SecureStack) -> None:
    """Sessions as the apps write them (their own users), so SCAN, TYPE and --memkeys see keys."""
    for a in stack.apps:
        with stack.connect(a.app) as c:
            for i in range(3):
                c.execute_command("HMSET", f"{a.namespace}:sessions:id-{i}", "creationTime", "1", "maxInactiveInterval", "1800")
            if a.repository_type == "indexed":
                c.execute_command("ZADD", f"{a.namespace}:sessions:expirations", "1", "id-0")


def pod_env(stack: secure.SecureStack) -> str:
    """The redis container's TLS variables (the chart's templates/*/application.yaml)."""
    if stack.tls is None:
        return "REDIS_TLS_ENABLED=no"
    return (f"REDIS_TLS_ENABLED=yes REDIS_TLS_CA_FILE={stack.tls.ca} REDIS_TLS_CERT_FILE={stack.tls.cert} "
            f"REDIS_TLS_KEY_FILE={stack.tls.key}")


def load_acl(stack: secure.SecureStack) -> None:
    """The program's ACL files (and the admin), loaded by every process as the sidecar does."""
    stack.write_acl({**{a.app: [1] for a in stack.apps}, "exporter": [1]})
    for target in [*stack.nodes, *stack.sentinels]:
        with stack.admin_client(target) as c:
            assert c.execute_command("ACL", "LOAD") == "OK"


def local_words(cmd: Command, stack: secure.SecureStack, app: SessionStore) -> tuple[list[str], int]:
    """The invocation with ports and placeholders of this loopback stack, and the port it targets."""
    master, replica = stack.nodes[0], stack.nodes[1]
    fill = {"<db>": str(app.database), "<sessionDatabase>": str(app.database), "<namespace>": app.namespace,
            "<app>": app.app, "<master-host>": HOST, "mymaster": stack.master_set}
    words = [re.sub("|".join(map(re.escape, fill)), lambda m: fill[m.group(0)], w) for w in cmd.invocation()]
    at = words.index("redis-cli") + 1
    if cmd.targets_sentinel():
        port = stack.sentinels[0].port
        words[words.index("26379")] = str(port)
    else:
        upper = [w.upper() for w in words]
        if "REPLICAOF" in upper:  # <master-host> 6379, or <release>-master 6379: this stack's master
            at_host = upper.index("REPLICAOF") + 1
            words[at_host:at_host + 2] = [HOST, str(master.port)]
        port = (replica if "REPLICAOF" in upper else master).port
        words[at:at] = ["-p", str(port)]
    return words, port


def script(text: str, cmd: Command, stack: secure.SecureStack, app: SessionStore, files: dict[str, Path]) -> str:
    """The bash script that runs one command the way the runbook says: its wrapper, then the line."""
    words, _ = local_words(cmd, stack, app)
    block = wrapper(text)
    if block is not None:
        preamble = re.sub(r"<[^>]+>", "stack-namespace", block)
        body = f"{preamble}\n{shlex.join(words)}{' > /dev/null' if cmd.redirected() else ''}\n"
    else:  # an inline template: its `…` stands for the arguments after `redis-cli $TLS`
        inline = template(text)
        assert inline, "the runbooks define no way to run redis-cli in a pod"
        args = shlex.join(words[words.index("redis-cli") + 1:]).replace("'", "'\\''")
        body = inline.replace("…", args) + "\n"
    for pod_path, local in files.items():
        body = body.replace(pod_path, str(local))
    return FAKE_KUBECTL % pod_env(stack) + body


def run(text: str, cmd: Command, stack: secure.SecureStack, app: SessionStore, files: dict[str, Path]) -> str:
    """'' if the command ran; else what went wrong."""
    _, port = local_words(cmd, stack, app)
    with connect(HOST, port, secure.ADMIN_PASSWORD, username=secure.ADMIN_USER, tls=stack.tls) as watch:
        watch.execute_command("ACL", "LOG", "RESET")
        try:
            out = subprocess.run(["bash", "-c", script(text, cmd, stack, app, files)], capture_output=True,
                                 text=True, errors="replace", timeout=TIMEOUT,
                                 env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")})
        except subprocess.TimeoutExpired:
            return f"no answer in {TIMEOUT} s"
        denied = watch.execute_command("ACL", "LOG")  # RESP3: one map per entry
    if denied:
        return "NOPERM in ACL LOG: " + ", ".join(f"{d['username']} {d['reason']} {d['object']}" for d in denied)
    output = out.stdout + out.stderr
    if any(limit in output for limit in BUILD_LIMITS) and "NOPERM" not in output:
        return ""
    if out.returncode != 0 or FAILED.search(output):
        return f"exit {out.returncode}: {output.strip()[:300]}"
    return ""


def local_files(stack: secure.SecureStack) -> dict[str, Path]:
    default = stack.acl_dir.parent / "default-password"
    default.write_text(secure.DEFAULT_PASSWORD)
    return {f"{names.OPERATOR_DIR}/{names.CLIENT_PASSWORD_KEY}": stack.operator_password_file(),
            PASSWORD_FILE: default}


def runs(text: str, stack: secure.SecureStack) -> list[tuple[Command, SessionStore]]:
    """(command, app) in the order to run them: once per app where the command names an app's
    database or namespace; the failover last (it moves the master)."""
    found = commands(text)
    assert found, "no redis-cli command in the runbooks"
    pairs = [(c, a) for c in found for a in (stack.apps if re.search(r"<(db|sessionDatabase|namespace|app)>", c.text)
                                              else stack.apps[:1])]
    return sorted(pairs, key=lambda p: "failover" in p[0].text)


def test_every_runbook_command_runs_as_the_user_it_names(stack, record_property):
    text = runbooks_path().read_text()
    files = local_files(stack)
    counted: Counter[tuple[str, str]] = Counter()
    failures = []
    for cmd, app in runs(text, stack):
        problem = run(text, cmd, stack, app, files)
        if problem:
            failures.append(f"{cmd.section}: {cmd.text}\n    -> {problem}")
        counted[(cmd.user() or "default (no --user)", "sentinel" if cmd.targets_sentinel() else "redis")] += 1
    record_property("summary", f"runbook commands run live ({'tls' if stack.tls else 'plaintext'}): "
                    + ", ".join(f"{user} on {target}: {n}" for (user, target), n in sorted(counted.items()))
                    + f"; failed: {len(failures)}")  # printed after the run (tests/conftest.py)
    assert failures == [], "\n".join(failures)


def test_every_right_of_the_operator_is_needed_by_a_runbook_line(stack, monkeypatch):
    """Withdraw one right at a time (the ACL files rewritten and loaded as the acl-reload sidecar
    does): some runbook line must then get NOPERM. The failover runs only while its own right is
    withdrawn (refused, so the master stays)."""
    if stack.tls is not None:
        pytest.skip("the rights do not depend on the transport: judged once, in plaintext")
    text = runbooks_path().read_text()
    files = local_files(stack)
    pairs = runs(text, stack)
    rights = [("OPERATOR_COMMANDS", c) for c in acl.OPERATOR_COMMANDS] + \
        [("OPERATOR_DELETE", c) for c in acl.OPERATOR_DELETE] + \
        [("SENTINEL_OPERATOR_COMMANDS", c) for c in acl.SENTINEL_OPERATOR_COMMANDS]
    # Only lines that run with every right count: a right is needed if one of them then fails.
    # The failover is not run with every right (it would move the master): it counts if the
    # runbook has it, and runs only while its own right is withdrawn (refused, nothing moves).
    working = [(c, a) for c, a in pairs if "failover" in c.text or run(text, c, stack, a, files) == ""]
    unneeded = []
    try:
        for table, right in rights:
            with monkeypatch.context() as m:
                m.setattr(acl, table, tuple(c for c in getattr(acl, table) if c != right))
                load_acl(stack)
                sentinel_side = table.startswith("SENTINEL")
                candidates = [(c, a) for c, a in working if c.targets_sentinel() == sentinel_side
                              and c.user() == names.OPERATOR_USER
                              and ("failover" not in c.text or right == "sentinel|failover")]
                if not any("NOPERM" in run(text, c, stack, a, files) for c, a in candidates):
                    unneeded.append(right)
    finally:
        load_acl(stack)
    assert unneeded == [], f"granted to the operator, used by no runbook line: {unneeded}"
    with connect(HOST, stack.nodes[0].port, secure.client_password(names.OPERATOR_USER),
                username=names.OPERATOR_USER) as c:
        assert c.execute_command("INFO", "server")  # the full rights are back
