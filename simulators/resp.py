"""A minimal RESP2 client: enough for the simulator, the live tests and the benchmarks
(AUTH with or without an ACL user, SELECT, pipelining, Pub/Sub, TLS with a client
certificate). Loopback use only; every call has a socket timeout."""
from __future__ import annotations

import select
import socket
import ssl
import time
from collections.abc import Iterable
from typing import Any

from simulators.certs import TlsFiles


def client_context(tls: TlsFiles) -> ssl.SSLContext:
    """Verifies the server against `ca` (host name included) and presents `cert`."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=tls.ca)
    ctx.load_cert_chain(tls.cert, tls.key)
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
                sock = client_context(tls).wrap_socket(sock, server_hostname=host)
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

    def info(self, section: str) -> dict[str, str]:
        """INFO <section> as field -> value."""
        return dict(line.split(":", 1) for line in self.call("INFO", section).splitlines() if ":" in line)

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


class Subscriber:
    """A Pub/Sub connection (Spring's RedisMessageListenerContainer stands behind it):
    SUBSCRIBE/PSUBSCRIBE, then `messages(wait)` returns what has arrived, waiting at most
    `wait` seconds for the first message. Its own buffer, so no read ever blocks unbounded."""

    def __init__(self, host: str, port: int, password: str | None = None, timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = bytearray()
        self.queue: list[Any] = []
        if password:
            self._send("AUTH", password)
            self._expect_one(timeout)

    def _send(self, *args: Any) -> None:
        self.sock.sendall(Client._encode(args))

    def _parse(self, pos: int = 0) -> tuple[Any, int] | None:
        """One RESP value from the buffer at `pos`: (value, next pos), or None if incomplete."""
        end = self.buf.find(b"\r\n", pos)
        if end < 0:
            return None
        kind, rest = self.buf[pos:pos + 1], bytes(self.buf[pos + 1:end])
        pos = end + 2
        if kind in (b"+", b"-"):
            text = rest.decode()
            return (RedisError(text) if kind == b"-" else text), pos
        if kind == b":":
            return int(rest), pos
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None, pos
            if len(self.buf) < pos + n + 2:
                return None
            return bytes(self.buf[pos:pos + n]).decode(errors="replace"), pos + n + 2
        if kind == b"*":
            items = []
            for _ in range(int(rest)):
                parsed = self._parse(pos)
                if parsed is None:
                    return None
                item, pos = parsed
                items.append(item)
            return items, pos
        raise ConnectionError(f"unexpected reply {bytes(self.buf[:40])!r}")

    def _fill(self, wait: float) -> bool:
        ready, _, _ = select.select([self.sock], [], [], max(0.0, wait))
        if not ready:
            return False
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("connection closed by Redis")
        self.buf += data
        return True

    def _take(self) -> list[Any]:
        out, self.queue = self.queue, []
        while (parsed := self._parse()) is not None:
            value, pos = parsed
            del self.buf[:pos]
            out.append(value)
        return out

    def _expect_one(self, wait: float) -> Any:
        deadline = time.monotonic() + wait
        while True:
            got = self._take()
            if got:
                self.queue = got[1:]
                if isinstance(got[0], RedisError):
                    raise got[0]
                return got[0]
            if not self._fill(deadline - time.monotonic()) and time.monotonic() >= deadline:
                raise TimeoutError("no reply from Redis")

    def subscribe(self, *channels: str, patterns: tuple[str, ...] = (), wait: float = 5.0) -> None:
        """SUBSCRIBE the channels and PSUBSCRIBE the patterns; returns once Redis confirmed all."""
        expected = 0
        if channels:
            self._send("SUBSCRIBE", *channels)
            expected += len(channels)
        if patterns:
            self._send("PSUBSCRIBE", *patterns)
            expected += len(patterns)
        for _ in range(expected):
            reply = self._expect_one(wait)
            if not (isinstance(reply, list) and reply and reply[0] in ("subscribe", "psubscribe")):
                raise ConnectionError(f"unexpected subscribe reply {reply!r}")

    def messages(self, wait: float = 0.0) -> list[tuple[str, str]]:
        """(channel, body) of every message received so far; waits up to `wait` s for one."""
        got = self._take()
        if not got and self._fill(wait):
            got = self._take()
        while self._fill(0):  # drain what is already on the socket
            got += self._take()
        out = []
        for m in got:
            if isinstance(m, list) and m and m[0] == "message":
                out.append((m[1], m[2]))
            elif isinstance(m, list) and m and m[0] == "pmessage":
                out.append((m[2], m[3]))
        return out

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
