"""Validators of the stack config's values, each restating the rule of the system that consumes
the value ("rules" elsewhere means Prometheus rules).

Every validator is a function `text -> parsed value` that raises ValueError with what is
allowed; `components/config/schema.py` attaches them to fields (with `Validator`), so the same text
serves the error message, the generated Pulumi.yaml descriptions and the README table.

Sources (rules restated, not guessed):
- Kubernetes names and labels: k8s.io/apimachinery pkg/util/validation/validation.go,
  IsDNS1123Label, IsDNS1035Label, IsDNS1123Subdomain, IsValidLabelValue.
- Quantities: k8s.io/apimachinery pkg/api/resource/quantity.go, ParseQuantity
  (`<signedNumber><suffix>`, suffixes Ki Mi Gi Ti Pi Ei | n u m "" k M G T P E | e<n>).
- Image references: github.com/distribution/reference (grammar in regexp.go,
  ParseNormalizedNamed in normalize.go), through the `docker-image-py` package, which
  mirrors them.
- Redis memory units: redis.conf ("1k => 1000 bytes, 1kb => 1024 bytes ... units are
  case insensitive").
- Helm chart versions: Helm requires SemVer 2 (helm.sh/helm/v3 pkg/chart/metadata.go,
  Validate), checked with the `semver` package.
"""
from __future__ import annotations

import json
import math
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import semver
from docker_image import reference
from pydantic import Field, GetCoreSchemaHandler, model_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass
from pydantic_core import core_schema

# ----------------------------------------------------------------- Kubernetes names
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_MAX = 63
SUBDOMAIN_MAX = 253
# Kubernetes reserves the kube- prefix for its own namespaces (kube-system,
# kube-public, kube-node-lease); `default` holds whatever nobody placed.
RESERVED_NAMESPACES = ("default",)
RESERVED_NAMESPACE_PREFIX = "kube-"


def dns1123_label(text: str, max_len: int = LABEL_MAX) -> str:
    if not (0 < len(text) <= max_len and _DNS1123_LABEL.match(text)):
        raise ValueError(f"a DNS-1123 label: a-z, 0-9 and '-', starting and ending with a letter or digit, "
                         f"1-{max_len} characters")
    return text


def dns1035_label(text: str, max_len: int = LABEL_MAX) -> str:
    if not (0 < len(text) <= max_len and _DNS1035_LABEL.match(text)):
        raise ValueError(f"a DNS-1035 label: a-z, 0-9 and '-', starting with a letter, ending with a letter or "
                         f"digit, 1-{max_len} characters")
    return text


def dns1123_subdomain(text: str) -> str:
    if not (0 < len(text) <= SUBDOMAIN_MAX and _DNS1123_SUBDOMAIN.match(text)):
        raise ValueError("a DNS-1123 subdomain: dot-separated DNS-1123 labels, at most 253 characters")
    return text


def namespace(text: str) -> str:
    dns1123_label(text)
    if text in RESERVED_NAMESPACES or text.startswith(RESERVED_NAMESPACE_PREFIX):
        raise ValueError("a DNS-1123 label that is not `default` and does not start with `kube-` "
                         "(reserved for Kubernetes' own components)")
    return text


def is_label_value(text: str) -> bool:
    return len(text) <= LABEL_MAX and bool(_LABEL_VALUE.match(text))


def label_value(text: str) -> str:
    if not text or not is_label_value(text):
        raise ValueError("a Kubernetes label value: 1-63 characters of A-Z, a-z, 0-9, '-', '_' and '.', "
                         "starting and ending with a letter or digit")
    return text


