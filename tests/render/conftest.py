"""Rendered stacks shared by the render, chart and judge tests: every object the program
declares and every object the pinned chart creates from the values it gets (helm
template on charts/), for dev, prod, dev with Sentinel and prod with an indexed app.
Slack is on (as a secret, the documented way) so every object type is present."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from components.config.schema import StackSettings
from render import render_stack
from render.mockrun import Run
from tests.harness import load_settings
from tests.tools import require_helm

WEBHOOK = "https://hooks.slack.com/services/T0/B0/SECRETXYZ"
SLACK = {"slackChannel": "#alerts"}
SLACK_SECRET = {"slackWebhookUrl": WEBHOOK}
PROD_APPS = [
    {"name": "petclinic", "image": "docker.io/springcommunity/spring-petclinic:3.4.0", "minReplicas": 3, "maxReplicas": 10,
     "sessionDatabase": 1},
    {"name": "shop", "image": "registry.example.com/shop:2.1.0", "repositoryType": "indexed", "minReplicas": 2,
     "sessionDatabase": 2},
]
VARIANTS = {
    "dev": ("dev", {}),
    "prod": ("prod", {}),
    "dev-sentinel": ("dev", {"redisTopology": "sentinel"}),
    "prod-indexed": ("prod", {"wasApps": PROD_APPS}),
    # standalone TLS mid-switch (docs/runbooks.md "Switch TLS on or off"): both protocols, the TLS Service port
    "dev-tls-transition": ("dev", {"redisTls": True, "redisTlsTransition": True}),
}


@dataclass
class Rendered:
    """One rendered variant."""

    variant: str
    stack: str
    overrides: dict
    settings: StackSettings
    run: Run
    out: Path
    paths: list[Path]

    def objects(self, chart: bool | None = None) -> list[tuple[Path, dict]]:
        """(path, object) of every rendered object; chart=True only the chart's, False only ours."""
        found = []
        for p in self.paths:
            from_chart = p.parent != self.out
            if p.name in ("values.yaml", "release.yaml") and from_chart:
                continue
            if chart is None or chart == from_chart:
                found.append((p, yaml.safe_load(p.read_text())))
        return found

    @property
    def release_dir(self) -> Path:
        return self.out / f"helm-{self.settings.redis.release_name}"

    @property
    def values(self) -> dict:
        return yaml.safe_load((self.release_dir / "values.yaml").read_text())

    @property
    def release(self) -> dict:
        return yaml.safe_load((self.release_dir / "release.yaml").read_text())

    def of_kind(self, kind: str, chart: bool | None = None) -> list[dict]:
        return [o for _, o in self.objects(chart) if o["kind"] == kind]

    def one(self, kind: str, name: str) -> dict:
        [found] = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        return found


def render_variant(variant: str, out: Path) -> Rendered:
    stack, overrides = VARIANTS[variant]
    overrides = {**overrides, **SLACK}
    run, paths = render_stack(stack, out, overrides, SLACK_SECRET)
    settings = load_settings(stack, overrides, SLACK_SECRET)
    return Rendered(variant, stack, overrides, settings, run, out, paths)


@pytest.fixture(scope="session", params=list(VARIANTS))
def rendered(request, tmp_path_factory) -> Rendered:
    require_helm()
    return render_variant(request.param, tmp_path_factory.mktemp("rendered") / request.param)
