"""The Spring Boot lines a WAS app may run: one row per line (config `wasApps[].springBootMajor`).

Everything the program does differently per Boot line reads the app's row: the allowed values of
springBootMajor (schema.py), the repository default and choice, which expiration stores and
whether redisTls are allowed (schema.py, config.py), the env var names and configtree file names
of the Spring properties (components/was.py), the env names reserved from users (workload.py) and
the generated docs (Pulumi.yaml, README). Supporting a new line is one row here (plus the tests'
own expectations of it: tests/components/test_was.py; tests/test_boot.py fails on a version
comparison anywhere else in the product).

Sources (spring-projects/spring-boot and spring-projects/spring-session at the tags named;
docs/research/boot-micrometer-exporter.md section 2 and docs/research/spring-session.md quote them).
The simulators (simulators/spring_session.py) keep their own knowledge of Spring's code paths.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class BootLine:
    """One Spring Boot line (a major version) and what its auto-configuration offers."""

    major: int
    """The value of wasApps[].springBootMajor."""
    redis_properties: str
    """Prefix of Spring Data Redis' connection properties (host, port, username, password, database,
    sentinel.*, ssl.*): RedisProperties `@ConfigurationProperties` `spring.redis` (v2.7.18),
    `spring.data.redis` (v3.0.13; v4.0.8 DataRedisProperties)."""
    session_properties: str
    """Prefix of Spring Session's Redis properties (namespace, flush-mode, repository-type,
    configure-action): RedisSessionProperties `spring.session.redis` (v2.7.18, v3.x);
    SessionDataRedisProperties `spring.session.data.redis` (v4.0.8, module spring-boot-session-data-redis)."""
    store_type_property: str | None
    """The property that must name the store, or None: Boot 2.7 SessionProperties.storeType
    (`spring.session.store-type`; with `redis` and no Redis repository the start fails: SessionAutoConfiguration
    "No session repository could be auto-configured", v2.7.18); removed in Boot 3.0."""
    repositories: tuple[str, ...]
    """The Spring Session repositories Boot auto-configures, its default first. v2.7.18:
    RedisSessionConfiguration.SpringBootRedisHttpSessionConfiguration extends RedisHttpSessionConfiguration
    (RedisIndexedSessionRepository only, no property to choose); v3.0.13+: RedisSessionProperties.repositoryType
    `default` (matchIfMissing: RedisSessionRepository) or `indexed` (RedisSessionConfiguration)."""
    sorted_set_since: str | None
    """First Boot release of the line whose Spring Session has SortedSetRedisSessionExpirationStore (the
    `sorted-set` sessionExpirationStore; class added in spring-session 3.4.0, Boot 3.4 manages 3.4.x); None: no
    release of the line has it."""
    ssl_bundle_since: str | None
    """First Boot release of the line with SSL bundles for Redis (`<redis_properties>.ssl.bundle`,
    `spring.ssl.bundle.pem.*`: RedisProperties.Ssl, v3.1.0; v4.0.8 DataRedisProperties.Ssl), i.e. a private CA
    and a client certificate by properties (redisTls). None: the line has only a boolean `ssl` with the JVM
    trust store (v2.7.18 `spring.redis.ssl`, LettuceConnectionConfiguration `builder.useSsl()`)."""
    health_group_validation_since: str | None
    """First Boot release of the line that validates health group membership at start
    (HealthEndpointConfiguration.HealthEndpointGroupMembershipValidator, v3.1.0; v4.0.8 module
    spring-boot-health), so an image without Spring Data Redis stops at start (components/was.py
    fail_fast_env). None: the line ignores the setting (v2.7.18)."""

    @property
    def chooses_repository(self) -> bool:
        """Whether the line has a repository-type property (`<session_properties>.repository-type`): exactly
        when it auto-configures more than one repository."""
        return len(self.repositories) > 1

    @property
    def default_repository(self) -> str:
        """The repository the line runs when repositoryType is unset."""
        return self.repositories[0]


LINES: tuple[BootLine, ...] = (
    BootLine(major=2, redis_properties="spring.redis", session_properties="spring.session.redis",
             store_type_property="spring.session.store-type", repositories=("indexed",),
             sorted_set_since=None, ssl_bundle_since=None, health_group_validation_since=None),
    BootLine(major=3, redis_properties="spring.data.redis", session_properties="spring.session.redis",
             store_type_property=None, repositories=("default", "indexed"),
             sorted_set_since="3.4", ssl_bundle_since="3.1", health_group_validation_since="3.1"),
    BootLine(major=4, redis_properties="spring.data.redis", session_properties="spring.session.data.redis",
             store_type_property=None, repositories=("default", "indexed"),
             sorted_set_since="4.0", ssl_bundle_since="4.0", health_group_validation_since="4.0"),
)
"""Every supported Boot line, oldest first."""

MAJORS = tuple(r.major for r in LINES)
"""The allowed values of wasApps[].springBootMajor."""


def line(major: int) -> BootLine:
    """The row of a Boot major (config refused any other value)."""
    return next(r for r in LINES if r.major == major)


def env_name(prop: str) -> str:
    """A Spring property's environment variable name: `.` and `-` -> `_`, upper case (the form
    SystemEnvironmentPropertyMapper.convertLegacyName maps back, v2.7.18 and later)."""
    return prop.upper().replace(".", "_").replace("-", "_")


def releases(since: Callable[[BootLine], str | None]) -> str:
    """The lines that have a feature, as text: `3 (3.1+) or 4` (a line from its first release: its major only)."""
    parts = [str(r.major) if s == f"{r.major}.0" else f"{r.major} ({s}+)" for r in LINES if (s := since(r))]
    return ", ".join(parts[:-1]) + " or " + parts[-1] if len(parts) > 1 else "".join(parts)


def describe() -> str:
    """The springBootMajor description (Pulumi.yaml, README): what each line's row decides."""
    def since(what: str, release: str | None, r: BootLine) -> str:
        return f"no {what}" if release is None else what if release == f"{r.major}.0" else f"{what} from {release}"

    def one(r: BootLine) -> str:
        props = [f"{r.redis_properties}.*", f"{r.session_properties}.*"] + \
            ([r.store_type_property] if r.store_type_property else [])
        repos = f"{r.default_repository} (unset) or " + " or ".join(r.repositories[1:]) if r.chooses_repository \
            else r.default_repository
        return (f"{r.major} ({', '.join(props)}): repositoryType {repos}; "
                + "; ".join([since("sessionExpirationStore sorted-set", r.sorted_set_since, r),
                             since("redisTls", r.ssl_bundle_since, r),
                             since("health-group validation", r.health_group_validation_since, r)]))
    return ("Spring Boot major version of the image; decides the property names "
            "(components/config/boot.py, one row per line). " + ". ".join(one(r) for r in LINES) + ".")
