"""README stays true: its config table is the generated one, its two commands exist."""
import re

from scripts.config_table import BEGIN, END, ROOT, table


def test_config_table_is_current():
    readme = (ROOT / "README.md").read_text()
    match = re.search(re.escape(BEGIN) + "(.*?)" + re.escape(END), readme, re.S)
    assert match, "README lost its config-table markers"
    assert match.group(1) == table(), "README config table is stale: run scripts/config_table.py --write"


def test_two_contributor_commands_are_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    contributing = readme.split("## Contributing", 1)[1]
    commands = re.findall(r"^(bash \S+)", contributing, re.M)
    assert commands == ["bash scripts/install.sh", "bash scripts/test.sh"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/install.sh" in ci and "bash scripts/test.sh" in ci
