"""The Pulumi CLI's own checks, which run before any program and which the mock runtime
skips, restated in tools/pulumi_cli.py from pulumi/pulumi (pkg/workspace/config.go
mergeConfig + validateStackConfigValue; sdk/go/common/workspace/project.go
ValidateProject, (*Project).Validate, ValidateConfigValue), applied to the real
Pulumi.yaml, every Pulumi.<stack>.yaml, and the config the README tells users to set."""
from __future__ import annotations

import hashlib
import json
import re
import shlex
from pathlib import Path

import pytest

from tests.harness import PROJECT, ROOT, run_program
from tools.pulumi_cli import (
    SCHEMA_FILE,
    ConfigValue,
    PulumiCliError,
    coerce,
    config_set,
    config_value,
    create_config_value,
    load_yaml,
    merge_config,
    parse_property_path,
    read_stack_file,
    validate_config_value,
    validate_project,
)
from tools.stackfile import cli_config, read_project

STACK_FILES = sorted(p.name for p in ROOT.glob("Pulumi.*.yaml"))
OLD_PROJECT = ROOT / "tests" / "fixtures" / "pulumi" / "Pulumi.yaml.before-issue-10"


def stack_name(file_name: str) -> str:
    return file_name[len("Pulumi."):-len(".yaml")]


def merged(project: dict, stack_file: Path, extra: dict[str, ConfigValue] | None = None) -> dict[str, ConfigValue]:
    values = read_stack_file(stack_file.read_text(), project["name"])
    values.update(extra or {})
    return merge_config(project, stack_name(stack_file.name), values)


def readme_config_commands() -> list[tuple[str, str, bool]]:
    """(key, value, secret) of every `pulumi config set` the README tells users to run."""
    found = []
    for flag, key, value in re.findall(r"^pulumi config set (--secret )?([A-Za-z]\w*) (\S+)$",
                                       (ROOT / "README.md").read_text(), re.M):
        found.append((key, shlex.split(value)[0], bool(flag)))
    return found


# -------------------------------------------------------------------- project file
def test_the_vendored_project_schema_is_the_clis():
    recorded = (SCHEMA_FILE.parent / "README.md").read_text()
    digest = hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest()
    assert digest in recorded, "tools/project.schema.json changed: record its provenance and sha256"


def test_pulumi_yaml_passes_validate_project():
    validate_project(load_yaml((ROOT / "Pulumi.yaml").read_text()))


@pytest.mark.parametrize("broken,message", [
    ({"config": {"x": {"typ": "string", "default": "a"}}}, "Additional properties are not allowed ('typ' was unexpected)"),
    ({"config": {"x": {"type": "float", "default": 1.5}}}, "'float' is not one of"),
    ({"config": {"x": {"type": "array", "default": []}}}, "does not specify the underlying type via the 'items'"),
    ({"config": {"x": {"type": "integer", "default": "many"}}}, "is not of the expected type 'integer'"),
    ({"config": {"x": {"default": 1, "value": 2}}}, "cannot have both a 'default' and 'value'"),
    ({"config": {"aws:region": {"type": "string", "value": "x"}}}, "is not namespaced by the project"),
    ({"name": ""}, "non-empty string 'name'"),
])
def test_validate_project_refuses_what_the_cli_refuses(broken, message):
    project = {"name": "p", "runtime": "python", **broken}
    with pytest.raises(PulumiCliError, match=re.escape(message)):
        validate_project(project)


# ---------------------------------------------------------------- stacks as shipped
@pytest.mark.parametrize("stack_file", STACK_FILES)
def test_every_stack_passes_the_clis_config_checks(stack_file):
    project = read_project()
    out = merged(project, ROOT / stack_file)
    for key in project["config"]:
        assert f"{PROJECT}:{key}" in out, key


@pytest.mark.parametrize("stack_file", STACK_FILES)
def test_the_readme_slack_setup_passes_the_cli_and_the_program(stack_file):
    commands = readme_config_commands()
    assert {k for k, _, _ in commands} >= {"slackChannel", "slackWebhookUrl"}
    assert ("slackWebhookUrl", True) in {(k, s) for k, _, s in commands}, "the webhook must be set with --secret"
    extra = {f"{PROJECT}:{k}": ConfigValue("v1:cipher", secure=True) if s else ConfigValue(v) for k, v, s in commands}
    merged(read_project(), ROOT / stack_file, extra)
    run = run_program(stack_name(stack_file), {k: v for k, v, s in commands if not s},
                      secret_overrides={k: "https://hooks.slack.com/services/T0/B0/X" for k, _, s in commands if s})
    assert run.error is None, run.error
    assert run.of_type("kubernetes:monitoring.coreos.com/v1alpha1:AlertmanagerConfig")


@pytest.mark.parametrize("stack_file", STACK_FILES)
def test_project_defaults_reach_the_stack_as_plaintext(stack_file):
    project = read_project()
    out = merged(project, ROOT / stack_file)
    on_stack = read_stack_file((ROOT / stack_file).read_text(), PROJECT)
    for key, decl in project["config"].items():
        full = f"{PROJECT}:{key}"
        if full not in on_stack:
            assert out[full] == create_config_value(decl["default"]) and not out[full].secure, key


