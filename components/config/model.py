"""Values derived from the config models (components/config/app.py, store.py: an image split for
the chart, container resources) and `settings_of`, which takes a config model as built in-process
or as the dict a component provider passes. Defaults and bounds live only in the config models;
this module imports none of them, so they import it."""
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import TypeAdapter

T = TypeVar("T")


@dataclass(frozen=True)
class Image:
    """A container image split the way Helm charts want it."""

    registry: str
    """Registry host, e.g. docker.io."""
    repository: str
    """Repository path, e.g. bitnamilegacy/redis."""
    tag: str
    """Pinned tag; never empty, never `latest`. Names the release (the known-CVE floor reads it)."""
    digest: str = ""
    """`sha256:...` pinning the bytes, or empty (pulled by tag)."""

    @property
    def ref(self) -> str:
        """registry/repository:tag[@digest]"""
        return f"{self.registry}/{self.repository}:{self.tag}" + (f"@{self.digest}" if self.digest else "")

    def chart_values(self) -> dict[str, str]:
        """The Bitnami chart's image block (common.images.image pulls by digest when one is set)."""
        values = {"registry": self.registry, "repository": self.repository, "tag": self.tag}
        return values | ({"digest": self.digest} if self.digest else {})


@dataclass(frozen=True)
class Resources:
    """Container requests and limits (Kubernetes quantities)."""

    cpu_request: str
    """CPU request, e.g. 100m."""
    cpu_limit: str
    """CPU limit."""
    memory_request: str
    """Memory request, e.g. 256Mi."""
    memory_limit: str
    """Memory limit; the OOM killer's line."""

    def to_k8s(self) -> dict:
        """The `resources` block of a container spec."""
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


def settings_of(kind: type[T], value: T | Mapping[str, Any]) -> T:
    """`value` as a `kind` (a config model a component takes, e.g. WasAppSettings, or one that nests them): itself, or
    built and type-checked from the dict a component provider passes (pydantic's TypeAdapter, lax)."""
    return value if isinstance(value, kind) else TypeAdapter(kind).validate_python(value)
