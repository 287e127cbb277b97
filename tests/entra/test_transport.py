"""Our azure-core transport on httpx, against azure-core's own pipeline and the rig."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

import anyio
import pytest
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.core.pipeline import AsyncPipeline
from azure.core.pipeline.policies import AsyncRetryPolicy, ContentDecodePolicy, HeadersPolicy
from azure.core.pipeline.transport import HttpRequest as LegacyHttpRequest
from azure.core.rest import HttpRequest

from anyredis_auth._entra._transport import HttpxTransport
from anyredis_auth.testing.entra import IdentityRig

pytestmark = pytest.mark.anyio


def pipeline(rig: IdentityRig, **retry: object) -> AsyncPipeline:  # type: ignore[type-arg]
    transport = HttpxTransport(connection_verify=rig.ca_file)
    policies: list[Any] = [HeadersPolicy(), ContentDecodePolicy(), AsyncRetryPolicy(**retry)]
    return AsyncPipeline(transport, policies=policies)


def discovery(rig: IdentityRig) -> str:
    return f"{rig.authority}/{rig.tenant_id}/v2.0/.well-known/openid-configuration"


async def test_get_json_through_a_real_pipeline(rig: IdentityRig) -> None:
    async with pipeline(rig) as p:
        request = HttpRequest("GET", discovery(rig), params={"a": "b c"})
        response = await p.run(request, stream=False)
    http = response.http_response
    assert http.status_code == 200 and http.reason == "OK"
    assert http.content_type.startswith("application/json")
    assert http.headers["content-type"] == http.content_type  # case-insensitive headers
    body = response.context[ContentDecodePolicy.CONTEXT_NAME]
    assert body["token_endpoint"].endswith("/oauth2/v2.0/token")
    assert json.loads(http.text()) == body == http.json()
    assert http.body() == http.content == await http.read()
    assert b"".join([chunk async for chunk in http.iter_bytes()]) == http.body()
    method, path, _, _ = rig.requests[-1]
    assert (method, path) == ("GET", f"/{rig.tenant_id}/v2.0/.well-known/openid-configuration")


async def test_form_post_is_url_encoded(rig: IdentityRig) -> None:
    form = {"grant_type": "client_credentials", "scope": "https://x/.default y", "n": "ü&="}
    request = HttpRequest(
        "POST",
        f"{rig.authority}/{rig.tenant_id}/oauth2/v2.0/token",
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    async with pipeline(rig) as p:
        response = await p.run(request)
    assert response.http_response.status_code == 400  # unknown client: AADSTS JSON
    assert "AADSTS700016" in response.http_response.json()["error_description"]
    _, _, headers, body = rig.requests[-1]
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert {key: values[0] for key, values in parse_qs(body.decode()).items()} == form


async def test_legacy_request_bodies(rig: IdentityRig) -> None:
    url = f"{rig.authority}/echo"
    async with pipeline(rig) as p:
        legacy = LegacyHttpRequest("POST", url)
        legacy.set_json_body({"a": 1})
        await p.run(legacy)
        assert json.loads(rig.requests[-1][3]) == {"a": 1}
        legacy = LegacyHttpRequest("POST", url)
        legacy.set_bytes_body(b"\x00raw")
        await p.run(legacy)
        assert rig.requests[-1][3] == b"\x00raw"
        await p.run(HttpRequest("POST", url, content=b"content"))
        assert rig.requests[-1][3] == b"content"
        await p.run(HttpRequest("POST", url, files={"f": ("n.txt", b"file-data", "text/plain")}))
        _, _, headers, body = rig.requests[-1]
        assert headers["Content-Type"].startswith("multipart/form-data; boundary=")
        assert b'filename="n.txt"' in body and b"file-data" in body


async def test_connection_refused_is_a_service_request_error(rig: IdentityRig) -> None:
    rig.stop_authority()
    async with pipeline(rig, retry_total=0) as p:
        with pytest.raises(ServiceRequestError):
            await p.run(HttpRequest("GET", discovery(rig)))


async def test_dropped_connection_is_a_service_response_error(rig: IdentityRig) -> None:
    rig.fail("discovery", "drop")
    async with pipeline(rig, retry_total=0) as p:
        with pytest.raises(ServiceResponseError):
            await p.run(HttpRequest("GET", discovery(rig)))


async def test_untrusted_certificate_is_refused(rig: IdentityRig) -> None:
    async with AsyncPipeline(HttpxTransport(), policies=[AsyncRetryPolicy(retry_total=0)]) as p:
        with pytest.raises(ServiceRequestError):
            await p.run(HttpRequest("GET", discovery(rig)))


async def test_retry_policy_sleeps_with_anyio(rig: IdentityRig) -> None:
    """azure-core's retry policy sleeps through the transport: on trio too."""
    rig.fail("discovery", "http500", times=2)
    async with pipeline(rig, retry_total=3, retry_backoff_factor=0.01) as p:
        response = await p.run(HttpRequest("GET", discovery(rig)))
    assert response.http_response.status_code == 200


async def test_cancellation_aborts_a_hanging_request_at_once(rig: IdentityRig) -> None:
    rig.fail("discovery", "hang", seconds=30)
    async with pipeline(rig) as p:
        started = time.monotonic()
        with anyio.move_on_after(0.2) as scope:
            await p.run(HttpRequest("GET", discovery(rig)))
        assert scope.cancelled_caught
        assert time.monotonic() - started < 1.0
        # The transport stays usable after a cancelled request.
        response = await p.run(HttpRequest("GET", discovery(rig)))
        assert response.http_response.status_code == 200


async def test_read_timeout_per_request(rig: IdentityRig) -> None:
    rig.fail("discovery", "hang", seconds=30)
    async with pipeline(rig, retry_total=0) as p:
        with pytest.raises(ServiceResponseError):  # ServiceResponseTimeoutError
            await p.run(HttpRequest("GET", discovery(rig)), read_timeout=0.2)


async def test_reopens_after_close(rig: IdentityRig) -> None:
    transport = HttpxTransport(connection_verify=rig.ca_file)
    async with transport:
        first = await transport.send(HttpRequest("GET", discovery(rig)))
    second = await transport.send(HttpRequest("GET", discovery(rig)))
    await transport.close()
    assert first.status_code == second.status_code == 200
    assert "HttpxTransport" in repr(transport)