@pytest.mark.parametrize("stack_file", STACK_FILES)
def test_the_old_pulumi_yaml_stopped_every_stack_before_the_program(stack_file):
    """Issue 10: `secret: true` with a default is applied as plaintext, then refused."""
    old = load_yaml(OLD_PROJECT.read_text())
    validate_project(old)  # the file itself was valid...
    with pytest.raises(PulumiCliError, match=f"Stack '{stack_name(stack_file)}' with configuration key "
                                             "'slackWebhookUrl' must be encrypted as it's secret"):
        merged(old, ROOT / stack_file)  # ...but no stack could run


# ----------------------------------------------------------------- the rules alone
PROJECT_DOC = {"name": "p", "config": {
    "req": {"type": "string"},
    "n": {"type": "integer", "default": 3},
    "b": {"type": "boolean", "default": True},
    "s": {"type": "string", "secret": True, "default": ""},
    "untyped": {"default": "x"},
}}


def test_a_declared_key_without_default_or_value_is_required():
    with pytest.raises(PulumiCliError, match=r"^Stack 'dev' is missing configuration value 'req'$"):
        merge_config({**PROJECT_DOC, "config": {"req": {"type": "string"}}}, "dev", {})
    with pytest.raises(PulumiCliError, match=r"missing configuration values 'a' and 'req'"):
        merge_config({**PROJECT_DOC, "config": {"req": {}, "a": {"type": "integer"}}}, "dev", {})


def test_a_secret_key_needs_a_secure_value_and_a_default_is_plaintext():
    values = {"p:req": ConfigValue("x")}
    with pytest.raises(PulumiCliError, match="'s' must be encrypted as it's secret"):
        merge_config(PROJECT_DOC, "dev", values)
    ok = merge_config(PROJECT_DOC, "dev", {**values, "p:s": ConfigValue("v1:abc", secure=True)})
    assert ok["p:n"] == ConfigValue("3") and ok["p:b"] == ConfigValue("true") and ok["p:untyped"] == ConfigValue("x")


@pytest.mark.parametrize("type_name,value,ok", [
    ("integer", 3, True), ("integer", 3.0, True), ("integer", "3", True), ("integer", "+3", True),
    ("integer", "3.5", False), ("integer", 3.5, False), ("integer", "three", False), ("integer", "", False),
    ("boolean", True, True), ("boolean", "true", True), ("boolean", "false", True), ("boolean", "True", False),
    ("boolean", "yes", False), ("string", "x", True), ("string", 1, False), ("object", {}, True),
    ("object", [], False),
])
def test_value_types_as_the_cli_checks_them(type_name, value, ok):
    assert validate_config_value(type_name, None, value) is ok


def test_arrays_check_each_item_by_items():
    assert validate_config_value("array", {"type": "object"}, [{"a": 1}, {}])
    assert not validate_config_value("array", {"type": "object"}, [{"a": 1}, "x"])
    assert not validate_config_value("array", None, [])


@pytest.mark.parametrize("yaml_text,expected", [
    ("v: no", ConfigValue("no")), ("v: on", ConfigValue("on")), ("v: 23.10", ConfigValue("23.1")),
    ("v: 21000", ConfigValue("21000")), ("v: true", ConfigValue("true")), ("v: '007'", ConfigValue("007")),
    ("v: {secure: v1:abc}", ConfigValue("v1:abc", secure=True)),
    ("v: [{a: 1.0, b: x}]", ConfigValue('[{"a":1,"b":"x"}]', object=True)),
    ("v: {b: 2, a: 1}", ConfigValue('{"a":1,"b":2}', object=True)),
])
def test_stack_file_values_as_config_value_unmarshal_reads_them(yaml_text, expected):
    assert config_value(load_yaml(yaml_text)["v"]) == expected


def test_typed_stack_values_are_checked_against_their_declaration():
    project = {"name": "p", "config": {"n": {"type": "integer", "default": 1}, "b": {"type": "boolean", "default": False},
                                       "l": {"type": "array", "items": {"type": "object"}, "default": []}}}
    merge_config(project, "dev", {"p:n": ConfigValue("21000"), "p:b": ConfigValue("true"),
                                  "p:l": ConfigValue('[{"a":1}]', object=True)})
    for key, value, type_name in (("p:n", ConfigValue("2.5"), "integer"), ("p:b", ConfigValue("yes"), "boolean"),
                                  ("p:l", ConfigValue("[1]", object=True), "array<object>")):
        with pytest.raises(PulumiCliError, match=f"key '{key[2:]}' must be of type '{re.escape(type_name)}'"):
            merge_config(project, "dev", {key: value})


def test_the_offline_reader_stops_where_the_cli_stops():
    with pytest.raises(PulumiCliError, match="'createNamespace' must be of type 'boolean'"):
        cli_config("dev", {"createNamespace": "yes"})
    with pytest.raises(FileNotFoundError, match="Pulumi.staging.yaml"):
        cli_config("staging")


