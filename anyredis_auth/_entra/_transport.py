"""An azure-core `AsyncHttpTransport` on httpx, for asyncio and trio alike (httpx is anyio-native).

Why our own: ``azure.identity.aio`` defaults to aiohttp (asyncio only), and azure-core's
experimental httpx transport does not send form posts, which is what every token request is.

What it does, per azure-core's transport contract:

- request bodies: form fields (``request.data`` as a dict -> ``application/x-www-form-urlencoded``),
  multipart (``request.files``, with ``request.data`` fields beside them), ``bytes``/``str``,
  iterables, async iterables and file-like objects (read once);
- ``connection_verify`` (bool, CA bundle path or an `ssl.SSLContext`), ``connection_cert``
  (path or ``(cert, key)`` tuple), ``connection_timeout`` and ``read_timeout``, given to the
  constructor or per request (as azure-core's pipelines do: the IMDS probe uses a 1 s timeout);
- redirects are never followed (azure-core's redirect policy does that), cookies are not kept;
- errors are azure-core's: `ServiceRequestError` (nothing was sent, safe to retry),
  `ServiceRequestTimeoutError`, `ServiceResponseError`, `ServiceResponseTimeoutError`;
- `sleep` is `anyio.sleep` (azure-core's default is ``asyncio.sleep``, which breaks trio);
- cancellation (a cancel scope, a timeout) aborts the request at once: httpx's I/O is anyio's.

Responses are read whole before `send` returns (identity responses are a few kilobytes), so the
response works for both azure-core response APIs: the `azure.core.rest` one (``content``,
``text()``, ``json()``, ``read()``) and the legacy one (``body()``, ``text()``, ``load_body()``,
``stream_download()``).

Proxies come from the environment (``HTTPS_PROXY``, ``NO_PROXY``...) unless
``use_env_settings=False``; azure-core's per-request ``proxies`` are not supported (they raise).
"""

from __future__ import annotations

import json as _json
import ssl
from collections.abc import AsyncIterator, Iterator, Mapping, MutableMapping
from types import TracebackType
from typing import Any

import anyio
import httpx
from azure.core.exceptions import (
    ResponseNotReadError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline.transport import AsyncHttpResponse as LegacyAsyncHttpResponse
from azure.core.pipeline.transport import AsyncHttpTransport
from azure.core.utils import case_insensitive_dict

__all__ = ["HttpxTransport", "HttpxTransportResponse", "SharedTransport", "root_cause_text"]

_DEFAULT_TIMEOUT = 300.0  # azure-core's ConnectionConfiguration default (connect and read)
_BLOCK_SIZE = 4096

VerifyType = bool | str | ssl.SSLContext
CertType = str | tuple[str, str] | tuple[str, str, str] | None


def _ssl_context(verify: VerifyType, cert: CertType) -> ssl.SSLContext | bool:
    if isinstance(verify, ssl.SSLContext):
        context = verify
    elif verify is False:
        if cert is None:
            return False
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif verify is True:
        if cert is None:
            return True
        context = ssl.create_default_context()
    else:
        context = ssl.create_default_context(cafile=str(verify))
    if cert is not None:
        if isinstance(cert, str):
            context.load_cert_chain(cert)
        elif len(cert) == 2:
            context.load_cert_chain(cert[0], cert[1])
        else:
            context.load_cert_chain(cert[0], cert[1], password=cert[2])
    return context


def root_cause_text(exc: BaseException) -> str:
    """The messages along ``exc``'s cause chain, joined: the TLS or socket reason included.

    On trio, httpx raises ``ConnectError`` with an empty or generic message and keeps the reason
    (``SSLCertVerificationError``, ``ConnectionRefusedError``...) only in its causes; asyncio puts
    it in the message. Both loops report the same text this way.
    """
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(parts) < 8:
        seen.add(id(current))
        try:
            text = str(current).strip()
        except Exception:
            text = ""
        if not text:
            text = raw = type(current).__name__
        else:
            raw = text
            if isinstance(current, OSError) and type(current) is not OSError:
                text = f"{type(current).__name__}: {text}"  # ConnectionRefusedError, SSL...
        if not any(raw in part for part in parts):
            parts.append(text)
        nested = getattr(current, "exceptions", None)  # an ExceptionGroup (happy eyeballs)
        if isinstance(nested, (tuple, list)) and nested:
            current = nested[0]
        else:
            current = current.__cause__ or current.__context__
    return ": ".join(parts)


def _service_fabric_endpoint(url: str) -> bool:
    """Whether ``url`` is Service Fabric's managed-identity endpoint, which azure-identity calls
    with ``connection_verify=False`` (the endpoint's certificate is the cluster's own, checked by
    thumbprint, ``IDENTITY_SERVER_THUMBPRINT``, not by a CA)."""
    import os

    endpoint = os.environ.get("IDENTITY_ENDPOINT")
    return bool(
        endpoint
        and os.environ.get("IDENTITY_HEADER")
        and os.environ.get("IDENTITY_SERVER_THUMBPRINT")
        and str(url).startswith(endpoint)
    )


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"unsupported request body chunk type: {type(value).__name__}")


