"""Test certificates made like the program makes them (components/redis.py
_issue_certificates): an ECDSA P-256 CA, a server certificate for the given names plus
loopback, one client certificate per client. trustme issues them (P-256 keys, every leaf
usable for serverAuth and clientAuth); loopback tests only (the program issues with
pulumi-tls)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trustme
from cryptography import x509


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a TLS client (or server): certificate, key, and the CA that signs peers."""

    cert: str
    key: str
    ca: str


def not_after(cert_file: str) -> str:
    """The certificate's notAfter as RFC 3339 UTC, the form of pulumi-tls validityEndTime."""
    cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
    return cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def issue(folder: Path, dns_names: list[str], clients: list[str],
          days: int = 2) -> tuple[TlsFiles, dict[str, TlsFiles]]:
    """(server files, {client: files}) under `folder`, leaves valid for `days` (trustme's
    CA itself is valid far longer, as the program's CA outlives its leaves)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(folder / "ca.crt"))
    end = datetime.now(UTC) + timedelta(days=days)

    def signed(name: str, identities: list[str]) -> TlsFiles:
        leaf = ca.issue_cert(*identities, common_name=name, not_after=end)
        leaf.cert_chain_pems[0].write_to_path(str(folder / f"{name}.crt"))
        leaf.private_key_pem.write_to_path(str(folder / f"{name}.key"))
        return TlsFiles(str(folder / f"{name}.crt"), str(folder / f"{name}.key"), str(folder / "ca.crt"))

    server = signed("server", [*dns_names, "localhost", "127.0.0.1"])
    return server, {c: signed(f"client-{c}", [c]) for c in clients}