# ------------------------------------------------------- pulumi config set --path
@pytest.mark.parametrize("path,elements", [
    ("wasApps[0].minReplicas", ["wasApps", 0, "minReplicas"]),
    ('outer["a.b"][2].c', ["outer", "a.b", 2, "c"]),
    ('m["q\\"x"]', ["m", 'q"x']),
    ("names[*]", ["names", "*"]),
])
def test_property_paths_parse_as_parsePropertyPath_does(path, elements):
    assert parse_property_path(path) == elements


@pytest.mark.parametrize("path,error", [
    (".a", "expected property path to start with a name or index"),
    ("a.", "expected property path to end with a name or index"),
    ("a.[0]", "expected property name after '.'"),
    ("a[0", "missing closing bracket in array index"),
    ('a["x', "missing closing quote in property name"),
    ("a[x]", "invalid array index"),
])
def test_bad_property_paths_are_refused_with_the_clis_words(path, error):
    with pytest.raises(PulumiCliError, match=re.escape(error)):
        parse_property_path(path)


@pytest.mark.parametrize("text,value", [("3", 3), ("-4", -4), ("true", True), ("false", False), ("007", "007"),
                                        ("1.5", "1.5"), ("True", "True"), ("", "")])
def test_a_path_leaf_is_coerced_like_the_cli(text, value):
    assert coerce(text) == value and type(coerce(text)) is type(value)


def test_config_set_path_edits_one_field_and_keeps_the_rest():
    values = {"p:apps": ConfigValue('[{"image":"i","name":"a"}]', object=True), "p:s": ConfigValue("x")}
    config_set(values, "p", "apps[0].minReplicas", "3", path=True)
    assert json.loads(values["p:apps"].text) == [{"image": "i", "name": "a", "minReplicas": 3}]
    config_set(values, "p", "apps[1].name", "b", path=True)  # index == length appends
    assert json.loads(values["p:apps"].text)[1] == {"name": "b"}
    config_set(values, "p", "fresh[1]", "z", path=True)  # a new list of index+1 items
    assert json.loads(values["p:fresh"].text) == [None, "z"]
    config_set(values, "p", "s.inner", "v", path=True)  # COMPAT: a scalar at the first level is replaced
    assert json.loads(values["p:s"].text) == {"inner": "v"}
    config_set(values, "p", "apps", '[{"name": "c"}]')  # without --path: a string, always
    assert values["p:apps"] == ConfigValue('[{"name": "c"}]')
    with pytest.raises(PulumiCliError, match=re.escape("fresh[5]: array index out of range")):
        config_set(values, "p", "fresh[5]", "x", path=True)
    with pytest.raises(PulumiCliError, match=re.escape("s.inner: expected a map")):
        config_set(values, "p", "s.inner.deeper", "x", path=True)


def test_a_structured_key_held_as_a_string_in_the_stack_file_is_refused_like_the_cli(tmp_path):
    stack = (ROOT / "Pulumi.dev.yaml").read_text()
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.dev.yaml").write_text(
        stack.split("  redis-session-platform:wasApps:")[0]
        + "  redis-session-platform:wasApps: '[{\"name\": \"shop\", \"image\": \"r/shop:1\"}]'\n")
    with pytest.raises(PulumiCliError, match=re.escape("Stack 'dev' with configuration key 'wasApps' must be of "
                                                       "type 'array<object>'")):
        cli_config("dev", root=tmp_path)


def test_render_path_edits_one_field_of_the_stacks_app_and_keeps_its_other_fields():
    from render.__main__ import edited_values

    base = json.loads(read_stack_file((ROOT / "Pulumi.prod.yaml").read_text(), PROJECT)[f"{PROJECT}:wasApps"].text)
    overrides = edited_values("prod", {}, {}, [("wasApps[0].minReplicas", "4"), ("wasApps[0].maxReplicas", "6")])
    assert overrides == {"wasApps": [{**base[0], "minReplicas": 4, "maxReplicas": 6}, *base[1:]]}
    run = run_program("prod", overrides)
    assert run.error is None, run.error
    deployment = next(r for r in run.resources if r.type == "kubernetes:apps/v1:Deployment"
                      and r.plain["metadata"]["name"] == base[0]["name"])
    assert deployment.plain["spec"]["replicas"] == 4
    hpa = next(r for r in run.resources if r.type.endswith(":HorizontalPodAutoscaler"))
    assert (hpa.plain["spec"]["minReplicas"], hpa.plain["spec"]["maxReplicas"]) == (4, 6)
    assert deployment.plain["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] == \
        base[0].get("memoryLimit", "768Mi")  # the stack file's other fields stay


@pytest.mark.parametrize("text,value", [("0440", 288), ("0o440", 288), ("440", 440), ("-0755", -493), ("0", 0),
                                        ("'0440'", "0440")])
def test_a_leading_zero_int_is_octal_as_yaml_v3_reads_it(text, value):
    """A volume's `defaultMode: 0440` (the Kubernetes docs' spelling) is 288, as the CLI reads it."""
    assert load_yaml(f"v: {text}")["v"] == value
