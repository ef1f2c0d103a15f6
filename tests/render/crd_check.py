"""Run with the tools venv's python: validate prometheus-operator custom resources
(monitoring.coreos.com: ServiceMonitor, PodMonitor, PrometheusRule, AlertmanagerConfig,
and any other kind the models define) against cloudcoil's pydantic models.

cloudcoil's models ignore unknown fields (pydantic's default `extra="ignore"`), so a
misspelt field would pass. Every model here is built with `extra="forbid"` instead: the
setting is put on cloudcoil's base model before the model modules are imported, which
is when pydantic fixes each model's config. Free-form maps (labels, params) stay free.

usage: crd_check.py FILE.yaml...   -> one line per problem; exit 1 if any."""
import importlib
import sys

import cloudcoil.pydantic
import yaml

cloudcoil.pydantic.BaseModel.model_config["extra"] = "forbid"  # before any model module
GROUP = "monitoring.coreos.com"


def model_for(api_version: str, kind: str):
    group, _, version = (api_version or "").rpartition("/")
    if group != GROUP:
        return None
    try:
        module = importlib.import_module(f"cloudcoil.models.prometheus_operator.{version}")
    except ImportError:
        return None
    model = getattr(module, kind, None)
    if model is None:
        return None
    # If cloudcoil ever builds models before this module runs, fail rather than go lax.
    assert model.model_config.get("extra") == "forbid", f"{kind}: unknown fields would be ignored"
    return model


def check(obj) -> list[str]:
    if not isinstance(obj, dict):
        return ["not a YAML mapping"]
    model = model_for(obj.get("apiVersion"), obj.get("kind"))
    if model is None:
        return [f"no prometheus-operator model for {obj.get('apiVersion')} {obj.get('kind')}"]
    try:
        model.model_validate(obj)
    except Exception as exc:  # noqa: BLE001 - pydantic ValidationError: one line per error
        errors = getattr(exc, "errors", None)
        if errors is None:
            return [" ".join(str(exc).split())[:300]]
        return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors()]
    return []


def main(files) -> int:
    problems = 0
    for name in files:
        with open(name) as f:
            obj = yaml.safe_load(f)
        for problem in check(obj):
            print(f"{name}: {problem}")
            problems += 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
