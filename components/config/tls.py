"""Validity and early renewal of the TLS certificates the components issue with pulumi-tls
(components/redis.py, components/exporter.py); components/config/changes.py tells from them
which renewal an `up` makes."""
from __future__ import annotations

CA_VALIDITY_HOURS = 5 * 365 * 24
CERT_VALIDITY_HOURS = 365 * 24
CERT_EARLY_RENEWAL_HOURS = 30 * 24
CA_EARLY_RENEWAL_HOURS = CERT_VALIDITY_HOURS + CERT_EARLY_RENEWAL_HOURS
"""The CA is renewed by the first `up` in its last 13 months: a leaf issued before that (1 year,
renewed 30 days early) never outlives the CA that signed it. Renewing the CA re-issues every leaf
(their ca_cert_pem changes) and is refused unless acknowledged (components/config/changes.py)."""