async def _async_chunks(source: Any) -> AsyncIterator[bytes]:
    async for chunk in source:
        yield _as_bytes(chunk)


def _body(request: Any) -> dict[str, Any]:
    """httpx ``request`` keyword arguments for the body of an azure-core request."""
    files = getattr(request, "files", None)
    data = getattr(request, "data", None)
    if files:
        items = files.items() if isinstance(files, Mapping) else files
        fields: dict[str, Any] = {}
        multipart: list[tuple[str, Any]] = []
        for name, value in items:
            if isinstance(value, tuple) and len(value) >= 2 and value[0] is None:
                fields[name] = value[1]  # a plain form field carried in "files"
            else:
                multipart.append((name, value))
        if isinstance(data, Mapping):
            fields.update(data)
        if not multipart:
            # Only plain fields: httpx would url-encode them; azure-core meant multipart.
            multipart = [(name, (None, _as_bytes(value))) for name, value in fields.items()]
            fields = {}
        return {"files": multipart, "data": fields or None}
    if data is None:
        return {}
    if isinstance(data, Mapping):
        return {"data": dict(data)}
    if isinstance(data, (bytes, bytearray, memoryview, str)):
        return {"content": _as_bytes(data)}
    if hasattr(data, "read"):
        return {"content": _as_bytes(data.read())}
    if hasattr(data, "__aiter__"):
        return {"content": _async_chunks(data)}
    if hasattr(data, "__iter__"):
        return {"content": b"".join(_as_bytes(chunk) for chunk in data)}
    raise TypeError(f"unsupported request body type: {type(data).__name__}")


