"""redis-session-platform: wiring only. Config is parsed once (components.config.config.load);
components receive typed Args; consumers take Redis names and their own credentials from
store.connection. Every component's objects are named after its instance name."""
import pulumi

from components.alert_rules import AlertRules, AlertRulesArgs
from components.alerting import SlackAlerting, SlackAlertingArgs
from components.config import changes, names
from components.config.config import load
from components.dashboard import Dashboard007, Dashboard007Args
from components.exporter import RedisExporter, RedisExporterArgs
from components.monitoring.scope import scope_of
from components.namespace import AppNamespace, AppNamespaceArgs
from components.redis import RedisSessionStore, RedisSessionStoreArgs
from components.was import WasApp, WasAppArgs

settings = load()
scope = scope_of(settings)

# What this stack deployed last (its own `deployed` export): a change that `up` cannot make in
# one step without loss is refused before any Redis object is touched (components/config/changes.py).
previous = pulumi.StackReference(changes.SELF_REFERENCE,
                                 f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}")
guard = pulumi.Output.all(previous.get_output(changes.EXPORT), previous.get_output(changes.CERTIFICATES_EXPORT)).apply(
    lambda prev: changes.check(prev[0], settings, settings.acknowledged, prev[1]))

namespace = AppNamespace(settings.namespace, AppNamespaceArgs(name=settings.namespace, create=settings.create_namespace,
                                                           protect=settings.protect_data))
in_namespace = pulumi.ResourceOptions(depends_on=[namespace])

# The store takes the namespace as AppNamespace's output and the apps and the exporter take the store's
# connection: each waits for what it uses, no depends_on.
store = RedisSessionStore(settings.redis.release_name,
                          RedisSessionStoreArgs(settings=settings.redis, namespace=namespace.name,
                                                apps=settings.was_apps, protect=settings.protect_data,
                                                guard=guard))

was_apps = [
    WasApp(app.name, WasAppArgs(app=app, connection=store.connection, prometheus_release=settings.prometheus_release,
                                prometheus_namespace=settings.prometheus_namespace, dns_egress=settings.dns_egress_rules))
    for app in settings.was_apps
]

exporter = RedisExporter(
    scope.job,
    RedisExporterArgs(connection=store.connection, image=settings.exporter_image,
                      prometheus_release=settings.prometheus_release,
                      prometheus_namespace=settings.prometheus_namespace,
                      apps=settings.was_apps, dns_egress=settings.dns_egress_rules))
AlertRules(names.PART_OF, AlertRulesArgs(scope=scope, prometheus_release=settings.prometheus_release,
                                         certificates=pulumi.Output.all(store.certificate_not_after,
                                                                        exporter.certificate_not_after).apply(
                                             lambda both: {**both[0], **both[1]})), in_namespace)
Dashboard007(names.DASHBOARD, Dashboard007Args(scope=scope, grafana_namespace=settings.grafana_namespace))
if settings.slack_channel and settings.slack_webhook_url is not None:
    SlackAlerting(names.PART_OF, SlackAlertingArgs(
        channel=settings.slack_channel, webhook_url=pulumi.Output.secret(settings.slack_webhook_url.get_secret_value()),
        send_resolved=settings.slack_send_resolved, namespace=namespace.name,
        prometheus_release=settings.prometheus_release), in_namespace)

pulumi.export("namespace", namespace.name)
pulumi.export("redisMode", store.mode)
pulumi.export("redisHost", store.host)
pulumi.export("redisSentinelMasterSet", store.sentinel_master_set)
pulumi.export("redisSentinelNodes", store.sentinel_nodes)
pulumi.export("redisSecretName", store.secret_name)
pulumi.export("redisAclDigest", store.acl_digest)
pulumi.export("wasServices", [app.service_name for app in was_apps])
pulumi.export(changes.EXPORT, changes.deployed_state(settings))
pulumi.export(changes.CERTIFICATES_EXPORT, store.certificate_not_after)
