"""Connection options and the URL grammar of `Client.from_url`.

Every error names the part of the URL or the option that is wrong, and never echoes a password.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import ssl
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ._credentials import Credentials

__all__ = ["ConnectionOptions", "options_from_url", "seconds"]

DEFAULT_PORT = 6379
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def seconds(value: float | timedelta | None, name: str) -> float | None:
    """A duration as float seconds (``timedelta`` accepted); ``None`` means no limit."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"option {name!r} must be a number of seconds or a timedelta")
    if value <= 0:
        raise ValueError(f"option {name!r} must be positive, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class ConnectionOptions:
    """Everything needed to open and set up one connection. Built by `Client.from_url`."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    unix_path: str | None = None
    tls: bool = False
    #: Verify the server certificate and host name (on by default; opt out explicitly).
    tls_verify: bool = True
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    #: Host name sent for SNI and checked against the certificate (default: `host`).
    tls_server_hostname: str | None = None
    ssl_context: ssl.SSLContext | None = field(default=None, compare=False)
    credentials: Credentials | None = None
    db: int = 0
    protocol: int = 3
    client_name: str | None = None
    connect_timeout: float | None = 10.0
    command_timeout: float | None = None
    #: After a command timed out, a PING must answer within this (seconds) or the connection
    #: is presumed half-open and replaced. None: no check.
    health_check_timeout: float | None = 5.0
    decode_responses: bool = False
    encoding: str = "utf-8"
    parser: str = "auto"
    #: Re-send a command once after a connection error. Off: a command may have run already.
    retry_on_connection_error: bool = False
    reconnect_attempts: int = 3
    reconnect_initial_delay: float = 0.05
    reconnect_max_delay: float = 2.0
    #: Dedicated connections kept idle for blocking commands (BLPOP, XREAD BLOCK, ...).
    max_idle_blocking_connections: int = 4
    lib_name: str = "anyredis-auth"
    #: Let a credentials provider's tokens travel over plain TCP to a non-loopback host.
    allow_insecure_transport: bool = False

    def __post_init__(self) -> None:
        if self.protocol not in (2, 3):
            raise ValueError(f"option 'protocol' must be 2 or 3, got {self.protocol!r}")
        if not 0 <= self.db <= 1_000_000:
            raise ValueError(f"option 'db' must be a non-negative database number, got {self.db!r}")
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be between 1 and 65535, got {self.port!r}")
        if self.parser not in ("auto", "hiredis", "python"):
            raise ValueError(
                f"option 'parser' must be auto, hiredis or python, got {self.parser!r}"
            )
        if self.reconnect_attempts < 1:
            raise ValueError("option 'reconnect_attempts' must be at least 1")
        if self.unix_path is not None and self.tls:
            raise ValueError("TLS over a Unix socket is not supported")
        for name in ("connect_timeout", "command_timeout", "health_check_timeout"):
            object.__setattr__(self, name, seconds(getattr(self, name), name))
        "".encode(self.encoding)  # an unknown encoding fails here, not on the first reply

    @property
    def address(self) -> str:
        """Where we connect, for messages (never contains credentials)."""
        if self.unix_path is not None:
            return f"unix://{self.unix_path}"
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def is_local(self) -> bool:
        """A Unix socket or a loopback address: nothing leaves this machine."""
        if self.unix_path is not None or self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host.strip("[]")).is_loopback
        except ValueError:
            return False

    def replace(self, **changes: Any) -> ConnectionOptions:
        """A copy with the given fields changed (checked like the constructor's arguments)."""
        return dataclasses.replace(self, **changes)

    def build_ssl_context(self) -> ssl.SSLContext:
        """The TLS context: the caller's own, or one verifying against the system or given CA."""
        if self.ssl_context is not None:
            return self.ssl_context
        context = ssl.create_default_context(cafile=self.tls_ca_file)
        if not self.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.tls_cert_file is not None:
            context.load_cert_chain(self.tls_cert_file, self.tls_key_file)
        return context


_FIELDS = {f.name: f for f in dataclasses.fields(ConnectionOptions)}
_QUERY_ALIASES = {
    "name": "client_name",
    "socket_timeout": "command_timeout",
    "socket_connect_timeout": "connect_timeout",
    "ssl_ca_certs": "tls_ca_file",
    "ssl_certfile": "tls_cert_file",
    "ssl_keyfile": "tls_key_file",
}
#: Options that cannot come from a query string (objects, or secrets that belong in the userinfo).
_NOT_IN_QUERY = {"ssl_context", "credentials", "host", "port", "unix_path", "tls"}


def _convert(name: str, raw: str) -> Any:
    """Convert a query-string value to the type of option `name`."""
    if name == "ssl_cert_reqs":
        value = raw.lower()
        if value in ("none", "optional"):
            return False
        if value == "required":
            return True
        raise ValueError(f"query option 'ssl_cert_reqs' must be none or required, got {raw!r}")
    default = _FIELDS[name].default
    try:
        if isinstance(default, bool):
            lowered = raw.lower()
            if lowered not in _TRUE | _FALSE:
                raise ValueError
            return lowered in _TRUE
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float) or name.endswith("_timeout"):
            return None if raw.lower() in ("", "none") else float(raw)
    except ValueError:
        kind = type(default).__name__ if default is not None else "number"
        raise ValueError(f"query option {name!r} must be a {kind}, got {raw!r}") from None
    return raw


def options_from_url(url: str, **overrides: Any) -> ConnectionOptions:
    """Parse ``redis://``, ``rediss://`` or ``unix://`` URLs (user, password, db, query options).

    Keyword `overrides` win over the URL; unknown keywords are refused by name.
    """
    if not isinstance(url, str):
        raise ValueError(f"the URL must be a string, got {type(url).__name__}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid URL: {_redact_reason(exc)}") from None
    scheme = parts.scheme.lower()
    values: dict[str, Any] = {}
    if scheme in ("redis", "rediss", "valkey", "valkeys"):
        if not parts.hostname:
            raise ValueError("the URL has no host name (expected redis://host:port/db)")
        values["host"] = parts.hostname
        values["port"] = port if port is not None else DEFAULT_PORT
        values["tls"] = scheme in ("rediss", "valkeys")
        path = parts.path.strip("/")
        if path:
            if not path.isdigit():
                raise ValueError(f"the URL path must be a database number, got {path!r}")
            values["db"] = int(path)
    elif scheme == "unix":
        if not parts.path:
            raise ValueError("a unix:// URL needs the socket path, as unix:///path/to/socket")
        values["unix_path"] = unquote(parts.path)
    else:
        shown = scheme or "(none)"
        raise ValueError(f"unsupported URL scheme {shown!r}: use redis://, rediss:// or unix://")

    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None:
        values["credentials"] = Credentials(username, password)
    elif username:
        raise ValueError("the URL has a user name but no password (redis://user:password@host)")

    for raw_key, raw_value in parse_qsl(parts.query, keep_blank_values=True):
        key = _QUERY_ALIASES.get(raw_key, raw_key)
        if key == "ssl_cert_reqs":
            values["tls_verify"] = _convert(key, raw_value)
        elif key in _FIELDS and key not in _NOT_IN_QUERY:
            values[key] = _convert(key, raw_value)
        elif key in ("password", "username"):
            raise ValueError(f"put the {key} in the URL's user part, not in the query string")
        else:
            raise ValueError(f"unknown query option {raw_key!r} in the URL")

    for key, value in overrides.items():
        if key not in _FIELDS:
            raise ValueError(f"unknown option {key!r}")
        values[key] = value
    return ConnectionOptions(**values)


def _redact_reason(exc: ValueError) -> str:
    # urllib's messages can quote the netloc, which may hold the password: keep only its kind.
    text = str(exc)
    return "bad port number" if "port" in text.lower() else "it could not be parsed"
