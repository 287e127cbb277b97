"""Certificate flow: ClientCertificate decoding, and a signed client assertion end to end."""

from __future__ import annotations

import base64
from collections.abc import Callable

import anyio
import pytest

from anyredis_auth import TokenRefreshError
from anyredis_auth._entra import ClientCertificate, EntraIdCredentialsProvider
from anyredis_auth.testing.entra import IdentityRig, make_client_certificate
from tests._servers import ServerProcess
from tests.entra._helpers import connect_and_rotate
from tests.entra.conftest import FAST, SHORT_LIFETIME, secret

PASSWORD = secret("pfx-Passw0rd!")


@pytest.fixture(scope="module")
def pfx() -> tuple[str, object]:
    return make_client_certificate(PASSWORD)


def test_decodes_a_password_protected_pkcs12(pfx: tuple[str, object]) -> None:
    certificate = ClientCertificate(pfx[0], PASSWORD)
    pem = certificate.pem_bytes()
    assert b"-----BEGIN PRIVATE KEY-----" in pem and b"-----BEGIN CERTIFICATE-----" in pem
    text = repr(certificate) + str(certificate)
    assert PASSWORD not in text and pfx[0][:20] not in text and "PRIVATE" not in text
    assert "anyredis-auth-test" in text


def test_without_password() -> None:
    data, _ = make_client_certificate(None)
    assert b"CERTIFICATE" in ClientCertificate(data).pem_bytes()


@pytest.mark.parametrize("password", ["Hunter2-not-it", None, ""])
def test_wrong_password_fails_at_construction(
    pfx: tuple[str, object], password: str | None
) -> None:
    with pytest.raises(ValueError, match="could not decode the client certificate") as caught:
        ClientCertificate(pfx[0], password)
    assert PASSWORD not in str(caught.value)
    assert pfx[0][:20] not in str(caught.value)
    if password:
        assert password not in str(caught.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("not base64 at all!", "not valid base64"),
        ("", "empty"),
        (base64.b64encode(b"definitely not pkcs12").decode(), "not PKCS12"),
    ],
)
def test_bad_data_fails_at_construction(data: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ClientCertificate(data, "x")


def test_cannot_be_pickled(pfx: tuple[str, object]) -> None:
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(ClientCertificate(pfx[0], PASSWORD))


@pytest.mark.anyio
async def test_certificate_connects_and_rotates(
    rig: IdentityRig,
    server: ServerProcess,
    acl: Callable[[str, str], None],
    key_prefix: str,
    pfx: tuple[str, object],
) -> None:
    rig.token_lifetime = SHORT_LIFETIME
    app = rig.add_app(certificate=pfx[1])  # type: ignore[arg-type]
    provider = EntraIdCredentialsProvider.new_client_certificate(
        rig.tenant_id,
        app.client_id,
        ClientCertificate(pfx[0], PASSWORD),
        refresh_config=FAST,
        **rig.authority_options(),
    )
    await connect_and_rotate(provider, server, rig, app.oid, key_prefix + "n")
    body = next(r[3] for r in rig.requests if r[0] == "POST")
    assert b"client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type" in body


@pytest.mark.anyio
async def test_unregistered_certificate_is_refused(
    rig: IdentityRig, pfx: tuple[str, object]
) -> None:
    other, _ = make_client_certificate(None)
    app = rig.add_app(certificate=pfx[1])  # type: ignore[arg-type]
    provider = EntraIdCredentialsProvider.new_client_certificate_with_scopes(
        rig.tenant_id,
        app.client_id,
        ClientCertificate(other),
        ["https://redis.azure.com/.default"],
        rig.authority_options(),
        refresh_config=FAST,
    )
    async with provider:
        with anyio.fail_after(5), pytest.raises(TokenRefreshError, match="AADSTS700027"):
            await provider.current_credentials()
