"""Run the real __main__.py on Pulumi's mock runtime against a real stack file.

Used by the render command (offline twin of `pulumi preview`) and by the tests.

Pulumi does not read stack YAML under mocks, so this does what the CLI and the Python
language host do: tools/stackfile.py reads Pulumi.yaml and Pulumi.<stack>.yaml with the
CLI's own rules (defaults merged, types and secrets checked; `secure:` values become
fakes), then the config is handed over as pulumi-language-python-exec does it: the
PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS environment variables, then
`set_all_config(get_config_env(), get_config_secret_keys_env())`. Every registered
resource is recorded with its inputs. One fresh runtime (event loop, settings, mocks)
per run.
"""
from __future__ import annotations

import asyncio
import json
import os
import runpy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pulumi

from tools.stackfile import FAKE_SECRET_PREFIX, PROJECT, ROOT, cli_config, load_settings  # noqa: F401 - re-exported

STACKS = ("dev", "prod")
FAKE_PASSWORD = "mockpw-7Qz9Xv2Lk4Rt8Wn3Yp6Bc1Df5Gh0Jm"
FAKE_PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nmock-private-key-Zx81Qw\n-----END PRIVATE KEY-----\n"
FAKE_CERT = "-----BEGIN CERTIFICATE-----\nmock-certificate\n-----END CERTIFICATE-----\n"
MOCK_NOW = datetime(2026, 1, 1, tzinfo=UTC)
"""When mock certificates are issued (their validityEndTime = this + validityPeriodHours): fixed, so renders are stable."""

# How a secret travels in resource inputs (the engine's wire format):
# pulumi/pulumi sdk/go/common/resource/sig/sig.go, Key and Secret.
SECRET_SIG = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")


@dataclass
class Resource:
    """One registered resource."""

    type: str
    name: str
    inputs: dict
    custom: bool
    protect: bool = False
    """Pulumi `protect`: the engine refuses to delete or replace it."""
    retain_on_delete: bool = False
    """Pulumi `retainOnDelete`: a delete (or replace) leaves the object in the cluster."""

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
    config: dict = field(default_factory=dict)
    """The config the program was given (`<project>:<key>` -> string)."""
    error: BaseException | None = None

    def of_type(self, type_token: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: str | None = None) -> Resource:
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

    def __init__(self, run: Run, previous: dict | None = None):
        self.run = run
        self.previous = previous or {}
        """The outputs a StackReference reads (the stack's previous exports)."""
        self.options: dict[tuple[str, str], pulumi.ResourceOptions] = {}

    def record_options(self, args: pulumi.ResourceTransformationArgs) -> None:
        """A stack transformation (run by the SDK, mocks or not) that keeps each resource's
        options: the mock monitor's MockResourceArgs do not carry them."""
        self.options[(args.type_, args.name)] = args.opts

    @staticmethod
    def password(resource_name: str) -> str:
        """A RandomPassword's result (the same for all; a test may patch in one per resource)."""
        return FAKE_PASSWORD

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        opts = self.options.get((args.typ, args.name)) or pulumi.ResourceOptions()
        self.run.resources.append(Resource(args.typ, args.name, args.inputs, bool(args.custom),
                                           bool(opts.protect), bool(opts.retain_on_delete)))
        state = dict(unwrap(args.inputs))
        if args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = self.password(args.name)
        if args.typ == "tls:index/privateKey:PrivateKey":
            state.update(privateKeyPem=FAKE_PRIVATE_KEY, privateKeyPemPkcs8=FAKE_PRIVATE_KEY)
        if args.typ in ("tls:index/selfSignedCert:SelfSignedCert", "tls:index/locallySignedCert:LocallySignedCert"):
            state["certPem"] = FAKE_CERT
            hours = int(unwrap(args.inputs).get("validityPeriodHours") or 0)
            state["validityEndTime"] = (MOCK_NOW + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
        if args.typ == "tls:index/certRequest:CertRequest":
            state["certRequestPem"] = "-----BEGIN CERTIFICATE REQUEST-----\nmock\n-----END CERTIFICATE REQUEST-----\n"
        if args.typ == "pulumi:pulumi:StackReference":
            state.update(outputs=dict(self.previous), secretOutputNames=[])
        if args.typ == "kubernetes:helm.sh/v3:Release":
            state["status"] = {"status": "deployed", "name": args.inputs.get("name")}
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def run_with_mocks(body: Callable[[], Any], stack: str = "unit", config: dict[str, str] | None = None,
                   preview: bool = False, secret_keys: tuple[str, ...] = (), previous: dict | None = None) -> Run:
    """Run `body` (which declares resources) on a fresh mock runtime with `config` passed
    as the language host passes it; never raises for the body's errors. `previous`: the outputs
    a StackReference reads (the stack's last exports, for the change check)."""
    run = Run(config=dict(config or {}))
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    saved_env = {k: os.environ.get(k) for k in ("PULUMI_CONFIG", "PULUMI_CONFIG_SECRET_KEYS")}
    os.environ["PULUMI_CONFIG"] = json.dumps(config or {})
    os.environ["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(list(secret_keys))
    pulumi.runtime.settings.reset_options()
    mocks = RecordingMocks(run, previous)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview,
                             organization="organization")  # what the CLI passes with the local backend
    pulumi.runtime.register_stack_transformation(mocks.record_options)
    pulumi.runtime.set_all_config(pulumi.runtime.get_config_env(), pulumi.runtime.get_config_secret_keys_env())
    try:
        body()
        loop.run_until_complete(pulumi.runtime.stack.wait_for_rpcs())
        root = pulumi.runtime.settings.get_root_resource()
        for key, out in (getattr(root, "outputs", None) or {}).items():
            run.outputs[key] = loop.run_until_complete(pulumi.Output.from_input(out).future())
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        run.error = exc
    finally:
        if run.error is not None:  # drain what the failed program had queued
            try:
                loop.run_until_complete(pulumi.runtime.stack.wait_for_rpcs())
            except Exception:  # noqa: BLE001 - already failed; nothing more to learn
                pass
        pulumi.runtime.set_all_config({}, [])
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        loop.close()
    return run


def run_program(stack: str, overrides: dict | None = None, preview: bool = False,
                secret_overrides: dict[str, str] | None = None, previous: dict | None = None) -> Run:
    """Run the real __main__.py for `stack` (its real stack file, plus `overrides` as stack
    file values and `secret_overrides` as secure ones). The CLI's own refusals
    (PulumiCliError) are raised, as the CLI stops before the program runs."""
    config, secret_keys = cli_config(stack, overrides, secret_overrides)
    return run_with_mocks(lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"),
                          stack, config, preview, tuple(secret_keys), previous)
