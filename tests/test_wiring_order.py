"""The program's order comes from its data, not from depends_on (issue 21 item 3): the store takes the
namespace as AppNamespace's output, the apps and the exporter take the store's connection. Checked on the
dependencies each resource records with the engine (the mock monitor's RegisterResource requests carry the
explicit and the input-derived ones alike): what orders creates, deletes and `--target`. Before, the store
had `depends_on=[namespace]` as a component option: its children waited for it in the SDK, but none
recorded a dependency on the Namespace (pulumi/pulumi#2299: a child depends on its parent, not on the
parent's depends_on), so a destroy could delete the Namespace and the store's Secrets side by side."""
from __future__ import annotations

import pytest
from pulumi.runtime import mocks

from tests.harness import run_program


@pytest.fixture
def registered(monkeypatch) -> dict[str, tuple[str, set[str]]]:
    """resource name -> (its URN, the URNs it depends on), for every resource the program registers."""
    seen: dict[str, tuple[str, set[str]]] = {}
    register = mocks.MockMonitor.RegisterResource

    def recording(self, request):
        response = register(self, request)
        seen[request.name] = (response.urn, set(request.dependencies))
        return response

    monkeypatch.setattr(mocks.MockMonitor, "RegisterResource", recording)
    return seen


def depends(registered, resource: str, on: str) -> bool:
    return registered[on][0] in registered[resource][1]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_store_waits_for_the_namespace_and_the_clients_for_the_store(registered, stack):
    run = run_program(stack)
    assert run.error is None
    ns = next(r.name for r in run.resources if r.type == "kubernetes:core/v1:Namespace")
    for store_object in ("redis-chart", "redis-acl", "redis-secret", "redis-exporter-client-auth"):
        assert depends(registered, store_object, ns), f"{store_object} does not wait for the Namespace"
    was = [r.name for r in run.resources if r.type == "kubernetes:apps/v1:Deployment" and r.name != "redis-exporter-deployment"]
    assert was and "redis-exporter-deployment" in registered
    for deployment in [*was, "redis-exporter-deployment"]:
        assert depends(registered, deployment, "redis-chart"), f"{deployment} does not wait for the Redis release"

