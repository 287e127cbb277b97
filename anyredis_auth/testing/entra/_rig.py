"""`IdentityRig`: an offline stand-in for Microsoft Entra ID that the real azure-identity talks to.

Two threaded HTTP servers on loopback:

- the authority, over HTTPS with a `trustme` CA (``rig.ca_file``): point a credential at it with
  ``authority=rig.authority`` and trust it with ``connection_verify=rig.ca_file`` (our httpx
  transport) or ``REQUESTS_CA_BUNDLE`` / ``SSL_CERT_FILE`` (requests / MSAL, sync credentials);
  MSAL also needs ``disable_instance_discovery=True`` for a non-Microsoft host;
- the managed-identity endpoints over plain HTTP, as IMDS and App Service are: select them with
  ``rig.imds_environment()`` (``AZURE_POD_IDENTITY_AUTHORITY_HOST``) or
  ``rig.app_service_environment()`` (``IDENTITY_ENDPOINT`` + ``IDENTITY_HEADER``).

Fake ``az`` and ``azd`` executables (``rig.write_cli(folder)``) get their tokens from the rig.

Every identity has a fixed ``oid``; each issued token calls the ``on_issue(oid, token)`` hooks
before the response leaves, so a test can add the token as a password of the ACL user ``oid``.
Failures are scripted per route (``"token"``, ``"discovery"``, ``"imds"``, ``"appservice"``,
``"servicefabric"``, ``"cli"``): ``rig.fail("token", "aadsts")``, or any HTTP status with
``rig.fail("imds", "status", status=503)``. Test infrastructure: not used by the library.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import ssl
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ._cli import write_fake_cli
from ._handler import RigHandler, decode_assertion
from ._tokens import TokenMinter, b64url

__all__ = ["App", "Failure", "IdentityRig", "ManagedIdentity", "make_client_certificate"]

FAILURE_KINDS = ("http500", "aadsts", "garbage", "no_token", "hang", "drop", "status")


@dataclass
class Failure:
    """A fault the rig injects into its next answers: one of `FAILURE_KINDS`.

    ``http500`` (a server error), ``aadsts`` (an Entra error body with ``code`` and
    ``description``), ``garbage`` (not JSON), ``no_token`` (JSON without a token), ``hang``
    (no answer for ``seconds``), ``drop`` (the connection is closed), ``status`` (an empty answer
    with ``status``).
    """

    kind: str
    status: int = 400
    code: int = 90002
    error: str = "invalid_request"
    description: str = "Tenant not found. Check to make sure you have the correct tenant ID."
    seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {self.kind!r}; one of {FAILURE_KINDS}")


@dataclass
class App:
    """An app registration: a client id with a secret and/or a certificate, and its oid."""

    tenant_id: str
    client_id: str
    oid: str
    secret: str | None = field(default=None, repr=False)
    certificate: x509.Certificate | None = field(default=None, repr=False)
    federated_token: str | None = field(default=None, repr=False)

    def check_assertion(self, assertion: str, token_url: str) -> str | None:
        """Why the client assertion is refused, or None when it is valid."""
        if self.federated_token is not None and assertion == self.federated_token:
            return None  # workload identity: the federated (service account) token
        if self.certificate is None:
            return "No certificate is registered for this application."
        try:
            header, payload, signing_input, signature = decode_assertion(assertion)
        except ValueError:
            return "The client assertion is not a valid JWT."
        thumbprint = b64url(self.certificate.fingerprint(hashes.SHA256()))
        if header.get("x5t#S256", "").rstrip("=") != thumbprint:
            return (
                "The certificate with identifier used to sign the client assertion "
                "is not registered on application."
            )
        if payload.get("aud") != token_url:
            return f"The audience of the client assertion must be {token_url}."
        if payload.get("iss") != self.client_id or payload.get("sub") != self.client_id:
            return "The client assertion's issuer and subject must be the client id."
        if int(payload.get("exp", 0)) < time.time():
            return "The client assertion has expired."
        key = self.certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            return "Only RSA certificates are supported."
        try:
            key.verify(
                signature,
                signing_input,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return "Client assertion contains an invalid signature."
        return None


@dataclass
class ManagedIdentity:
    """A managed identity: system-assigned (``system=True``) or user-assigned (three ids)."""

    oid: str
    client_id: str
    resource_id: str
    system: bool = False


def make_client_certificate(
    password: str | None = None, common_name: str = "anyredis-auth-test"
) -> tuple[str, x509.Certificate]:
    """A self-signed RSA certificate: (base64 PKCS12 with its key, the certificate)."""
    from datetime import datetime, timedelta, timezone

    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption()
    )
    blob = pkcs12.serialize_key_and_certificates(b"client", key, cert, None, encryption)
    return base64.b64encode(blob).decode("ascii"), cert


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, rig: IdentityRig, port: int, tls: ssl.SSLContext | None) -> None:
        self.rig = rig
        self._tls = tls
        super().__init__(("127.0.0.1", port), RigHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs in the request's own thread, not in the accept loop.
        if self._tls is None:
            super().finish_request(request, client_address)
            return
        try:
            wrapped = self._tls.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return  # a client that does not trust the rig's CA, or went away
        try:
            super().finish_request(wrapped, client_address)
        finally:
            wrapped.close()  # wrap_socket detached the plain socket: close the TLS one


class IdentityRig:
    """The offline identity provider; use as a context manager (or `start` / `close`)."""

    def __init__(
        self,
        *,
        token_lifetime: float = 3600.0,
        refresh_in: int | None = None,
        tenant_id: str | None = None,
    ) -> None:
        import trustme

        self.token_lifetime = token_lifetime
        self.refresh_in = refresh_in
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.identity_header = secrets.token_hex(16)
        self.cli_oid = str(uuid.uuid4())
        self.cli_logged_in: dict[str, bool] = {"az": True, "azd": True}
        self.on_issue: list[Callable[[str, str], None]] = []
        self.issued: list[tuple[str, str]] = []  # (oid, token), in order
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self._apps: dict[tuple[str, str], App] = {}
        self._identities: list[ManagedIdentity] = []
        self._failures: dict[str, deque[Failure]] = {}
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._ca = trustme.CA()
        self._folder = Path(tempfile.mkdtemp(prefix="anyredis-auth-rig-"))
        self.ca_file = str(self._folder / "ca.pem")
        self._ca.cert_pem.write_to_path(self.ca_file)
        leaf = self._ca.issue_cert("127.0.0.1", "localhost")
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(self._tls)
        self._authority_port = 0
        self._authority: _Server | None = None
        self._mi: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._minter: TokenMinter | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> IdentityRig:
        """Start the managed-identity endpoint and the HTTPS authority; returns the rig."""
        self._mi = self._serve(0, None)
        self.start_authority()
        return self

    def close(self) -> None:
        """Stop every endpoint and release requests held by a ``hang`` failure."""
        self._released.set()
        self.stop_authority()
        if self._mi is not None:
            self._mi.shutdown()
            self._mi.server_close()
            self._mi = None
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> IdentityRig:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _serve(self, port: int, tls: ssl.SSLContext | None) -> _Server:
        server = _Server(self, port, tls)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        self._threads.append(thread)
        return server

    def stop_authority(self) -> None:
        """Take the authority down: connections are refused until `start_authority`."""
        if self._authority is not None:
            self._authority.shutdown()
            self._authority.server_close()
            self._authority = None

    def start_authority(self) -> None:
        """(Re)start the authority on the same port as before."""
        if self._authority is None:
            self._authority = self._serve(self._authority_port, self._tls)
            self._authority_port = self._authority.server_address[1]
            self._minter = self._minter or TokenMinter(self.authority)

    # ------------------------------------------------------------------ addresses

    @property
    def authority_host(self) -> str:
        """``host:port`` of the HTTPS authority (azure-identity's ``authority``)."""
        return f"127.0.0.1:{self._authority_port}"

    @property
    def authority(self) -> str:
        """The authority (no tenant): pass it as ``authority=`` to a credential."""
        return f"https://{self.authority_host}"

    @property
    def mi_endpoint(self) -> str:
        """The URL of the local managed-identity endpoint."""
        assert self._mi is not None, "the rig is not started"
        return f"http://127.0.0.1:{self._mi.server_address[1]}"

    def imds_environment(self) -> dict[str, str]:
        """Environment variables that send ManagedIdentityCredential to the rig's IMDS."""
        return {"AZURE_POD_IDENTITY_AUTHORITY_HOST": self.mi_endpoint}

    def service_fabric_environment(self) -> dict[str, str]:
        """Environment variables that send ManagedIdentityCredential to the rig's Service Fabric
        endpoint: HTTPS with the rig's own certificate, which azure-identity does not verify
        (``connection_verify=False``) for Service Fabric."""
        return {
            "IDENTITY_ENDPOINT": f"{self.authority}/servicefabric/token",
            "IDENTITY_HEADER": self.identity_header,
            "IDENTITY_SERVER_THUMBPRINT": "0" * 40,
        }

    def app_service_environment(self) -> dict[str, str]:
        """Environment variables that send ManagedIdentityCredential to the rig's App Service."""
        return {
            "IDENTITY_ENDPOINT": f"{self.mi_endpoint}/msi/token",
            "IDENTITY_HEADER": self.identity_header,
        }

    def verify_token(
        self, oid: str | None, token: str, audience: str = "https://redis.azure.com"
    ) -> float | None:
        """As Azure Cache for Redis checks an AUTH: the token's expiry if this rig signed it
        for `audience`, it has not expired and its ``oid`` is the user name; else None."""
        claims = None if self._minter is None else self._minter.verify(token, audience)
        if claims is None or claims.get("oid") != oid:
            return None
        return float(claims["exp"])

    def authority_options(self) -> dict[str, Any]:
        """Keyword options that point an azure-identity credential at the rig (our transport)."""
        return {
            "authority": self.authority,
            "disable_instance_discovery": True,
            "connection_verify": self.ca_file,
        }

    # ------------------------------------------------------------------ identities

    def add_app(
        self,
        *,
        client_id: str | None = None,
        secret: str | None = None,
        certificate: x509.Certificate | None = None,
        federated_token: str | None = None,
        oid: str | None = None,
        tenant_id: str | None = None,
    ) -> App:
        """Register an app: a client secret, a certificate and/or a federated token (workload
        identity: the token file's content is accepted as its client assertion)."""
        app = App(
            tenant_id=tenant_id or self.tenant_id,
            client_id=client_id or str(uuid.uuid4()),
            oid=oid or str(uuid.uuid4()),
            secret=secret,
            certificate=certificate,
            federated_token=federated_token,
        )
        self._apps[(app.tenant_id, app.client_id)] = app
        return app

    def add_managed_identity(
        self, *, system: bool = False, oid: str | None = None
    ) -> ManagedIdentity:
        """A new managed identity the endpoint answers for (the system one with ``system``)."""
        client_id = str(uuid.uuid4())
        identity = ManagedIdentity(
            oid=oid or str(uuid.uuid4()),
            client_id=client_id,
            resource_id=(
                f"/subscriptions/{uuid.uuid4()}/resourcegroups/rig/providers/"
                f"Microsoft.ManagedIdentity/userAssignedIdentities/id-{client_id[:8]}"
            ),
            system=system,
        )
        self._identities.append(identity)
        return identity

    def _find_managed_identity(self, query: dict[str, str]) -> ManagedIdentity | None:
        for name, attribute in (
            ("client_id", "client_id"),
            ("object_id", "oid"),
            ("msi_res_id", "resource_id"),
            ("mi_res_id", "resource_id"),
            ("resource_id", "resource_id"),
        ):
            if name in query:
                for identity in self._identities:
                    if not identity.system and getattr(identity, attribute) == query[name]:
                        return identity
                return None
        return next((identity for identity in self._identities if identity.system), None)

    # ------------------------------------------------------------------ CLI

    def write_cli(self, folder: str | os.PathLike[str]) -> Path:
        """Write fake ``az`` and ``azd`` into ``folder`` (put it first on PATH); returns it."""
        return write_fake_cli(Path(folder), self.mi_endpoint, self.tenant_id)

    # ------------------------------------------------------------------ failures

    def fail(self, route: str, kind: str, times: int = 1, **details: Any) -> None:
        """Script the next ``times`` requests of ``route`` to fail in the way ``kind`` says."""
        failure = Failure(kind, **details)
        with self._lock:
            queue = self._failures.setdefault(route, deque())
            queue.extend([failure] * times)

    def clear_failures(self) -> None:
        """Forget every injected failure: the rig answers normally again."""
        with self._lock:
            self._failures.clear()

    def release(self) -> None:
        """End every hanging request now."""
        self._released.set()

    def reset(self) -> None:
        """Forget scripted failures, hooks, identities and records; end hanging requests;
        restart the authority if it is down (for a rig shared by several tests)."""
        with self._lock:
            self._failures.clear()
            self.on_issue.clear()
            self.issued.clear()
            self.requests.clear()
        released, self._released = self._released, threading.Event()
        released.set()
        self._apps.clear()
        self._identities.clear()
        self.cli_logged_in.update(az=True, azd=True)
        self.token_lifetime = 3600.0
        self.refresh_in = None
        self.start_authority()

    def _take_failure(self, route: str) -> Failure | None:
        with self._lock:
            queue = self._failures.get(route)
            return queue.popleft() if queue else None

    def _wait_released(self, seconds: float) -> None:
        self._released.wait(seconds)

    # ------------------------------------------------------------------ issuing

    def _record(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        with self._lock:
            self.requests.append((method, path, headers, body))

    def _issue(
        self, oid: str, tenant_id: str, audience: str, app_id: str | None
    ) -> tuple[str, int]:
        assert self._minter is not None
        token, exp = self._minter.mint(
            oid=oid,
            tenant_id=tenant_id,
            audience=audience,
            lifetime=self.token_lifetime,
            app_id=app_id,
        )
        with self._lock:
            self.issued.append((oid, token))
            hooks = list(self.on_issue)
        for hook in hooks:
            hook(oid, token)
        return token, exp

    def _openid_configuration(self, tenant: str) -> dict[str, Any]:
        base = f"{self.authority}/{tenant}"
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{self.authority}/{tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "oid", "tid"],
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
        }
