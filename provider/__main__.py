"""The component provider (issue 21 item 4): PulumiPlugin.yaml (`main: provider`) points here, so
`pulumi package add <this repository>` generates each consumer's SDK (TypeScript, Go, C#, Java,
Python, YAML) from the schema Pulumi's analyzer infers from the components' type annotations.
Every component is hosted (tests/components/test_component_schema.py keeps this list equal to them)."""
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The language host runs this folder as the program: the product package sits beside it.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pulumi.provider.experimental import component_provider_host  # noqa: E402

from components.alert_rules import AlertRules  # noqa: E402
from components.alerting import SlackAlerting  # noqa: E402
from components.dashboard import Dashboard007  # noqa: E402
from components.exporter import RedisExporter  # noqa: E402
from components.namespace import AppNamespace  # noqa: E402
from components.redis import RedisSessionStore  # noqa: E402
from components.was import WasApp  # noqa: E402

PACKAGE = "redis-session-platform"
"""The schema's package name: every type token is `redis-session-platform:index:<Component>`."""
COMPONENTS = [AppNamespace, RedisSessionStore, WasApp, RedisExporter, AlertRules, Dashboard007, SlackAlerting]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

if __name__ == "__main__":
    component_provider_host(COMPONENTS, PACKAGE, version=VERSION)