# ----------------------------------------------------------------------- quantities
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {None: 0, "n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def quantity(text: str) -> Decimal:
    """A Kubernetes quantity as an exact number (resource.ParseQuantity's grammar)."""
    m = _QUANTITY.match(text)
    if not m:
        raise ValueError("a Kubernetes quantity, e.g. 256Mi, 1Gi, 500m")
    number, suffix = Decimal(m.group(1)), m.group(2)
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix and suffix[0] in "eE":
        exponent = int(suffix[1:])
        if abs(exponent) > 100:  # far beyond any bound; keeps Decimal arithmetic small
            raise ValueError("a Kubernetes quantity, e.g. 256Mi, 1Gi, 500m")
        return number.scaleb(exponent)
    return number.scaleb(_DECIMAL[suffix])


BYTES_MAX = 2**50  # 1Pi: no container or volume of ours is larger
MILLICORES_MAX = 1024 * 1000  # 1024 cores


def _bytes_quantity(text: str, what: str) -> int:
    try:
        value = quantity(text)
    except ValueError:
        value = None
    if value is None or value != value.to_integral_value() or not 0 < value <= BYTES_MAX:
        raise ValueError(f"{what}: a whole number of bytes, 1 to 1Pi, as a Kubernetes quantity, e.g. 256Mi or 1Gi")
    return int(value)


def memory_bytes(text: str) -> int:
    return _bytes_quantity(text, "a memory size")


def storage_bytes(text: str) -> int:
    return _bytes_quantity(text, "a storage size")


def cpu_millis(text: str) -> int:
    """CPU quantity -> millicores; Kubernetes rounds below 1m up, so refuse it."""
    try:
        value = quantity(text)
    except ValueError:
        value = None
    if value is None or not 0 < value * 1000 <= MILLICORES_MAX or (value * 1000) != (value * 1000).to_integral_value():
        raise ValueError("a CPU quantity in whole millicores, 1m to 1024, e.g. 250m, 1 or 1.5")
    return int(value * 1000)


def mib(n_bytes: int) -> str:
    """Bytes as a short MiB text for messages."""
    return f"{n_bytes / 2**20:g}Mi"


# ------------------------------------------------------------------------ Redis units
_REDIS_MEMORY = re.compile(r"^(\d{1,12})(kb|mb|gb)$", re.I)
_REDIS_FACTORS = {"kb": 2**10, "mb": 2**20, "gb": 2**30}


def redis_memory(text: str) -> int:
    """Redis `<n>kb|mb|gb` (1024-based) -> bytes."""
    m = _REDIS_MEMORY.match(text)
    if not m or int(m.group(1)) == 0:
        raise ValueError("a positive Redis size <n>kb|mb|gb (1024-based), e.g. 192mb")
    return int(m.group(1)) * _REDIS_FACTORS[m.group(2).lower()]


# -------------------------------------------------------------------------- durations
_DURATION = re.compile(r"^(\d{1,7})(s|m|h)$")
_DURATION_FACTORS = {"s": 1, "m": 60, "h": 3600}


def duration_seconds(text: str) -> int:
    m = _DURATION.match(text)
    if not m:
        raise ValueError("a duration <n>s|m|h, e.g. 30m")
    return int(m.group(1)) * _DURATION_FACTORS[m.group(2)]


# --------------------------------------------------------------------------- images
@dataclass(frozen=True)
class ImageRef:
    """A parsed, normalised image reference."""

    domain: str
    """Registry host[:port], e.g. docker.io."""
    path: str
    """Repository path, e.g. bitnamilegacy/redis."""
    tag: str | None
    """Tag; None when only a digest pins the image."""
    digest: str | None
    """`sha256:...` or None."""

    def __str__(self) -> str:
        return f"{self.domain}/{self.path}" + (f":{self.tag}" if self.tag else "") + \
            (f"@{self.digest}" if self.digest else "")


_UNPINNED = "pin a version tag (not `latest`) or a digest, e.g. repo/app:1.2.3"


def image(text: str) -> ImageRef:
    """An image reference by the distribution grammar, pinned by a tag (not latest) or a digest."""
    try:
        ref = reference.Reference.parse_normalized_named(text)
    except reference.InvalidReference as exc:
        raise ValueError(f"an image reference (distribution grammar: lower-case repository, tag of "
                         f"[A-Za-z0-9_.-]): {exc}") from None
    parsed = ImageRef(ref.repository["domain"], ref.repository["path"], ref.get("tag"), ref.get("digest"))
    if not parsed.tag and not parsed.digest:
        raise ValueError(f"an image reference with a pinned tag: {_UNPINNED}")
    if parsed.tag == "latest":
        raise ValueError(f"image tag `latest` is not allowed: {_UNPINNED}")
    return parsed


def registry(text: str) -> str:
    """A registry host[:port] as the reference grammar's domain."""
    if not reference.ImageRegexps.ANCHORED_DOMAIN_REGEXP.match(text) or text.lower() != text:
        raise ValueError("a registry host[:port], e.g. docker.io or registry.example.com:5000")
    return text


def repository_path(text: str) -> str:
    """A repository path (no registry, no tag) by the reference grammar."""
    if not reference.ImageRegexps.REMOTE_NAME_REGEXP.fullmatch(text) or len(text) > reference.NAME_TOTAL_LENGTH_MAX:
        raise ValueError("a repository path: lower-case components of a-z, 0-9 and separators . _ __ -, "
                         "joined by '/', e.g. bitnamilegacy/redis")
    return text


def image_tag(text: str) -> str:
    if not reference.ImageRegexps.ANCHORED_TAG_REGEXP.match(text):
        raise ValueError("an image tag: 1-128 characters of A-Z, a-z, 0-9, '_', '.', '-', not starting with '.' or '-'")
    if text == "latest":
        raise ValueError(f"image tag `latest` is not allowed: {_UNPINNED}")
    return text


def image_digest(text: str) -> str:
    """Empty, or a content digest by the reference grammar (`sha256:` and 64 hex digits)."""
    if text and not (re.fullmatch(r"sha256:[0-9a-f]{64}", text)
                     and reference.ImageRegexps.ANCHORED_DIGEST_REGEXP.match(text)):
        raise ValueError("empty, or an image digest sha256:<64 lower-case hex digits> (pins the image's bytes; "
                         "the tag still names the Redis release)")
    return text


def oci_chart(text: str) -> str:
    """An OCI chart reference without a tag (the version is its own key)."""
    scheme, _, rest = text.partition("://")
    domain, _, path = rest.partition("/")
    ok = (scheme == "oci" and reference.ImageRegexps.ANCHORED_DOMAIN_REGEXP.match(domain)
          and reference.ImageRegexps.REMOTE_NAME_REGEXP.fullmatch(path or "-"))
    if not ok:
        raise ValueError("an OCI chart reference oci://<registry>/<path> without a tag, "
                         "e.g. oci://registry-1.docker.io/bitnamicharts/redis")
    return text


def chart_version(text: str) -> str:
    """An exact SemVer 2 version (Helm needs SemVer; a range would float)."""
    if not semver.Version.is_valid(text):
        raise ValueError("an exact SemVer version such as 23.1.1 (no range, no leading v)")
    return text


# ----------------------------------------------------------------------------- URLs
# RFC 3986 section 2: the only characters a URI may hold (others percent-encoded).
_URI_CHARS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+$")


def url(text: str, schemes: tuple[str, ...] = ("http", "https"), fragment: bool = False) -> str:
    if text and text != text.strip():  # said on its own: a secret's value is never shown
        where = " and ".join(w for w, bad in (("leading", text != text.lstrip()), ("trailing", text != text.rstrip()))
                             if bad)
        raise ValueError(f"the URL has {where} whitespace (a space or newline pasted with it): remove it; "
                         f"allowed: an absolute {' or '.join(schemes)} URL of RFC 3986 characters")
    parts = urllib.parse.urlsplit(text) if _URI_CHARS.match(text) else None
    ok = parts is not None and parts.scheme in schemes and parts.hostname and (fragment or not parts.fragment)
    if not ok:
        raise ValueError(f"an absolute {' or '.join(schemes)} URL of RFC 3986 characters"
                         + ("" if fragment else ", without a #fragment"))
    return text


def https_url(text: str) -> str:
    return url(text, ("https",))


# --------------------------------------------------------------------------- numbers
def finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("a finite number")
    return value


# ------------------------------------------------------------------------- plumbing
class FieldError(ValueError):
    """A rule broken by a field's value, found while looking at more than that field."""

    def __init__(self, field: str | int, value: Any, allowed: str):
        super().__init__(allowed)
        self.field, self.value = field, value


class Validator:
    """A field rule for `Annotated[str, Validator(check)]` (or a field's metadata: `ruled`):
    pydantic runs `check` after the type check and keeps the text (with `normalize`, the
    check's result as text); `allowed` (default: the check's own message) is what errors, the
    generated Pulumi.yaml and the README say the field allows. None (an unset optional field)
    is not checked."""

    def __init__(self, check: Callable[[str], Any], allowed: str | None = None, secret: bool = False,
                 normalize: bool = False):
        self.check, self.secret, self.normalize = check, secret, normalize
        self.allowed = allowed or allowed_of(check)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        def validate(value: Any) -> Any:
            if value is None:
                return value
            result = self.check(value.get_secret_value() if self.secret else value)
            return str(result) if self.normalize else value
        return core_schema.no_info_after_validator_function(validate, handler(source))

    def __repr__(self) -> str:
        return f"Validator({self.allowed!r})"


def allowed_of(check: Callable, sample: str = "\0") -> str:
    """The allowed text a rule reports (by running it on an impossible value)."""
    try:
        check(sample)
    except (ValueError, InvalidOperation) as exc:
        return str(exc)
    raise AssertionError(f"{check.__name__} accepted {sample!r}")


def ruled(default: Any = ..., *rules: Any, **field: Any) -> Any:
    """A pydantic `Field(default, **field)` that also applies `rules` (Validator, Shaped, or
    pydantic's Before/AfterValidator) to its value: the config models that are also component
    inputs (components/config/app.py) keep their annotations plain for Pulumi's component
    analyzer, which takes no `Annotated`. `default` may be `...` (required)."""
    info = Field(**field) if "default_factory" in field else Field(default, **field)
    info.metadata.extend(rules)
    return info


class Each:
    """Field metadata (`ruled`) applying `rule` (a Validator) to every item of a list field; an
    item it refuses is reported at its index (`redisImageAcceptedCves[1]`)."""

    def __init__(self, rule: Validator):
        self.rule = rule

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        def validate(value: Any) -> Any:
            if value is None:
                return value
            for i, item in enumerate(value):
                try:
                    self.rule.check(item)
                except (ValueError, InvalidOperation) as exc:
                    raise FieldError(i, item, str(exc)) from None
            return tuple(value)
        return core_schema.no_info_after_validator_function(validate, handler(source))


def refuse_nulls(model: Any, data: Any) -> Any:
    """A config model's `mode="before"` rule: null given for a field with a default (annotated
    Optional only so that Pulumi's analyzer makes it optional: components/config/app.py
    `Defaulted`) is refused, naming the key and its default."""
    if isinstance(data, dict):
        for name, field in model.__pydantic_fields__.items():
            key = field.alias or name
            if field.default is not None and not field.is_required() and data.get(key, data.get(name, 0)) is None:
                default = field.get_default(call_default_factory=True)
                shown = json.dumps(list(default) if isinstance(default, tuple) else default, default=str)
                raise FieldError(key, None, f"a value: leave the field out for its default {shown}")
    return data


@pydantic_dataclass(frozen=True)
class ConfigModel:
    """Base of the config models that are also component inputs (components/config/app.py,
    store.py): an explicit null for a field with a default is refused (`refuse_nulls`)."""

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        return refuse_nulls(cls, data)
