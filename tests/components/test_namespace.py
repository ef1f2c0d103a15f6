import pytest

from components.namespace import AppNamespace, AppNamespaceArgs
from tests.harness import run_with_mocks


@pytest.mark.parametrize("create", [True, False])
def test_namespace_created_restricted_or_adopted(create):
    run = run_with_mocks(lambda: AppNamespace("app", AppNamespaceArgs(name="team-a", create=create)))
    assert run.error is None, run.error
    created = run.of_type("kubernetes:core/v1:Namespace")
    assert len(created) == (1 if create else 0)
    if create:
        meta = created[0].plain["metadata"]
        assert meta["name"] == "team-a"
        assert meta["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
