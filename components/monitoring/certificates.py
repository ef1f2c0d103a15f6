"""TLS certificate expiry as Prometheus data.

Nothing Prometheus scrapes here knows a certificate's validity: redis_exporter exposes no
certificate metric (and with mutual TLS a blackbox TLS probe would need a client
certificate of our CA), and no blackbox exporter is deployed. The program does know it:
pulumi-tls gives every certificate it issues its `validityEndTime` (the certificate's real
notAfter, RFC 3339): Redis's (with redisTls) and the exporter's web endpoint's (always).
Each becomes a recording rule with a constant value, the notAfter in
Unix seconds, labelled with the store's selector and the certificate's name, in the stack's
PrometheusRule. A renewal (pulumi up in the last 30 days of a leaf, components/redis.py)
changes the certificate and, in the same up, its rule: the alert resolves exactly when the
new certificate is deployed. Alert RedisTlsCertificateExpiring (components/monitoring/alerts.py) and
the checklist row read the record.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ..config import names
from .scope import Scope

RECORD = "redis_session_platform:tls_certificate_not_after_seconds"
"""notAfter (Unix seconds) of one certificate; labels namespace, job, certificate."""
WARNING_DAYS = 30
CRITICAL_DAYS = 7
DAY = 86400


def not_after_seconds(rfc3339: str) -> int:
    """pulumi-tls validityEndTime (e.g. 2027-12-06T00:00:00Z) as Unix seconds."""
    return int(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp())


def expiry_group(s: Scope, not_after: Mapping[str, str]) -> dict:
    """A rule group with one constant record per certificate (name -> validityEndTime)."""
    return {"name": f"{names.PART_OF}.certificates", "rules": [
        {"record": RECORD, "expr": f"vector({not_after_seconds(end)})",
         "labels": {**s.store_labels, "certificate": cert}}
        for cert, end in sorted(not_after.items())]}
