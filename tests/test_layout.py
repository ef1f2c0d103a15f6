"""Product and tools, imports one way (issue 21 item 1; docs/decisions.md "Product and tooling").

The product is the package components/ (config/, monitoring/, one module per component): what a
Pulumi program imports, installed as `redis_session_platform`. It imports itself only by
relative imports (its installed name is not `components`), never a tool or a test; config/ is
the bottom layer (it imports neither monitoring/ nor a component module), monitoring/ may import
config/, component modules import both. The tools beside it (tools/, render/, simulators/,
bench/, scripts/, .github/scripts/, and provider/: the component provider's entry) import the product and never
the tests.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.harness import ROOT

PRODUCT = "components"
TOOLS = ("tools", "render", "simulators", "bench", "scripts", ".github/scripts", "provider")
NOT_PRODUCT = {"tools", "render", "simulators", "bench", "scripts", "provider", "tests", "settings", "monitoring"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str, module: str, is_package: bool = False) -> list[tuple[int, str, int]]:
    """(line, absolute module, relative level) of every import in `module`'s source, relative ones resolved."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                assert len(base) == len(package) - node.level + 1, f"{module}:{node.lineno} goes above the package"
                target = ".".join(base + ([node.module] if node.module else []))
                names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
                out += [(node.lineno, n, node.level) for n in names]
            else:
                out.append((node.lineno, node.module or "", 0))
    return out


def files(*folders: str) -> list[Path]:
    found = [p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))]
    assert found, folders
    return found


def layer(module: str) -> str:
    """config, monitoring or component (a module of components/ itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ("config", "monitoring") else "component"


ALLOWED = {"config": {"config"}, "monitoring": {"config", "monitoring"},
           "component": {"config", "monitoring", "component"}}


def product_violations(source: str, name: str, is_package: bool = False) -> list[str]:
    here = layer(name)
    bad = []
    for line, module, level in imports(source, name, is_package):
        top = module.split(".")[0]
        if top in NOT_PRODUCT:
            bad.append(f"line {line}: imports {module} (a tool, a test or an old top-level name)")
        elif top == PRODUCT and not level:
            bad.append(f"line {line}: absolute import of {module}: installed, the package is redis_session_platform")
        elif top == PRODUCT and layer(module) not in ALLOWED[here]:
            bad.append(f"line {line}: {here} imports {module} ({layer(module)} is above it)")
    return bad


@pytest.mark.parametrize("path", files(PRODUCT), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_product_imports_itself_relatively_and_only_downwards(path):
    assert product_violations(path.read_text(), module_name(path), path.name == "__init__.py") == []


@pytest.mark.parametrize("path", files(*TOOLS) + [ROOT / "__main__.py"], ids=lambda p: str(p.relative_to(ROOT)))
def test_tools_and_the_program_never_import_the_tests(path):
    found = imports(path.read_text(), module_name(path), path.name == "__init__.py")
    assert [f"line {line}: {m}" for line, m, _ in found if m.split(".")[0] == "tests"] == []


def test_the_checker_sees_each_kind_of_violation():
    # The rules above must be able to fail: what a config module must not import.
    probe = ("from ..monitoring import scope\nfrom .. import redis\nfrom components.config import names\n"
             "import tests.harness\nfrom tools.stackfile import load_settings\nfrom . import names\n")
    assert product_violations(probe, "components.config.probe") == [
        "line 1: config imports components.monitoring (monitoring is above it)",
        "line 2: config imports components.redis (component is above it)",
        "line 3: absolute import of components.config: installed, the package is redis_session_platform",
        "line 4: imports tests.harness (a tool, a test or an old top-level name)",
        "line 5: imports tools.stackfile (a tool, a test or an old top-level name)",
    ]
    assert product_violations("from ..config import names\nfrom ..exporter import x\n", "components.monitoring.probe") == [
        "line 2: monitoring imports components.exporter (component is above it)"]
    assert product_violations("from .monitoring.scope import Scope\nfrom .config import names\n", "components.probe") == []
