"""Where each WAS app's Spring Sessions live in Redis (its logical DB, key namespace,
repository type and expiration store): the one view of an app that the ACL rules (acl.py),
the session count (components/monitoring/session_count.py) and the exporter read."""
from collections.abc import Iterable
from dataclasses import dataclass

from . import names
from .app import WasAppSettings

REPOSITORY_TYPES = ("default", "indexed")
EXPIRATION_STORES = ("minute", "sorted-set")
DEFAULT_NAMESPACE = "spring:session"
"""Spring's `RedisIndexedSessionRepository.DEFAULT_NAMESPACE`."""


@dataclass(frozen=True)
class SessionStore:
    """Where one app's sessions live."""

    app: str
    """WAS app name (label `app` of the recorded series)."""
    database: int
    """Dedicated Redis logical DB (`spring.data.redis.database`); nothing else writes there."""
    namespace: str
    """Spring Session key namespace (`spring.session.redis.namespace`), e.g. spring:session:petclinic."""
    repository_type: str
    """`default` (one hash per session) or `indexed` (hash + expires key + expiry index + principal index)."""
    timeout_seconds: int
    """Session idle timeout."""
    expiration_store: str = "minute"
    """Indexed repository: `minute` (Spring's default per-minute sets) or `sorted-set`
    (`SortedSetRedisSessionExpirationStore`, 3.4+). Ignored for the default repository."""

    def __post_init__(self) -> None:
        if self.repository_type not in REPOSITORY_TYPES:
            raise ValueError(f"{self.app}: repository_type {self.repository_type!r} not in {REPOSITORY_TYPES}")
        if self.expiration_store not in EXPIRATION_STORES:
            raise ValueError(f"{self.app}: expiration_store {self.expiration_store!r} not in {EXPIRATION_STORES}")
        if not self.app or not self.namespace:
            raise ValueError(f"app and namespace must be non-empty: {self!r}")
        if self.database < 0:
            raise ValueError(f"{self.app}: database must be >= 0, got {self.database}")
        if self.timeout_seconds <= 0:
            raise ValueError(f"{self.app}: timeout_seconds must be > 0, got {self.timeout_seconds}")

    @property
    def user(self) -> str:
        """The app's Redis ACL user (`was-<app>`)."""
        return names.app_user(self.app)

    @property
    def layout(self) -> str:
        """`default`, `minute` or `sorted-set`: what the app's DB holds."""
        return "default" if self.repository_type == "default" else self.expiration_store

    @property
    def method(self) -> str:
        """`zcard` (check-single-keys, every scrape) or `scan` (the session counter's SCAN, its count key
        read on every scrape)."""
        return "zcard" if self.layout == "sorted-set" else "scan"

    @property
    def zset_key(self) -> str:
        """The sorted-set store's key in this namespace (counted, or checked absent)."""
        return sorted_set_key(self.namespace)

    @property
    def checked_keys(self) -> tuple[str, ...]:
        """The keys the exporter reads (check-single-keys) for this store: its own sorted set,
        and Spring's DEFAULT_NAMESPACE one when the app uses another namespace."""
        default = sorted_set_key(DEFAULT_NAMESPACE)
        return (self.zset_key,) + ((default,) if self.zset_key != default else ())

    @property
    def scan_pattern(self) -> str:
        """The keys that exist exactly while a session is live (method `scan`), with `scan_skip`."""
        return f"{self.namespace}:sessions:" + ("*" if self.layout == "default" else "expires:*")

    @property
    def scan_skip(self) -> str:
        """Keys of `scan_pattern` containing this are not sessions (empty: none). The default
        repository's pattern also matches the indexed repository's shadow keys
        `<ns>:sessions:expires:<id>` that an app switched from `indexed` leaves until they
        expire (one timeout): counted, each would be a second count of its session."""
        return f"{self.namespace}:sessions:expires:" if self.layout == "default" else ""


def sorted_set_key(namespace: str) -> str:
    """`SortedSetRedisSessionExpirationStore`'s key: `<namespace>:sessions:expirations`."""
    return f"{namespace}:sessions:expirations"


def store_of(app: WasAppSettings) -> SessionStore:
    """Where one WasAppSettings' sessions live."""
    return SessionStore(app.name, app.database, app.key_namespace, app.repository, app.session_timeout_seconds,
                        app.expiration_store or "minute")


def stores_in_order(apps: Iterable[WasAppSettings]) -> tuple[SessionStore, ...]:
    """SessionStore per WasAppSettings, in wasApps order (the order the ACL file was first written in:
    keeping it keeps the ACL Secret of a running stack unchanged)."""
    return tuple(store_of(a) for a in apps)


def stores_for(apps: Iterable[WasAppSettings]) -> tuple[SessionStore, ...]:
    """SessionStore per WasAppSettings, by app name: the order of wasApps changes nothing."""
    return tuple(store_of(a) for a in sorted(apps, key=lambda a: a.name))
