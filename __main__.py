"""redis-session-platform: wiring only. Config is parsed once (settings.config.load);
components receive typed objects; consumers take Redis names from store.connection."""
import pulumi

from components.alert_rules import AlertRules, AlertRulesArgs
from components.alerting import SlackAlerting, SlackAlertingArgs
from components.dashboard import Dashboard007, Dashboard007Args
from components.exporter import RedisExporter, RedisExporterArgs
from components.namespace import AppNamespace, AppNamespaceArgs
from components.redis import RedisSessionStore, RedisSessionStoreArgs
from components.was import WasApp, WasAppArgs
from monitoring.session_count import stores_for
from settings.config import load

settings = load()

namespace = AppNamespace("app", AppNamespaceArgs(name=settings.namespace, create=settings.create_namespace))
in_namespace = pulumi.ResourceOptions(depends_on=[namespace])

store = RedisSessionStore(
    "redis", RedisSessionStoreArgs(settings=settings.redis, namespace=namespace.name), in_namespace)

was_apps = [
    WasApp(f"was-{app.name}",
           WasAppArgs(app=app, connection=store.connection, prometheus_release=settings.monitoring.prometheus_release),
           pulumi.ResourceOptions(depends_on=[namespace, store]))
    for app in settings.was_apps
]

RedisExporter(
    "exporter",
    RedisExporterArgs(connection=store.connection, monitoring=settings.monitoring,
                      stores=stores_for(settings.was_apps), password=store.password),
    in_namespace)
AlertRules("alerts", AlertRulesArgs(settings=settings), in_namespace)
Dashboard007("dashboard", Dashboard007Args(settings=settings))
if settings.monitoring.slack:
    SlackAlerting("slack", SlackAlertingArgs(slack=settings.monitoring.slack, namespace=settings.namespace,
                                             prometheus_release=settings.monitoring.prometheus_release), in_namespace)

pulumi.export("namespace", namespace.name)
pulumi.export("redisMode", store.connection.mode)
pulumi.export("redisHost", store.connection.host)
pulumi.export("redisSentinelMasterSet", store.connection.sentinel_master_set)
pulumi.export("redisSentinelNodes", list(store.connection.sentinel_nodes))
pulumi.export("redisSecretName", store.connection.secret_name)
pulumi.export("wasServices", [app.service_name for app in was_apps])
