"""What holds users' data (the Namespace, the Redis release and, through the release's
StatefulSets, the volumes) is protected and retained where protectData says so: prod
(stated in Pulumi.prod.yaml) and any stack that does not say otherwise; dev opts out.
The options are read from the resources as the program registers them (mock runtime)."""
from __future__ import annotations

import pytest

from tests.harness import run_program

NAMESPACE = "kubernetes:core/v1:Namespace"
RELEASE = "kubernetes:helm.sh/v3:Release"


def options(run, type_token):
    [r] = run.of_type(type_token)
    return r.protect, r.retain_on_delete


@pytest.mark.parametrize("stack,overrides,protected", [
    ("prod", {}, True),
    ("dev", {}, False),
    ("dev", {"protectData": True}, True),
    ("prod", {"protectData": False}, False),
])
def test_namespace_and_release_are_protected_and_retained_per_stack(stack, overrides, protected):
    run = run_program(stack, overrides)
    assert run.error is None, run.error
    assert options(run, NAMESPACE) == (protected, protected)
    assert options(run, RELEASE) == (protected, protected)
    # Nothing else is: a Deployment or a Secret is recreated from the program at will.
    others = [r.name for r in run.resources if r.type not in (NAMESPACE, RELEASE) and (r.protect or r.retain_on_delete)]
    assert others == []


def test_a_stack_that_says_nothing_is_protected():
    # The project default (Pulumi.yaml) is on: a new stack copied from dev minus its
    # protectData line keeps its data.
    from components.config.schema import StackConfig
    assert StackConfig.model_fields["protect_data"].default is True


def test_the_volumes_outlive_their_statefulset():
    # Retain (Kubernetes' default) stated in the chart values: helm uninstall, a topology
    # swap or a scale-down leaves the PVCs (docs/runbooks.md says how to delete them).
    for stack in ("dev", "prod"):
        run = run_program(stack)
        values = run.one(RELEASE).plain["values"]
        node = values["master" if stack == "dev" else "replica"]
        assert node["persistentVolumeClaimRetentionPolicy"] == {"enabled": True, "whenScaled": "Retain",
                                                                "whenDeleted": "Retain"}


def test_an_adopted_namespace_is_not_pulumis_to_protect():
    run = run_program("prod", {"createNamespace": False})
    assert run.error is None, run.error
    assert run.of_type(NAMESPACE) == []
    assert options(run, RELEASE) == (True, True)
