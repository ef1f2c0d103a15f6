"""The installed package (marker `install`; fixture `installed` in conftest.py): the wheel built
from this tree, installed with the dependencies it declares, and nothing else, into a fresh venv
(`python -m venv`; PyPI through pip's cache: about 25 s here, once per session)."""
from __future__ import annotations

import email
import json
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tests.harness import ROOT

PACKAGE = "redis_session_platform"


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    python: Path
    """The fresh venv's interpreter."""
    requires: dict[str, str]
    """Requires-Dist of the wheel (extras left out): distribution name -> requirement."""

    def run(self, script: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
        """`script` in the venv, isolated (-I: neither the cwd nor PYTHONPATH on sys.path)."""
        path = cwd / "_run.py"
        path.write_text(script)
        return subprocess.run([str(self.python), "-I", str(path)], cwd=cwd, capture_output=True, text=True,
                              timeout=timeout)


def requires_dist(wheel: Path) -> dict[str, str]:
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        message = email.message_from_bytes(z.read(meta))
    out = {}
    for req in message.get_all("Requires-Dist") or []:
        if ";" in req:
            continue  # extras
        name = req.split("<")[0].split(">")[0].split("=")[0].split("!")[0].split("~")[0].strip().lower()
        out[name] = req.replace(" ", "")
    return out


def build_and_install(tmp: Path) -> Installed:
    """Wheel from this tree (pyproject.toml + components/), fresh venv, `pip install <wheel>`."""
    src = tmp / "src"
    src.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", src / "pyproject.toml")
    shutil.copytree(ROOT / "components", src / "components", ignore=shutil.ignore_patterns("__pycache__"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp / "wheel"), str(src)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    [wheel] = list((tmp / "wheel").glob(f"{PACKAGE}-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-compile", str(wheel)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr
    return Installed(wheel, venv, python, requires_dist(wheel))


# A program whose own modules have the generic names the wheel once installed as packages
# (`from settings import acl` then failed: ImportError, the program's settings.py came first).
USER_MODULES = {
    "settings.py": '"""The program\'s own settings."""\nCONFIG = {"namespace": "shop",\n'
                   '          "wasApps": [{"name": "cart", "image": "registry.example.com/cart:1.4.2"}],\n'
                   '          "redisImageTag": "8.2.2-debian-12-r0"}\n',
    "components.py": '"""The program\'s own components."""\nSTORE = "cart-sessions"\n',
    "monitoring.py": '"""The program\'s own monitoring."""\nPROMETHEUS_RELEASE = "kube-prometheus"\n',
}


def run_under_mocks(installed, program_dir: Path, program: str) -> dict:
    """Run `program` as the Pulumi language host would (its folder first on sys.path) in the
    installed venv under pulumi mocks: where each top-level module came from, resource types."""
    (program_dir / "__main__.py").write_text(program)
    proc = installed.run(
        "import asyncio, json, runpy, sys\n"
        f"sys.path.insert(0, {str(program_dir)!r})\n"
        "import pulumi\n"
        "types = []\n"
        "class Mocks(pulumi.runtime.Mocks):\n"
        "    def new_resource(self, args):\n"
        "        types.append(args.typ)\n"
        "        return args.name + '-id', {**args.inputs, 'result': 'pw'}\n"
        "    def call(self, args):\n"
        "        return {}\n"
        "asyncio.set_event_loop(asyncio.new_event_loop())\n"
        "pulumi.runtime.set_mocks(Mocks(), project='shop', stack='dev')\n"
        f"runpy.run_path({str(program_dir / '__main__.py')!r}, run_name='__main__')\n"
        "asyncio.get_event_loop().run_until_complete(pulumi.runtime.stack.wait_for_rpcs())\n"
        "where = {m: getattr(sys.modules.get(m), '__file__', None)\n"
        f"         for m in ('settings', 'components', 'monitoring', {PACKAGE!r})}}\n"
        "print(json.dumps({'where': where, 'types': sorted(types)}))\n", cwd=program_dir, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])
