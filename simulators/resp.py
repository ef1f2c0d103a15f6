"""A minimal RESP2 client: enough for the simulator, the live tests and the benchmarks
(AUTH with or without an ACL user, SELECT, pipelining, Pub/Sub, TLS with a client
certificate). Loopback use only; every call has a socket timeout."""
from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a TLS client (or server): certificate, key, and the CA that signs peers."""

    cert: str
    key: str
    ca: str

    def client_context(self) -> ssl.SSLContext:
        """Verifies the server against `ca` (host name included) and presents `cert`."""
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


class RedisError(Exception):
    """An error reply from Redis."""


class Client:
    """One connection. `call` sends one command; `pipeline` sends many, reads all replies."""

    def __init__(self, host: str, port: int, password: str | None = None, db: int = 0, timeout: float = 10.0,
                 username: str | None = None, tls: TlsFiles | None = None):
        sock = socket.create_connection((host, port), timeout=timeout)
        if tls is not None:
            try:
                sock = tls.client_context().wrap_socket(sock, server_hostname=host)
            except BaseException:
                sock.close()
                raise
        self.sock = sock
        self.file = self.sock.makefile("rb")
        if password:
            self.call("AUTH", *([username] if username else []), password)
        if db:
            self.call("SELECT", db)

    @staticmethod
    def _encode(args: Iterable[Any]) -> bytes:
        parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        out = [b"*%d\r\n" % len(parts)]
        for p in parts:
            out.append(b"$%d\r\n%s\r\n" % (len(p), p))
        return b"".join(out)

    def _read(self) -> Any:
        line = self.file.readline()
        if not line:
            raise ConnectionError("connection closed by Redis")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)[:-2]
            return data.decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise ConnectionError(f"unexpected reply {line!r}")

    def call(self, *args: Any) -> Any:
        self.sock.sendall(self._encode(args))
        reply = self._read()
        if isinstance(reply, RedisError):
            raise reply
        return reply

    def read_push(self, timeout: float) -> Any:
        """The next message of a subscribed connection (None after `timeout` seconds)."""
        previous = self.sock.gettimeout()
        self.sock.settimeout(timeout)
        try:
            return self._read()
        except TimeoutError:
            return None
        finally:
            self.sock.settimeout(previous)

    def pipeline(self, commands: list[tuple], raise_errors: bool = True) -> list[Any]:
        self.sock.sendall(b"".join(self._encode(c) for c in commands))
        replies = [self._read() for _ in commands]
        if raise_errors:
            for r in replies:
                if isinstance(r, RedisError):
                    raise r
        return replies

    def close(self) -> None:
        try:
            self.file.close()
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def master_from_sentinels(sentinels: list[tuple[str, int]], master_set: str, password: str | None,
                          timeout: float = 2.0, username: str | None = None,
                          tls: TlsFiles | None = None) -> tuple[str, int]:
    """Ask each Sentinel in turn for the master's address (as Spring's Lettuce does)."""
    last: Exception = ConnectionError("no sentinel given")
    for host, port in sentinels:
        try:
            with Client(host, port, password, timeout=timeout, username=username, tls=tls) as s:
                addr = s.call("SENTINEL", "get-master-addr-by-name", master_set)
                if addr:
                    return addr[0], int(addr[1])
        except (OSError, RedisError, ConnectionError) as exc:
            last = exc
    raise ConnectionError(f"no sentinel knows master {master_set!r}: {last}")
