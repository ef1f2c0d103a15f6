"""Pulumi's own component analyzer over every component (issue 21 items 3 and 4).

`pulumi.provider.experimental.analyzer.Analyzer` is what `component_provider_host` runs to
infer the provider's schema from type annotations (pulumi 3.272, provider/experimental/
component.py ComponentProvider.__init__). These tests run it (and the schema generation, and
the provider's construct under mocks) without a Pulumi CLI: none is installed here, so
`pulumi package add` itself was never run.
"""
import ast
import importlib
import inspect
import json
import re
import typing

import pulumi
import pytest
import yaml
from pulumi.provider.experimental.analyzer import Analyzer
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.experimental.host import components_from_module

from tests.harness import ROOT, is_secret, plain_occurrences, run_with_mocks

provider = importlib.import_module("provider.__main__")
PACKAGE = provider.PACKAGE
MODULES = sorted(p.stem for p in (ROOT / "components").glob("*.py") if p.stem != "__init__")
COMPONENTS = [c for m in MODULES for c in components_from_module(importlib.import_module(f"components.{m}"))
              if c.__module__ == f"components.{m}"]
HOSTED = {c.__name__ for c in provider.COMPONENTS}
WEBHOOK = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"


def by_name(name: str) -> type:
    return next(c for c in COMPONENTS if c.__name__ == name)


def test_every_component_module_exports_its_component_under_the_analyzers_token():
    assert {c.__name__ for c in COMPONENTS} == {"AppNamespace", "RedisSessionStore", "WasApp", "RedisExporter",
                                                 "AlertRules", "SlackAlerting", "Dashboard007"}
    for c in COMPONENTS:
        # The provider constructs `<package>:index:<class>`: the component must register that type.
        assert f'"{PACKAGE}:index:{c.__name__}"' in inspect.getsource(c), c.__name__
        assert (c.__doc__ or "").strip(), f"{c.__name__} has no docstring (the schema's description)"


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_outputs_are_typed_registered_outputs_with_descriptions(component):
    outputs, mapping = Analyzer(PACKAGE).analyze_type(component, is_component_output=True)
    assert outputs, f"{component.__name__} declares no output"
    assert [k for k, p in outputs.items() if not (p.description or "").strip()] == []
    for python_name in mapping.values():
        hint = inspect.get_annotations(component)[python_name]
        assert typing.get_origin(hint) is pulumi.Output, f"{component.__name__}.{python_name}: {hint}"
    # Each one is set before register_outputs, which names it too (camelCase).
    source = inspect.getsource(component)
    registered = source[source.index("self.register_outputs("):]
    for schema_name, python_name in mapping.items():
        assert f"self.{python_name} = " in source, f"{component.__name__}.{python_name} never set"
        assert f'"{schema_name}": self.{python_name}' in registered, f"{schema_name} not registered"


def analyze(component: type) -> tuple:
    result = Analyzer(PACKAGE).analyze([component])
    return result["component_definitions"][component.__name__], result


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_the_analyzer_accepts_the_whole_component_and_every_input_is_described(component):
    definition, _ = analyze(component)
    args = inspect.get_annotations(component.__init__)["args"]
    assert typing.is_typeddict(args), "provider inputs arrive as a dict: Args is a TypedDict"
    assert set(definition.inputs_mapping.values()) == set(args.__annotations__)
    assert [k for k, p in definition.inputs.items() if not (p.description or "").strip()] == []
    required = {k for k, p in definition.inputs.items() if not p.optional}
    assert {definition.inputs_mapping[k] for k in required} == set(args.__required_keys__)
    # pulumi.Input[...] fields accept another resource's output (not plain); the rest are plain.
    for schema_name, prop in definition.inputs.items():
        hint = args.__annotations__[definition.inputs_mapping[schema_name]]
        takes_output = "Output" in repr(hint)
        assert prop.plain is (None if takes_output else True), (schema_name, hint)


def test_the_provider_hosts_exactly_the_components_the_analyzer_accepts():
    assert HOSTED == {c.__name__ for c in COMPONENTS}


def provider_schema() -> dict:
    """What component_provider_host builds before serving: ComponentProvider runs the analyzer and
    generate_schema over the hosted components (its GetSchema answers with this JSON)."""
    return json.loads(ComponentProvider(provider.COMPONENTS, PACKAGE, None, provider.VERSION).schema)


