"""A private certificate authority issued with pulumi-tls, shared by the components that
serve TLS (the Redis store, the exporter's web endpoint): one way to make a CA and its
leaves, and one record of every certificate's notAfter (components/monitoring/certificates.py
turns it into the expiry record). Not a ComponentResource: the resources belong to the
component that creates the authority (`parent`)."""
from collections.abc import Sequence

import pulumi
import pulumi_tls as tls

from .config.tls import CERT_EARLY_RENEWAL_HOURS, CERT_VALIDITY_HOURS


def _private_key(resource: str, opts: pulumi.ResourceOptions) -> tls.PrivateKey:
    return tls.PrivateKey(resource, algorithm="ECDSA", ecdsa_curve="P256", opts=opts)


class PrivateCa:
    """An ECDSA P-256 CA (`<resource>-key`, `<resource>`) whose leaves are ECDSA P-256 too.
    Private keys exist only in pulumi-tls's secret outputs and the Secrets made from them."""

    def __init__(self, resource: str, common_name: pulumi.Input[str], parent: pulumi.Resource, validity_hours: int,
                 early_renewal_hours: int | None = None):
        self._opts = pulumi.ResourceOptions(parent=parent)
        self.key = _private_key(f"{resource}-key", self._opts)
        self.cert = tls.SelfSignedCert(
            resource, private_key_pem=self.key.private_key_pem, is_ca_certificate=True,
            subject=tls.SelfSignedCertSubjectArgs(common_name=common_name),
            validity_period_hours=validity_hours, early_renewal_hours=early_renewal_hours,
            allowed_uses=["cert_signing", "crl_signing"], opts=self._opts)
        self.not_after: dict[str, pulumi.Output] = {}
        """validityEndTime of every leaf issued (by the name given to `issue`)."""

    def issue(self, resource: str, common_name: pulumi.Input[str], dns_names: pulumi.Input[Sequence[str]],
              uses: Sequence[str],
              record_as: str, ip_addresses: Sequence[str] | None = None) -> dict[str, pulumi.Output]:
        """A leaf (`<resource>-key`, `-csr`, `-cert`) for `uses` besides digital signature and
        key agreement, valid CERT_VALIDITY_HOURS and renewed by the `up` in its last
        CERT_EARLY_RENEWAL_HOURS. Returns the Secret data: tls.crt, tls.key (PKCS#8), ca.crt."""
        private = _private_key(f"{resource}-key", self._opts)
        request = tls.CertRequest(f"{resource}-csr", private_key_pem=private.private_key_pem,
                                  subject=tls.CertRequestSubjectArgs(common_name=common_name),
                                  dns_names=dns_names,
                                  ip_addresses=None if ip_addresses is None else list(ip_addresses), opts=self._opts)
        cert = tls.LocallySignedCert(
            f"{resource}-cert", cert_request_pem=request.cert_request_pem, ca_private_key_pem=self.key.private_key_pem,
            ca_cert_pem=self.cert.cert_pem, validity_period_hours=CERT_VALIDITY_HOURS,
            early_renewal_hours=CERT_EARLY_RENEWAL_HOURS, allowed_uses=["digital_signature", "key_agreement", *uses],
            opts=self._opts)
        self.not_after[record_as] = cert.validity_end_time
        return {"tls.crt": cert.cert_pem, "tls.key": private.private_key_pem_pkcs8, "ca.crt": self.cert.cert_pem}
