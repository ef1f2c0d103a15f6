"""Spring Boot lines are one table (components/config/boot.py): adding a row is all it takes.

Two checks: (1) a new row written into the table's source reaches the config's allowed values,
the generated description, the WAS env and configtree files, TLS, the ACL and the session count
store (run in a fresh interpreter, the product imported after the row was added); (2) no product
module outside the table compares a Boot version or names a line's property prefix.
"""
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from components.config import boot

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "components" / "config" / "boot.py"

NEW_ROW = """    BootLine(major=9, redis_properties="spring.x.redis", session_properties="spring.session.x.redis",
             store_type_property="spring.session.x-store", repositories=("indexed", "default"),
             sorted_set_since=None, ssl_bundle_since="9.2", health_group_validation_since="9.0"),
"""

PROBE = r'''
import json, sys, types
from pathlib import Path
import components.config

src = Path(sys.argv[1]).read_text()
anchor = ')\n"""Every supported Boot line'
assert src.count(anchor) == 1
src = src.replace(anchor, sys.argv[2] + anchor)
module = types.ModuleType("components.config.boot")
module.__file__ = sys.argv[1]
sys.modules[module.__name__] = module
exec(compile(src, sys.argv[1], "exec"), module.__dict__)
components.config.boot = module

from components.config.acl import app_permissions
from components.config.sessions import stores_in_order
from components.config.config import ConfigError
from components.config.app import WasAppSettings
from components.config.sessions import stores_for
from components.config.workload import program_env
from components.redis import connection_for
from simulators.stack import redis_conf
from components.was import password_files, spring_env
from tools.stackfile import load_settings

app = {"name": "shop", "image": "r/shop:1", "springBootMajor": 9}
out = {"description": WasAppSettings.__pydantic_fields__["spring_boot_major"].description}
for topology, tls in (("standalone", False), ("sentinel", True)):
    s = load_settings("dev", {"redisTopology": topology, "redisTls": tls, "wasApps": [app]})
    a = s.was_apps[0]
    conn = connection_for(s.redis.release_name, s.redis, "ns", stores_in_order(s.was_apps))
    env = [e["name"] for e in spring_env(a, conn)]
    out[topology] = {"env": env, "reserved": all(program_env(n) for n in env),
                     "files": [f["path"] for f in password_files(a, conn)],
                     "repository": a.repository, "keyspace_events": "notify-keyspace-events" in redis_conf(s),
                     "acl": app_permissions(stores_in_order(s.was_apps)[0], (7, 2)),
                     "count": stores_for(s.was_apps)[0].method}
for name, bad in (("major", {**app, "springBootMajor": 5}),
                  ("sorted", {**app, "repositoryType": "indexed", "sessionExpirationStore": "sorted-set"})):
    try:
        load_settings("dev", {"wasApps": [bad]})
        out[name] = "accepted"
    except ConfigError as exc:
        out[name] = str(exc)
print(json.dumps(out))
'''


