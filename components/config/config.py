"""Parse the stack config once, at the edge, into typed frozen objects.

Input is what the Pulumi CLI hands a program: `<project>:<key>` -> string (structured
values as JSON), plus the set of keys that are secrets. Values are typed by their
declaration in components/config/schema.py, never guessed from their text: `23.10` stays a
string for a string key, `no` is not a boolean.

Every bad value raises ConfigError, a `pulumi.RunError` (the CLI prints its message
without a stack trace): one line naming the key, the bad value and what is allowed.
Secret values are never echoed.
"""
from __future__ import annotations

import collections.abc
import difflib
import enum
import json
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

import pulumi
from pydantic import SecretStr, ValidationError

from . import boot, names, sizing
from .app import SINGLE_APP_DATABASE
from .schema import (
    FLAT,
    GROUPS,
    FieldError,
    StackConfig,
    StackSettings,
    WasAppSettings,
    alias,
    fields_of,
    is_model,
    pulumi_declared,
    stack_config,
)
from .store import RedisSettings
from .validators import Validator
from .workload import Shaped

SECRET_SHOWN = "<secret>"
MAX_SHOWN = 120


class ConfigError(pulumi.RunError):
    """A bad stack config value; the message is one line naming the key."""

    def __init__(self, key: str, value: Any, allowed: str):
        super().__init__(f"stack config {key}={_shown(value)} is invalid: {' '.join(str(allowed).split())}")
        self.key = key


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True, sort_keys=True, default=str)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


# ------------------------------------------------------------------ declared types
def field_base(model: type, name: str) -> tuple[Any, list[Any]]:
    """A field's base type, Optional and Annotated stripped, and all its metadata."""
    field = fields_of(model)[name]
    annotation, metadata = field.annotation, list(field.metadata)
    while True:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        elif origin is typing.Annotated:
            args = typing.get_args(annotation)
            annotation = args[0]
            for meta in args[1:]:
                metadata += list(getattr(meta, "metadata", None) or [meta])
        else:
            return annotation, metadata


def pulumi_type(model: type, name: str) -> str:
    """The Pulumi config type of a field: string, integer, boolean, array or object."""
    annotation, _ = field_base(model, name)
    origin = typing.get_origin(annotation)
    if origin in (tuple, list, collections.abc.Sequence):
        return "array"
    if origin is typing.Literal:
        return "integer" if all(isinstance(a, int) for a in typing.get_args(annotation)) else "string"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "integer" if issubclass(annotation, int) else "string"
    if is_model(annotation) or origin in (dict, collections.abc.Mapping):
        return "object"
    return {str: "string", SecretStr: "string", int: "integer", bool: "boolean", float: "number"}[annotation]


