"""Fixtures of the Entra ID tests: the offline identity rig, ACL users that follow its tokens.

How the rig's TLS is trusted: the authority's CA file goes to our httpx transport as
``connection_verify=rig.ca_file`` (``rig.authority_options()``); sync requests-based
credentials (MSAL) get it from ``REQUESTS_CA_BUNDLE`` (the ``requests_ca`` fixture).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from anyredis_auth import RetryConfig, TokenRefreshConfig
from anyredis_auth.testing.entra import IdentityRig
from tests._servers import ServerProcess

# Short-lived tokens rotate quickly: with a 2 s lifetime the refresher asks again after 1 s.
SHORT_LIFETIME = 2.0
FAST = TokenRefreshConfig(
    min_refresh_interval=0.5,
    request_timeout=5.0,
    retry_config=RetryConfig(max_attempts=2, initial_delay=0.05, max_delay=0.2),
)


@pytest.fixture(scope="session")
def shared_rig() -> Iterator[IdentityRig]:
    with IdentityRig() as rig:
        yield rig


def secret(value: str) -> str:
    """Register a secret with the suite-wide secrets scan (tests/_secrets.py), if present."""
    try:
        from tests import _secrets
    except ImportError:  # pragma: no cover - the scan is the suite's, not ours
        return value
    return _secrets.issued(value)


@pytest.fixture
def rig(shared_rig: IdentityRig) -> Iterator[IdentityRig]:
    """The session's rig, reset for this test; every token it issues is registered with the
    suite's secrets scan."""
    shared_rig.reset()

    def register(oid: str, token: str) -> None:
        secret(token)

    shared_rig.on_issue.append(register)
    try:
        yield shared_rig
    finally:
        shared_rig.reset()


@pytest.fixture(autouse=True)
def _clean_azure_environment(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test may reach a real Azure endpoint through the developer's environment (except the
    opt-in live tests, which need it)."""
    if request.module.__name__.endswith("test_live"):
        return
    for name in (
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_AUTHORITY_HOST",
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "IDENTITY_SERVER_THUMBPRINT",
        "IMDS_ENDPOINT",
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "AZURE_USERNAME",
        "AZURE_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """TZ=UTC: azure-identity reads azd's UTC expiry as local time."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def fake_cli(rig: IdentityRig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, utc: None) -> Path:
    """Fake ``az`` and ``azd`` first on PATH (and nothing else of Azure's)."""
    folder = rig.write_cli(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")
    return folder


@pytest.fixture
def acl(rig: IdentityRig, server: ServerProcess) -> Callable[[str, str], None]:
    """Each token the rig issues becomes a password of the ACL user named by its oid (older
    passwords stay valid, as older tokens do until they expire)."""

    def add_password(oid: str, token: str) -> None:
        server.command("ACL", "SETUSER", oid, "on", f">{token}", "~*", "&*", "+@all")

    rig.on_issue.append(add_password)
    return add_password