def test_a_new_row_is_all_it_takes():
    done = subprocess.run([sys.executable, "-c", PROBE, str(TABLE), NEW_ROW], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert "9 (spring.x.redis.*, spring.session.x.redis.*, spring.session.x-store): repositoryType indexed " \
           "(unset) or default; no sessionExpirationStore sorted-set; redisTls from 9.2" in out["description"]
    assert out["major"].startswith("stack config wasApps[0].springBootMajor=5 is invalid: one of: 2, 3, 4, 9")
    assert "SortedSetRedisSessionExpirationStore" in out["sorted"] and "3 (3.4+) or 4" in out["sorted"]
    for topology, hosts in (("standalone", ["SPRING_X_REDIS_HOST", "SPRING_X_REDIS_PORT"]),
                            ("sentinel", ["SPRING_X_REDIS_SENTINEL_MASTER", "SPRING_X_REDIS_SENTINEL_NODES"])):
        got = out[topology]
        env = got["env"]
        assert set(hosts) <= set(env)
        assert {"SPRING_SESSION_X_STORE", "SPRING_X_REDIS_USERNAME", "SPRING_X_REDIS_DATABASE",
                "SPRING_SESSION_X_REDIS_NAMESPACE", "SPRING_SESSION_X_REDIS_FLUSH_MODE",
                "SPRING_SESSION_X_REDIS_REPOSITORY_TYPE", "SPRING_SESSION_X_REDIS_CONFIGURE_ACTION"} <= set(env)
        assert not [n for n in env if n.startswith(("SPRING_REDIS_", "SPRING_DATA_REDIS_", "SPRING_SESSION_REDIS_",
                                                    "SPRING_SESSION_DATA_REDIS_"))]
        assert got["reserved"]
        assert got["repository"] == "indexed" and got["keyspace_events"] and got["count"] == "scan"
        assert "~spring:session:shop:* " in got["acl"] and "&__keyevent@1__:expired" in got["acl"]
    assert out["standalone"]["files"] == ["spring.x.redis.password"]
    assert out["sentinel"]["files"] == ["spring.x.redis.password", "spring.x.redis.sentinel.password"]
    assert {"SPRING_X_REDIS_SSL_ENABLED", "SPRING_X_REDIS_SSL_BUNDLE"} <= set(out["sentinel"]["env"])
    assert not [n for n in out["standalone"]["env"] if "_SSL_" in n]


# --------------------------------------------------------------------------- no Boot branch outside the table
PREFIXES = sorted({p for r in boot.LINES for p in (r.redis_properties, r.session_properties, r.store_type_property)
                   if p} | {boot.env_name(p) for r in boot.LINES
                            for p in (r.redis_properties, r.session_properties, r.store_type_property) if p})


def boot_branches(source: str) -> list[str]:
    """Comparisons of a Boot version, integer Literals (a hand-kept list of majors) and strings naming a
    line's property prefix (docstrings aside)."""
    tree = ast.parse(source)
    docstrings = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            texts = [ast.unparse(o) for o in operands]
            about_boot = any("boot" in t.lower() for t in texts)
            versioned = any(isinstance(o, ast.Constant) and o.value is not None for o in operands) or \
                any(t.endswith("major") for t in texts if "boot" in t.lower())
            if about_boot and versioned:
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) in ("Literal", "typing.Literal") and \
                any(isinstance(c, ast.Constant) and type(c.value) is int for c in ast.walk(node.slice)):
            found.append(f"line {node.lineno}: {ast.unparse(node)} (the majors are boot.MAJORS)")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            hits = [p for p in PREFIXES if p in node.value]
            if hits:
                found.append(f"line {node.lineno}: {node.value!r} names {hits[0]}")
    return found


@pytest.mark.parametrize("snippet", [
    'def f(boot):\n    return "SPRING_SESSION_DATA_REDIS" if boot >= 4 else "X"',
    'if app.boot_major == 2:\n    env.append(x)',
    'if self.spring_boot_major == 2 and self.repository_type == "default":\n    pass',
    'ok = app.boot.ssl_bundle_since >= "3.1"',
    'prop = "spring.redis" + ".password"',
    'name = f"{x}_{y}" if a else "SPRING_DATA_REDIS_SSL_ENABLED"',
    'class WasApp:\n    spring_boot_major: Literal[2, 3, 4] = 3',
])
def test_the_check_finds_boot_branches(snippet):
    assert boot_branches(snippet)


def test_no_product_module_branches_on_the_boot_line():
    product = [p for p in (ROOT / "components").rglob("*.py") if p != TABLE]
    assert len(product) > 20
    found = {str(p.relative_to(ROOT)): hits for p in product if (hits := boot_branches(p.read_text()))}
    assert found == {}, "Boot-line facts outside components/config/boot.py (make them a column of the table)"