def _typed(key: str, text: str) -> Any:
    """A config string as the value its declaration says (the CLI's own type rules,
    sdk/go/common/workspace/project.go ValidateConfigValue, plus strict decimal ints)."""
    kind = pulumi_type(*FLAT[key])
    if kind == "string":
        return text
    if kind == "integer":
        stripped = text.strip()
        if not stripped.lstrip("+-").isdigit():
            raise ConfigError(key, text, "an integer")
        return int(stripped)
    if kind == "boolean":
        if text not in ("true", "false"):
            raise ConfigError(key, text, "true or false")
        return text == "true"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(key, text, f"structured config (a YAML {'list' if kind == 'array' else 'map'} in the "
                          f"stack file, or JSON): {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    return tuple(value) if kind == "array" and isinstance(value, list) else value


# ------------------------------------------------------------------------- errors
def _key_path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def submodel(model: type, name: str) -> type | None:
    """The model a field holds (itself, or in a list, or optional, or the Kubernetes shape a
    workload.Shaped field is validated as), else None."""
    def find(annotation: Any) -> type | None:
        if is_model(annotation):
            return annotation
        if typing.get_origin(annotation) in (dict, collections.abc.Mapping):
            return None
        for arg in typing.get_args(annotation):
            found = find(arg)
            if found:
                return found
        return None
    field = fields_of(model)[name]
    shaped = next((m for m in field.metadata if isinstance(m, Shaped)), None)
    return shaped.model if shaped else find(field.annotation)


SUBMODELS: dict[str, type] = {n: m for n in StackConfig.model_fields if (m := submodel(StackConfig, n))}


def _ungrouped(loc: tuple) -> tuple:
    """A location with the group fields left out (`redis`, `sentinel`): config keys are flat."""
    out = list(loc)
    for _, group in GROUPS:
        if len(out) > 1 and out[0] == group:
            out.pop(0)
    return tuple(out)


def _model_at(loc: tuple) -> type | None:
    """The model class whose field the last element of `loc` names."""
    model: type | None = StackConfig
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        attr = next((n for n in fields_of(model) if alias(model, n) == part), None)
        model = submodel(model, attr) if attr else None
    return model


def allowed_text(model: type, name: str) -> str:
    """What a field allows, from its declaration: its rule's text, its literals, its bounds."""
    annotation, metadata = field_base(model, name)
    rule = next((m for m in metadata if isinstance(m, Validator)), None)
    if rule:
        return rule.allowed
    if typing.get_origin(annotation) is typing.Literal:
        return "one of: " + ", ".join(str(a) for a in typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of: " + ", ".join(str(m.value) for m in annotation)
    bound = {k: getattr(m, k) for m in metadata for k in ("ge", "gt", "le", "lt") if getattr(m, k, None) is not None}
    kind = pulumi_type(model, name)
    noun = {"integer": "an integer", "number": "a finite number", "boolean": "true or false",
            "array": "a list", "object": "a map", "string": "a string"}[kind]
    if "ge" in bound and "le" in bound:
        return f"{noun} {_num(bound['ge'])}..{_num(bound['le'])}"
    parts = [f"{word} {_num(bound[k])}" for k, word in
             (("ge", "at least"), ("gt", "above"), ("le", "at most"), ("lt", "below")) if k in bound]
    return f"{noun}, {' and '.join(parts)}" if parts else noun


def _num(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _from_validation_error(exc: ValidationError, secret_keys: set[str]) -> ConfigError:
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    value = err.get("input")
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, FieldError):
        loc, value, allowed = loc + (cause.field,), cause.value, str(cause)
    elif err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):  # a BaseModel's, a dataclass's
        model = _model_at(loc)
        known = [alias(model, n) for n in fields_of(model)] if model else []
        near = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        allowed = (f"unknown field; did you mean {near[0]}? " if near else "unknown field; ") + \
            "allowed: " + ", ".join(known)
    elif isinstance(cause, ValueError):
        allowed = str(cause)
    else:
        model = _model_at(loc)
        attr = next((n for n in fields_of(model) if alias(model, n) == loc[-1]), None) if model else None
        allowed = allowed_text(model, attr) if model and attr else err["msg"]
        if err["type"] in ("model_type", "dataclass_type", "dict_type"):  # a list item or a field that must be a map
            field_loc = loc[:-1] if loc and isinstance(loc[-1], int) else loc
            parent = _model_at(field_loc)
            name = next((n for n in fields_of(parent) if alias(parent, n) == field_loc[-1]), None) if parent else None
            sub = submodel(parent, name) if parent and name else None
            if sub:
                allowed = "a map with the fields " + ", ".join(alias(sub, n) for n in fields_of(sub))
        elif err["type"] == "missing":
            allowed = f"required: {allowed}"
        if err["type"] in ("too_short", "too_long") and loc == ("wasApps",):
            allowed = "1..15 WAS apps (a list of maps with at least name and image)"
    loc = _ungrouped(loc)
    key = _key_path(loc)
    if loc and loc[0] in secret_keys:
        value = SECRET_SHOWN
    return ConfigError(key, value, allowed)


# ------------------------------------------------------------------------- parse
def parse_config(raw: Mapping[str, str], project: str, secret_keys: Iterable[str] = ()) -> StackConfig:
    """The project's `<project>:<key>` strings -> StackConfig (ConfigError when bad)."""
    secrets = {k.partition(":")[2] for k in secret_keys if k.startswith(project + ":")}
    values: dict[str, Any] = {}
    for full_key in sorted(raw):
        namespace, _, key = full_key.partition(":")
        if namespace != project:
            continue  # other packages' config, e.g. kubernetes:context
        if key not in FLAT:
            near = difflib.get_close_matches(key, list(FLAT), n=1, cutoff=0.6)
            hint = f"did you mean {near[0]}? " if near else ""
            raise ConfigError(key, SECRET_SHOWN if key in secrets else raw[full_key],
                              f"unknown key in the {project} namespace; {hint}see README, Config reference")
        if key in secrets and pulumi_declared(key):
            pass  # a declared key may be encrypted; the program treats its value alike
        values[key] = _typed(key, raw[full_key])
    webhook = alias(StackConfig, "slack_webhook_url")
    if webhook in values and webhook not in secrets:
        raise ConfigError(webhook, SECRET_SHOWN, f"must be a secret: pulumi config set --secret {webhook} https://...")
    try:
        return stack_config(values)
    except ValidationError as exc:
        raise _from_validation_error(exc, secrets) from None
    except FieldError as exc:  # raised outside pydantic's wrapping (defensive)
        raise ConfigError(str(exc.field), exc.value, str(exc)) from None


def to_settings(cfg: StackConfig, project: str, stack: str) -> StackSettings:
    """The validated config, checked across its parts (apps against each other and against Redis),
    with the project and stack it is deployed as."""
    apps = cfg.was_apps
    _check_apps(apps, cfg.redis.release_name)
    _check_tls(cfg, apps)
    _check_sizing(cfg, apps, cfg.redis)
    _check_names(cfg, apps)
    # validated already: the same values, with where they are deployed
    return StackSettings.model_construct(**dict(cfg), project=project, stack=stack)


def _check_apps(raw: tuple[WasAppSettings, ...], release_name: str = "redis") -> None:
    """The apps checked against each other: names, databases, key namespaces."""
    seen_db: dict[int, str] = {}
    client_label = names.redis_client_label(release_name)[0]
    for i, a in enumerate(raw):
        at = f"wasApps[{i}]"
        if client_label in a.labels:
            raise ConfigError(f"{at}.labels.{client_label}", a.labels[client_label],
                              "a key other than the Redis client label: the program sets it (the Redis "
                              "NetworkPolicy admits pods by it)")
        if any(b.name == a.name for b in raw[:i]):
            raise ConfigError(f"{at}.name", a.name, "unique among wasApps")
        _database_given(raw, i)
        database = a.database
        if database in seen_db:
            raise ConfigError(f"{at}.sessionDatabase", database,
                              f"a database no other app uses ({seen_db[database]} has {database}): one database "
                              "per app keeps the session count exact")
        seen_db[database] = a.name
        namespace = a.key_namespace
        for b in raw[:i]:  # ACL key patterns are `<namespace>:*`: no namespace may sit inside another
            if namespace == b.key_namespace or namespace.startswith(b.key_namespace + ":") \
                    or b.key_namespace.startswith(namespace + ":"):
                raise ConfigError(f"{at}.sessionNamespace", namespace,
                                  f"a namespace that neither contains nor is contained in {b.name}'s "
                                  f"{b.key_namespace!r}: each app's Redis user is confined to <namespace>:*")


def _database_given(raw: tuple[WasAppSettings, ...], i: int) -> None:
    """An app's database never depends on its place in the list (adding, removing or
    reordering apps would move its sessions and log its users out): `sessionDatabase`, or
    SINGLE_APP_DATABASE for the only app (WasAppSettings.database); with two or more apps
    every app sets it."""
    if raw[i].session_database is not None or len(raw) == 1:
        return
    taken = sorted({b.session_database for b in raw if b.session_database is not None})
    raise ConfigError(f"wasApps[{i}].sessionDatabase", None,
                      "required (0..15, one per app) when wasApps lists more than one app, so that adding, "
                      "removing or reordering apps never moves an app's sessions; an app deployed before with "
                      f"it unset keeps its sessions with the database it had: {SINGLE_APP_DATABASE} if it was the "
                      f"only app, else its position + 1 (here {i + 1})" + (f"; taken: {taken}" if taken else ""))


def _check_tls(cfg: StackConfig, apps: tuple[WasAppSettings, ...]) -> None:
    """A Boot line without SSL bundles cannot trust a private CA or present a client certificate by
    properties (Boot 2.7's spring.redis.ssl only switches TLS on, with the JVM's default trust store)."""
    for i, app in enumerate(apps):
        if cfg.redis.tls and app.boot.ssl_bundle_since is None:
            raise ConfigError(f"wasApps[{i}].springBootMajor", app.boot.major,
                              f"{boot.releases(lambda r: r.ssl_bundle_since)} when redisTls=true: Spring Boot "
                              f"{app.boot.major} has no property for a private CA or a client certificate (no SSL "
                              f"bundle: {app.boot.redis_properties}.ssl uses the JVM trust store); or set redisTls=false")


def _check_sizing(cfg: StackConfig, apps: tuple[WasAppSettings, ...], redis: RedisSettings) -> None:
    worst = "indexed" if any(a.repository == "indexed" for a in apps) else "default"
    need = sizing.required_maxmemory(cfg.expected_peak_sessions, cfg.session_payload_bytes, worst)
    if redis.maxmemory_bytes < need:
        raise ConfigError("redisMaxmemory", cfg.redis.maxmemory,
                          f"cannot hold expectedPeakSessions={cfg.expected_peak_sessions} of sessionPayloadBytes="
                          f"{cfg.session_payload_bytes} ({worst} repository) with "
                          f"{int((sizing.SESSION_HEADROOM - 1) * 100)}% headroom: needs >= {-(-need // 2**20)}mb")


def _check_names(cfg: StackConfig, apps: tuple[WasAppSettings, ...]) -> None:
    """No two objects of one kind share a name: WAS apps against the chart's and the
    exporter's objects (names.planned_objects derives them as the components do)."""
    owners = names.planned_objects(cfg.redis.release_name, cfg.redis.topology)
    for i, app in enumerate(apps):
        for kind in names.WAS_KINDS:
            if (kind, app.name) in owners:
                owner = owners[(kind, app.name)]
                raise ConfigError(f"wasApps[{i}].name", app.name,
                                  f"a name no other object uses: the {owner} already has {kind} {app.name!r} "
                                  f"(redisReleaseName={cfg.redis.release_name})")
            owners[(kind, app.name)] = f"WAS app {app.name}"


def parse(raw: Mapping[str, str], project: str, stack: str, secret_keys: Iterable[str] = ()) -> StackSettings:
    """Raw config -> StackSettings; ConfigError on any bad value."""
    return to_settings(parse_config(raw, project, secret_keys), project, stack)


def load() -> StackSettings:
    """The current stack's settings (called once, by __main__.py). Reads the whole config
    the language host hands the program (PULUMI_CONFIG, PULUMI_CONFIG_SECRET_KEYS), so that
    unknown keys are seen too."""
    raw = {k: str(v) for k, v in pulumi.runtime.get_config_env().items()}
    secret_keys = pulumi.runtime.get_config_secret_keys_env()
    return parse(raw, pulumi.get_project(), pulumi.get_stack(), secret_keys)