def test_the_provider_schema_has_every_hosted_component_with_its_inputs_and_outputs():
    schema = provider_schema()
    assert schema["name"] == PACKAGE and schema["version"] == provider.VERSION
    assert set(schema["resources"]) == {f"{PACKAGE}:index:{name}" for name in HOSTED}
    for token, resource in schema["resources"].items():
        definition, _ = analyze(by_name(token.rsplit(":", 1)[1]))
        assert resource["isComponent"] is True
        assert set(resource["inputProperties"]) == set(definition.inputs)
        assert set(resource["properties"]) == set(definition.outputs)
        assert resource["description"] == by_name(token.rsplit(":", 1)[1]).__doc__.strip()
        described = [p["description"] for k in ("inputProperties", "properties") for p in resource[k].values()]
        assert [d for d in described if "\n " in d] == [], "a docstring's indentation would reach every SDK"


def test_plugin_manifest_points_at_the_provider():
    manifest = yaml.safe_load((ROOT / "PulumiPlugin.yaml").read_text())
    assert manifest["runtime"] == "python"
    assert (ROOT / manifest["main"] / "__main__.py").read_text() == inspect.getsource(provider)


def _reads(tree: ast.Module) -> tuple[set[tuple[str, str]], dict[str, str]]:
    """(component class, attribute) of every attribute __main__.py reads from a component: names bound
    by `x = C(...)` or `xs = [C(...) for ...]`, and inside a comprehension its variable over such a list."""
    classes = {c.__name__ for c in COMPONENTS}
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            value = node.value.elt if isinstance(node.value, ast.ListComp) else node.value
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in classes:
                bound[node.targets[0].id] = value.func.id

    def visit(node: ast.AST, names: dict[str, str]) -> set[tuple[str, str]]:
        if isinstance(node, ast.ListComp | ast.GeneratorExp):
            scope = dict(names)
            for g in node.generators:
                if isinstance(g.target, ast.Name):
                    over = g.iter.id if isinstance(g.iter, ast.Name) else None
                    scope.pop(g.target.id, None)
                    if over in names:
                        scope[g.target.id] = names[over]
            return {r for child in ast.iter_child_nodes(node) for r in visit(child, scope)}
        found = set()
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in names:
            found.add((names[node.value.id], node.attr))
        return found | {r for child in ast.iter_child_nodes(node) for r in visit(child, names)}

    return visit(tree, bound), bound


def test_what_the_program_reads_from_a_component_is_a_schema_output():
    reads, bound = _reads(ast.parse((ROOT / "__main__.py").read_text()))
    assert {"namespace", "store", "exporter", "was_apps"} <= set(bound)
    assert ("WasApp", "service_name") in reads and ("AppNamespace", "name") in reads
    outputs = {(c.__name__, python_name) for c in COMPONENTS
               for python_name in Analyzer(PACKAGE).analyze_type(c, is_component_output=True)[1].values()}
    assert reads - outputs == set(), "the program reads only what any Pulumi language can"
    # WAS apps and the exporter take the store's connection, which names each client's own credentials:
    # no password passes through the program, so none can be handed to the wrong client.
    assert ("RedisSessionStore", "connection") in reads
    assert not any("password" in attribute for _, attribute in reads)


def _conforms(value, prop: dict, types: dict, where: str) -> None:
    """`value` has only properties its schema type declares, and every required one."""
    if "$ref" in prop and prop["$ref"].startswith("#/types/") and isinstance(value, dict):
        spec = types[prop["$ref"][len("#/types/"):]]
        assert set(value) <= set(spec.get("properties", {})), f"{where}: {set(value) - set(spec['properties'])}"
        assert set(spec.get("required", [])) <= set(value), where
        for key, item in value.items():
            _conforms(item, spec["properties"][key], types, f"{where}.{key}")
    elif prop.get("type") == "array" and isinstance(value, list):
        for i, item in enumerate(value):
            _conforms(item, prop["items"], types, f"{where}[{i}]")


def readme_yaml_example() -> dict:
    section = (ROOT / "README.md").read_text().split("### From any Pulumi language", 1)[1]
    return yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))


def test_the_readme_yaml_program_uses_only_what_the_schema_has():
    schema = provider_schema()
    program = readme_yaml_example()
    assert program["runtime"] == "yaml"
    used = {r["type"] for r in program["resources"].values() if r["type"].startswith(f"{PACKAGE}:")}
    assert used == set(schema["resources"]), "the example shows every hosted component"
    for name, resource in program["resources"].items():
        if resource["type"] not in used:
            continue
        spec = schema["resources"][resource["type"]]
        props = resource.get("properties", {})
        assert set(props) <= set(spec["inputProperties"]), name
        assert set(spec["requiredInputs"]) <= set(props), name
        for key, value in props.items():  # nested objects too: the provider drops a key its type lacks
            _conforms(value, spec["inputProperties"][key], schema["types"], f"{name}.{key}")
    # `${resource.output}` references name real outputs of the referenced component.
    text = json.dumps(program)
    for ref, output in re.findall(r"\$\{(\w[\w-]*)\.(\w+)\}", text):
        referenced = program["resources"][ref]["type"]
        if referenced in schema["resources"]:
            assert output in schema["resources"][referenced]["properties"], f"{ref}.{output}"


