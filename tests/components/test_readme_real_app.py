"""The README's real-app example (section "A real app: ..."), rendered exactly as written."""
import re

from render.mockrun import PROJECT
from tests.harness import ROOT, run_program
from tools.pulumi_cli import load_yaml

SECTION = "## A real app: a database in another namespace and an external API"


def readme_stack_excerpt() -> dict:
    text = (ROOT / "README.md").read_text().split(SECTION, 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```yaml\n(.*?)```", text, re.S)
    return {k.partition(":")[2]: v for k, v in load_yaml(block)["config"].items()}


def test_the_readme_example_deploys_an_app_reaching_postgres_and_an_https_api():
    run = run_program("dev", readme_stack_excerpt())
    assert run.error is None, run.error
    [deployment] = [r for r in run.resources if r.type == "kubernetes:apps/v1:Deployment"
                    and r.plain["metadata"]["name"] == "orders"]
    pod = deployment.plain["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == "registry.example.com/shop/orders:1.4.2"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    env = {e["name"]: e for e in container["env"]}
    for name, key in (("SPRING_DATASOURCE_URL", "url"), ("SPRING_DATASOURCE_USERNAME", "username"),
                      ("SPRING_DATASOURCE_PASSWORD", "password")):
        assert env[name] == {"name": name, "valueFrom": {"secretKeyRef": {"name": "orders-db", "key": key}}}
    assert env["PAYMENTS_API_URL"]["value"] == "https://api.payments.example.com"
    assert env["SPRING_SESSION_REDIS_NAMESPACE"]["value"] == "spring:session:orders"  # still wired to Redis
    [netpol] = [r for r in run.resources if r.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy"
                and r.plain["metadata"]["name"] == "orders"]
    egress = netpol.plain["spec"]["egress"]
    assert egress[-2:] == [
        {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "databases"}},
                 "podSelector": {"matchLabels": {"app.kubernetes.io/name": "postgresql"}}}],
         "ports": [{"protocol": "TCP", "port": 5432}]},
        {"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}], "ports": [{"protocol": "TCP", "port": 443}]},
    ]
    # Besides those two: Redis and the cluster DNS only.
    assert [r["ports"][0]["port"] for r in egress[:-2]] == [6379, 53, 53]
    assert f"{PROJECT}:wasApps" in run.config
