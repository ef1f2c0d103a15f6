"""Run the real __main__.py on Pulumi's mock runtime against a real stack file.

Used by the render command (offline twin of `pulumi preview`) and by the tests.

Pulumi does not read stack YAML under mocks, so this does what the CLI does: take the
project defaults from Pulumi.yaml, overlay Pulumi.<stack>.yaml, replace `secure:` values
with fakes, and hand the result to set_all_config. Every registered resource is recorded
with its inputs. One fresh runtime (event loop, settings, mocks) per run.
"""
from __future__ import annotations

import asyncio
import runpy
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import pulumi
from pulumi.runtime import rpc

from settings.stackfile import FAKE_SECRET_PREFIX, PROJECT, ROOT, load_settings, stack_config  # noqa: F401 - re-exported

STACKS = ("dev", "prod")
FAKE_PASSWORD = "mockpw-7Qz9Xv2Lk4Rt8Wn3Yp6Bc1Df5Gh0Jm"

SECRET_SIG = (rpc._special_sig_key, rpc._special_secret_sig)


@dataclass
class Resource:
    """One registered resource."""

    type: str
    name: str
    inputs: dict
    custom: bool

    @property
    def plain(self) -> dict:
        """Inputs with secret wrappers removed."""
        return unwrap(self.inputs)

    @property
    def kind(self) -> str:
        """`kubernetes:apps/v1:Deployment` -> `Deployment`."""
        return self.type.rsplit(":", 1)[-1]


@dataclass
class Run:
    """The result of one program run."""

    resources: list[Resource] = field(default_factory=list)
    outputs: dict = field(default_factory=dict)
    error: Optional[BaseException] = None

    def of_type(self, type_token: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: Optional[str] = None) -> Resource:
        found = [r for r in self.of_type(type_token) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {type_token} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def k8s_objects(self) -> list[Resource]:
        """Kubernetes objects declared directly (not helm releases, not components)."""
        return [r for r in self.resources if r.custom and r.type.startswith("kubernetes:")
                and not r.type.startswith("kubernetes:helm.sh/")]


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG[0]) == SECRET_SIG[1]


def unwrap(value: Any) -> Any:
    """Drop secret wrappers, keep the values."""
    if is_secret(value):
        return unwrap(value["value"])
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def plain_occurrences(value: Any, needle: str, path: str = "") -> list[str]:
    """Paths where `needle` appears in a string that is NOT wrapped as a secret."""
    if is_secret(value):
        return []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in plain_occurrences(v, needle, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in plain_occurrences(v, needle, f"{path}[{i}]")]
    return [path] if isinstance(value, str) and needle in value else []


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every resource; gives RandomPassword a known fake result."""

    def __init__(self, run: Run):
        self.run = run

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.run.resources.append(Resource(args.typ, args.name, args.inputs, args.custom))
        state = dict(unwrap(args.inputs))
        if args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = FAKE_PASSWORD
        if args.typ == "kubernetes:helm.sh/v3:Release":
            state["status"] = {"status": "deployed", "name": args.inputs.get("name")}
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def run_with_mocks(body: Callable[[], Any], stack: str = "unit", config: Optional[dict[str, str]] = None,
                   preview: bool = False) -> Run:
    """Run `body` (which declares resources) on a fresh mock runtime; never raises for its errors."""
    run = Run()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.settings.reset_options()
    pulumi.runtime.set_mocks(RecordingMocks(run), project=PROJECT, stack=stack, preview=preview)
    pulumi.runtime.set_all_config(config or {})
    try:
        body()
        loop.run_until_complete(pulumi.runtime.stack.wait_for_rpcs())
        root = pulumi.runtime.settings.get_root_resource()
        for key, out in (root.outputs if root else {}).items():
            run.outputs[key] = loop.run_until_complete(pulumi.Output.from_input(out).future())
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        run.error = exc
    finally:
        if run.error is not None:  # drain what the failed program had queued
            try:
                loop.run_until_complete(pulumi.runtime.stack.wait_for_rpcs())
            except Exception:  # noqa: BLE001 - already failed; nothing more to learn
                pass
        pulumi.runtime.set_all_config({})
        loop.close()
    return run


def run_program(stack: str, overrides: Optional[dict] = None, preview: bool = False) -> Run:
    """Run the real __main__.py for `stack` (its real stack file, plus `overrides`)."""
    return run_with_mocks(lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"),
                          stack, stack_config(stack, overrides), preview)
