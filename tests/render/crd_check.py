"""Run with the tools venv's python: validate prometheus-operator custom resources
against cloudcoil's models, rejecting unknown fields (the models drop them silently, so
the input's key paths are compared with the model's round trip).

usage: crd_check.py FILE.yaml...   -> prints one line per problem; exit 1 if any."""
import sys

import yaml
from cloudcoil.models.prometheus_operator import v1, v1alpha1

MODELS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): v1.ServiceMonitor,
    ("monitoring.coreos.com/v1", "PodMonitor"): v1.PodMonitor,
    ("monitoring.coreos.com/v1", "PrometheusRule"): v1.PrometheusRule,
    ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig"): v1alpha1.AlertmanagerConfig,
}


def paths(value, prefix=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"{prefix}.{k}"
            yield from paths(v, f"{prefix}.{k}")
    elif isinstance(value, list):
        for v in value:
            yield from paths(v, f"{prefix}[]")


def check(obj):
    model = MODELS.get((obj.get("apiVersion"), obj.get("kind")))
    if model is None:
        return [f"no model for {obj.get('apiVersion')} {obj.get('kind')}"]
    try:
        parsed = model.model_validate(obj)
    except Exception as exc:  # noqa: BLE001 - report, one line
        return [" ".join(str(exc).split())[:300]]
    dumped = parsed.model_dump(by_alias=True, exclude_none=True, mode="json")
    # free-form maps (labels, annotations, params) are kept by the model as-is
    unknown = sorted(set(paths(obj)) - set(paths(dumped)))
    return [f"unknown field {p}" for p in unknown]


def main(files):
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