def test_the_provider_constructs_the_readme_program_under_mocks():
    """The engine's Construct call, minus gRPC: inputs by schema name, as a YAML program sends them."""
    program = readme_yaml_example()
    host = ComponentProvider(provider.COMPONENTS, PACKAGE, None, provider.VERSION)
    states: dict[str, dict] = {}

    def body():
        for name, resource in program["resources"].items():
            inputs = {}
            for key, value in resource.get("properties", {}).items():
                ref = re.fullmatch(r"\$\{([\w-]+)(?:\.(\w+))?\}", value) if isinstance(value, str) else None
                if ref and ref.group(2):  # another resource's output
                    value = states[ref.group(1)][ref.group(2)]
                elif ref:  # a config value of the program
                    assert program["config"][ref.group(1)]["secret"] is True
                    value = pulumi.Output.secret(WEBHOOK)
                inputs[key] = value
            states[name] = host.construct(name, resource["type"], inputs, pulumi.ResourceOptions()).state

    run = run_with_mocks(body)
    assert run.error is None, run.error
    namespace = run.one("kubernetes:core/v1:Namespace").plain
    amc = run.one("kubernetes:monitoring.coreos.com/v1alpha1:AlertmanagerConfig").plain
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert amc["metadata"]["namespace"] == namespace["metadata"]["name"]
    secret = run.one("kubernetes:core/v1:Secret", "alerts-webhook")
    assert is_secret(secret.inputs["stringData"]) and plain_occurrences(amc, WEBHOOK) == []
    # The app and the exporter got the store's address and their own credentials Secrets through the
    # store's `connection` output, as the engine hands it to another component (schema names).
    store_secrets = {s.plain["metadata"]["name"] for s in run.of_type("kubernetes:core/v1:Secret")}
    pods = {d.name: d.plain["spec"]["template"]["spec"] for d in run.of_type("kubernetes:apps/v1:Deployment")}
    app_env = {e["name"]: e.get("value") for e in pods["cart-deployment"]["containers"][0]["env"]}
    assert app_env["SPRING_DATA_REDIS_HOST"] == "sessions-master.shop.svc.cluster.local"
    assert app_env["SPRING_DATA_REDIS_USERNAME"] == "was-cart"
    volumes = {v["name"]: v for p in pods.values() for v in p["volumes"]}
    assert volumes["redis-secret"]["secret"]["secretName"] == "cart-redis-auth" in store_secrets
    assert volumes["auth"]["secret"]["secretName"] == "sessions-exporter-redis-auth" in store_secrets


def test_a_was_app_is_one_type_the_config_entry_and_the_component_input():
    """Issue 21 item 2: the stack config's `wasApps[]` entry validates into the type WasApp takes, and
    the analyzer's schema of that type has exactly the config's keys, each described; a field with a
    default is optional (only name and image are required, as in the stack config)."""
    from components.config.app import WasAppSettings
    from components.config.config import submodel
    from components.config.schema import StackConfig, alias, fields_of
    from components.was import WasAppArgs

    assert submodel(StackConfig, "was_apps") is WasAppSettings is WasAppArgs.__annotations__["app"]
    spec = Analyzer(PACKAGE).analyze([by_name("WasApp")])["type_definitions"]["WasAppSettings"]
    keys = {alias(WasAppSettings, n) for n in fields_of(WasAppSettings)}
    assert set(spec.properties) == keys
    assert {k for k, p in spec.properties.items() if not p.optional} == {"name", "image"}
    assert [k for k, p in spec.properties.items() if not (p.description or "").strip()] == []
    # the store, the exporter and the rules take the same entries: no second shape of an app
    types = Analyzer(PACKAGE).analyze(COMPONENTS)["type_definitions"]
    assert "WasAppSettings" in types and "SessionStore" not in types
    for component, field in (("RedisSessionStore", "apps"), ("RedisExporter", "apps")):
        hint = inspect.get_annotations(by_name(component).__init__)["args"].__annotations__[field]
        if typing.get_origin(hint) is typing.NotRequired:
            hint = typing.get_args(hint)[0]
        assert typing.get_args(hint) == (WasAppSettings,), component