class HttpxTransportResponse(LegacyAsyncHttpResponse):
    """A fully read response; implements azure-core's legacy and ``azure.core.rest`` APIs."""

    def __init__(
        self, request: Any, response: httpx.Response, content: bytes, block_size: int
    ) -> None:
        super().__init__(request, None, block_size=block_size)
        self.status_code = response.status_code
        self.headers = case_insensitive_dict(response.headers.multi_items())
        self.reason = response.reason_phrase
        self.content_type = response.headers.get("content-type")
        self._content = content
        self._http_url = str(response.url)
        self._encoding: str | None = None
        self._closed = False

    # -- azure.core.rest.AsyncHttpResponse surface
    @property
    def url(self) -> str:
        return self._http_url

    @property
    def content(self) -> bytes:
        return self._content

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def is_stream_consumed(self) -> bool:
        return True

    @property
    def encoding(self) -> str | None:
        return self._encoding

    @encoding.setter
    def encoding(self, value: str | None) -> None:
        self._encoding = value

    def json(self) -> Any:
        return _json.loads(self.text())

    def raise_for_status(self) -> None:
        from azure.core.exceptions import HttpResponseError

        if self.status_code >= 400:
            raise HttpResponseError(response=self)

    async def read(self) -> bytes:
        return self._content

    async def iter_raw(self, **kwargs: Any) -> AsyncIterator[bytes]:
        for index in range(0, len(self._content), self.block_size):
            yield self._content[index : index + self.block_size]

    async def iter_bytes(self, **kwargs: Any) -> AsyncIterator[bytes]:
        async for chunk in self.iter_raw():
            yield chunk

    async def close(self) -> None:
        self._closed = True

    # -- legacy surface
    def body(self) -> bytes:
        return self._content

    def text(self, encoding: str | None = None) -> str:
        encoding = encoding or self._encoding or self._charset() or "utf-8-sig"
        if encoding.lower() in ("utf-8", "utf8"):
            encoding = "utf-8-sig"  # drop a BOM, as azure-core's responses do
        try:
            return self._content.decode(encoding, errors="replace")
        except LookupError:  # an unknown charset in the content-type
            return self._content.decode("utf-8-sig", errors="replace")

    def _charset(self) -> str | None:
        for param in (self.content_type or "").split(";")[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                return value.strip().strip('"')
        return None

    async def load_body(self) -> None:
        return None

    def stream_download(self, pipeline: Any, **kwargs: Any) -> AsyncIterator[bytes]:
        return self.iter_raw()

    def __iter__(self) -> Iterator[bytes]:  # pragma: no cover - never iterated synchronously
        raise ResponseNotReadError(self)

    def __repr__(self) -> str:
        kind = f", Content-Type: {self.content_type}" if self.content_type else ""
        return f"<HttpxTransportResponse: {self.status_code} {self.reason}{kind}>"


class HttpxTransport(AsyncHttpTransport):  # type: ignore[type-arg]
    """azure-core async transport on `httpx.AsyncClient` (asyncio and trio).

    Keyword arguments (all optional): ``connection_verify`` (default ``True``),
    ``connection_cert``, ``connection_timeout`` and ``read_timeout`` (seconds, default 300 as in
    azure-core), ``use_env_settings`` (proxies and ``SSL_CERT_FILE`` from the environment,
    default ``True``), ``data_block_size``, and ``client``: an `httpx.AsyncClient` to use (then
    the caller owns it and it is not closed here). Other keywords (an azure-identity credential
    hands its options to the transport too) are ignored.

    Usable as ``async with``; `open` is implicit in `send`. After `close`, `send` reopens.
    """

    def __init__(
        self,
        *,
        connection_verify: VerifyType = True,
        connection_cert: CertType = None,
        connection_timeout: float = _DEFAULT_TIMEOUT,
        read_timeout: float = _DEFAULT_TIMEOUT,
        use_env_settings: bool = True,
        data_block_size: int = _BLOCK_SIZE,
        client: httpx.AsyncClient | None = None,
        **_ignored: Any,
    ) -> None:
        self._verify = connection_verify
        self._cert = connection_cert
        self._connect_timeout = connection_timeout
        self._read_timeout = read_timeout
        self._trust_env = use_env_settings
        self._block_size = data_block_size
        self._external = client
        # One client per (verify, cert): httpx sets TLS per client, azure-core per request.
        self._clients: dict[tuple[object, object], httpx.AsyncClient] = {}

    def __repr__(self) -> str:
        return (
            f"<HttpxTransport clients={len(self._clients)} external={self._external is not None}>"
        )

    async def __aenter__(self) -> HttpxTransport:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        if self._external is None:
            self._client_for(self._verify, self._cert)

    async def close(self) -> None:
        clients, self._clients = self._clients, {}
        with anyio.CancelScope(shield=True):
            for client in clients.values():
                await client.aclose()

    async def sleep(self, duration: float) -> None:
        await anyio.sleep(duration)

    def _client_for(self, verify: VerifyType, cert: CertType) -> httpx.AsyncClient:
        if self._external is not None:
            return self._external
        key = (verify if not isinstance(verify, ssl.SSLContext) else id(verify), cert)
        client = self._clients.get(key)
        if client is None:
            client = httpx.AsyncClient(
                verify=_ssl_context(verify, cert),
                trust_env=self._trust_env,
                follow_redirects=False,
            )
            self._clients[key] = client
        return client

    async def send(self, request: Any, **kwargs: Any) -> HttpxTransportResponse:
        """Send ``request`` (azure-core rest or legacy `HttpRequest`); the body is read whole."""
        if kwargs.pop("proxies", None):
            raise ServiceRequestError(
                "per-request 'proxies' are not supported by HttpxTransport; "
                "set HTTPS_PROXY in the environment instead"
            )
        kwargs.pop("stream", None)  # the body is always read: see the module docstring
        verify = kwargs.pop("connection_verify", self._verify)
        if _service_fabric_endpoint(request.url):
            # azure-identity's Service Fabric credential builds its pipeline with
            # connection_verify=False, which a transport passed in never sees: apply it here.
            verify = False
        cert = kwargs.pop("connection_cert", self._cert)
        connect = kwargs.pop("connection_timeout", self._connect_timeout)
        read = kwargs.pop("read_timeout", self._read_timeout)
        client = self._client_for(verify, cert)
        timeout = httpx.Timeout(read, connect=connect)
        headers: MutableMapping[str, str] = dict(request.headers)
        try:
            built = client.build_request(
                request.method,
                request.url,
                headers=headers,
                timeout=timeout,
                **_body(request),
            )
            response = await client.send(built, stream=True)
            try:
                content = await response.aread()
            finally:
                await response.aclose()
        except httpx.ConnectTimeout as exc:
            raise ServiceRequestTimeoutError(
                root_cause_text(exc) or "connect timed out", error=exc
            ) from exc
        except (httpx.ConnectError, httpx.UnsupportedProtocol, httpx.ProxyError) as exc:
            raise ServiceRequestError(root_cause_text(exc), error=exc) from exc
        except httpx.TimeoutException as exc:
            raise ServiceResponseTimeoutError(
                root_cause_text(exc) or "read timed out", error=exc
            ) from exc
        except httpx.TransportError as exc:
            raise ServiceResponseError(root_cause_text(exc), error=exc) from exc
        return HttpxTransportResponse(request, response, content, self._block_size)


class SharedTransport(AsyncHttpTransport):  # type: ignore[type-arg]
    """A transport shared by several credentials: `close` is a no-op (the owner closes the
    inner transport). Each short-lived credential closes its pipeline when it is closed."""

    def __init__(self, inner: AsyncHttpTransport) -> None:  # type: ignore[type-arg]
        self.inner = inner

    async def __aenter__(self) -> SharedTransport:
        return self

    async def __aexit__(self, *args: Any) -> None:
        return None

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        return None

    async def sleep(self, duration: float) -> None:
        await anyio.sleep(duration)

    async def send(self, request: Any, **kwargs: Any) -> Any:
        return await self.inner.send(request, **kwargs)
