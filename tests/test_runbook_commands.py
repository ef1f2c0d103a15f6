"""The form of docs/runbooks.md's redis-cli commands (tests/runbook_commands.py extracts them;
tests/live/test_runbooks_live.py runs them): each one is in a fenced block an operator can
copy, goes through the preamble's `inpod` wrapper, names the ACL user it runs as, and has no
`$` of its own (the pod's variables are read inside the wrapper's quoted script, the
workstation's only by the wrapper). RUNBOOKS=<file> judges another version."""
import re

from components.config import names
from tests.runbook_commands import FUNCTION, commands, runbooks_path, wrapper

RUNBOOK_USERS = {names.OPERATOR_USER}


def test_every_redis_cli_command_is_fenced_wrapped_and_names_its_user():
    text = runbooks_path().read_text()
    found = commands(text)
    assert found, "no redis-cli command found"
    block = wrapper(text)
    assert block, "no fenced block defines the wrapper the commands go through"
    function = FUNCTION.search(block).group(1)  # type: ignore[union-attr]
    wrong = [f"{c.section}: {c.text}" for c in found
             if not c.fenced or c.invocation()[:3] != [function, "redis-cli", "--user"]
             or c.user() not in RUNBOOK_USERS or "$" in " ".join(c.invocation())]
    assert wrong == [], "\n".join(wrong)


def test_the_wrapper_reads_the_operators_mounted_password_and_the_pods_tls_files_inside_the_pod():
    block = wrapper(runbooks_path().read_text())
    assert block
    script = re.search(r"bash -c '(.*?)'", block, re.S)
    assert script, "the in-pod part is one single-quoted script"
    inside = script.group(1)
    assert f"$(cat {names.OPERATOR_DIR}/{names.CLIENT_PASSWORD_KEY})" in inside
    # the chart's own variables of the redis container (templates/*/application.yaml)
    for var in ("REDIS_TLS_ENABLED", "REDIS_TLS_CA_FILE", "REDIS_TLS_CERT_FILE", "REDIS_TLS_KEY_FILE"):
        assert f"${var}" in inside and f"${var}" not in block.replace(inside, "")
