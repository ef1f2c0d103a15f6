"""Test certificates made like the program makes them (components/redis.py
_issue_certificates): an ECDSA P-256 CA, a server certificate (server and client use) for
the given names plus loopback, one client certificate per client. openssl CLI; loopback
tests only (the program itself issues with pulumi-tls)."""
from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

from simulators.resp import TlsFiles

KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def not_after(cert_file: str) -> str:
    """The certificate's notAfter as RFC 3339 UTC, the form of pulumi-tls validityEndTime."""
    out = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in", cert_file],
                         check=True, capture_output=True, text=True, timeout=30).stdout
    end = datetime.strptime(out.strip().removeprefix("notAfter="), "%b %d %H:%M:%S %Y %Z")
    return end.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def issue(folder: Path, dns_names: list[str], clients: list[str],
          days: int = 2) -> tuple[TlsFiles, dict[str, TlsFiles]]:
    """(server files, {client: files}) under `folder`, each valid for `days`."""
    folder.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", *KEY, "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=loopback Redis CA",
             "-days", str(days), "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)

    def signed(name: str, ext: str) -> TlsFiles:
        (folder / f"{name}.ext").write_text(ext)
        _openssl("req", "-new", *KEY, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}",
                 cwd=folder)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.crt", "-days", str(days), "-extfile", f"{name}.ext", cwd=folder)
        return TlsFiles(str(folder / f"{name}.crt"), str(folder / f"{name}.key"), str(folder / "ca.crt"))

    sans = ",".join([f"DNS:{n}" for n in [*dns_names, "localhost"]] + ["IP:127.0.0.1"])
    server = signed("server", f"subjectAltName={sans}\nextendedKeyUsage=serverAuth,clientAuth\n"
                              "keyUsage=digitalSignature,keyAgreement\n")
    return server, {c: signed(f"client-{c}", "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyAgreement\n")
                    for c in clients}
