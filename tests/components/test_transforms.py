"""Components others reuse accept Pulumi's `transforms` resource option.

The engine, not the SDK, runs transforms: those of a component apply to it "and all of its
children" (pulumi/docs content/docs/iac/concepts/options/transforms.md; the Python SDK sends
them as callbacks with the component's RegisterResource, sdk/python/lib/pulumi/runtime/resource.py
register_resource). The mock monitor does not run them (pulumi/runtime/mocks.py,
MockResourceArgs.transforms: "The mock monitor does not run them"), so this test does the
engine's part: it takes the transforms the component registered with, checks every child's
URN puts it under the component, and applies them to each child's inputs, as the engine would.
"""
from __future__ import annotations

import asyncio

import pulumi

from components.config.sessions import stores_in_order
from components.redis import connection_for
from components.was import WasApp, WasAppArgs
from render.mockrun import PROJECT, unwrap
from tests.harness import load_settings


class EngineLikeMocks(pulumi.runtime.Mocks):
    def __init__(self):
        self.registered: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args):
        self.registered.append(args)
        return f"{args.name}-id", dict(unwrap(args.inputs))

    def call(self, args):
        return {}


def fewer_revisions(args: pulumi.ResourceTransformArgs):
    if args.type_ == "kubernetes:apps/v1:Deployment":
        return pulumi.ResourceTransformResult({**args.props, "spec": {**args.props["spec"], "revisionHistoryLimit": 1}},
                                              args.opts)
    return None


def test_a_transform_given_to_was_app_changes_its_child_deployment():
    s = load_settings("dev", {"wasApps": [{"name": "shop", "image": "registry.example/shop:2.1.0"}]})
    conn = connection_for(s.redis.release_name, s.redis, "ns", stores_in_order(s.was_apps))
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    mocks = EngineLikeMocks()
    pulumi.runtime.settings.reset_options()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="unit")
    app = WasApp("shop", WasAppArgs(app=s.was_apps[0], connection=conn, prometheus_release="kp"),
                 pulumi.ResourceOptions(transforms=[fewer_revisions]))
    urn = loop.run_until_complete(app.deployment.urn.future())
    loop.run_until_complete(pulumi.runtime.stack.wait_for_rpcs())
    [component] = [r for r in mocks.registered if r.typ == "redis-session-platform:index:WasApp"]
    assert component.transforms == [fewer_revisions]  # the component hands its transforms to the engine
    assert "::redis-session-platform:index:WasApp$kubernetes:apps/v1:Deployment::" in urn  # a child of it
    children = [r for r in mocks.registered if r.custom]
    assert {r.typ.rsplit(":", 1)[1] for r in children} >= {"Deployment", "Service", "NetworkPolicy"}
    changed = {}
    for child in children:  # the engine's step: the parent's transforms on each child's inputs
        props = dict(unwrap(child.inputs))
        for transform in component.transforms:
            result = transform(pulumi.ResourceTransformArgs(True, child.typ, child.name, props, pulumi.ResourceOptions()))
            props = result.props if result else props
        changed[child.typ] = props
    assert changed["kubernetes:apps/v1:Deployment"]["spec"]["revisionHistoryLimit"] == 1
    assert dict(unwrap(next(r for r in children if r.typ == "kubernetes:apps/v1:Deployment").inputs))[
        "spec"]["revisionHistoryLimit"] == 5  # the component's own value, before the transform
    assert changed["kubernetes:core/v1:Service"] == dict(unwrap(
        next(r for r in children if r.typ == "kubernetes:core/v1:Service").inputs))  # others untouched
