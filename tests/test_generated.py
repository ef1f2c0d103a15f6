"""Files generated from the config models are current, and README's commands are real."""
import re
import subprocess
import sys

from scripts.generate import generated
from tests.harness import ROOT


def test_generated_files_are_current():
    stale = [p.name for p, text in generated().items() if p.read_text() != text]
    assert not stale, f"stale: {stale}: run .venv/bin/python -m scripts.generate"


def test_check_mode_names_a_stale_file(tmp_path, monkeypatch):
    import scripts.generate as gen

    for name in ("README.md", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    (tmp_path / "Pulumi.yaml").write_text("name: stale\n")
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    monkeypatch.setattr(gen, "generated", lambda root=tmp_path: {tmp_path / "Pulumi.yaml": gen.pulumi_yaml()})
    assert gen.main(["--check"]) == 1


def test_check_mode_passes_on_the_repository():
    proc = subprocess.run([sys.executable, "-m", "scripts.generate", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_two_contributor_commands_are_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    contributing = readme.split("## Contributing", 1)[1]
    commands = re.findall(r"^(bash \S+)", contributing, re.M)
    assert commands == ["bash scripts/install.sh", "bash scripts/test.sh"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/install.sh" in ci and "bash scripts/test.sh" in ci
