"""HTTP request handling of the identity rig: the authority, managed identity and CLI endpoints.

Wire formats follow what azure-identity 1.27 sends and parses:

- authority (HTTPS): ``GET /{tenant}/v2.0/.well-known/openid-configuration``,
  ``GET /common/discovery/instance`` (MSAL instance discovery) and
  ``POST /{tenant}/oauth2/v2.0/token`` with ``grant_type=client_credentials`` and either
  ``client_secret`` or ``client_assertion`` (a PS256 JWT signed with the app's certificate);
  errors are Entra's JSON (``error``, ``error_description`` with an ``AADSTS`` code,
  ``error_codes``, ``timestamp``, ``trace_id``, ``correlation_id``).
- IMDS (HTTP): ``GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=...``
  [``&client_id=|object_id=|msi_res_id=|resource_id=``] with ``Metadata: true``.
- App Service (HTTP): ``GET /msi/token?api-version=2019-08-01&resource=...``
  [``&client_id=|object_id=|mi_res_id=|resource_id=``] with ``X-IDENTITY-HEADER``.
- ``GET /cli/token?tool=az|azd&resource=...``: where the fake ``az``/``azd`` get their tokens.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from ._tokens import b64url_decode, resource_of

if TYPE_CHECKING:
    from ._rig import IdentityRig

__all__ = ["RigHandler"]

_TOKEN_PATH = "/oauth2/v2.0/token"
_DISCOVERY_PATH = "/v2.0/.well-known/openid-configuration"


def _aadsts(code: int, error: str, description: str) -> dict[str, Any]:
    return {
        "error": error,
        "error_description": f"AADSTS{code}: {description} Trace ID: {uuid.uuid4()} "
        f"Correlation ID: {uuid.uuid4()} Timestamp: "
        f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M:%SZ')}",
        "error_codes": [code],
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ"),
        "trace_id": str(uuid.uuid4()),
        "correlation_id": str(uuid.uuid4()),
    }


class RigHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "anyredis-auth-identity-rig/1"

    @property
    def rig(self) -> IdentityRig:
        return self.server.rig  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests read rig.requests instead

    # ------------------------------------------------------------------ plumbing

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: object) -> None:
        self._send(status, json.dumps(value).encode(), "application/json; charset=utf-8")

    def _scripted_failure(self, route: str) -> bool:
        """Apply the next scripted failure for ``route``, if any; True when it answered."""
        failure = self.rig._take_failure(route)
        if failure is None:
            return False
        kind = failure.kind
        if kind == "http500":
            self._send(500, b"Internal Server Error", "text/plain")
        elif kind == "aadsts":
            self._json(failure.status, _aadsts(failure.code, failure.error, failure.description))
        elif kind == "garbage":
            self._send(200, b"<html>this is { not json", "application/json")
        elif kind == "no_token":
            self._json(200, {"token_type": "Bearer", "expires_in": 3599})
        elif kind == "hang":
            self.rig._wait_released(failure.seconds)
            self.close_connection = True
        elif kind == "drop":
            self.close_connection = True
        elif kind == "status":
            self._json(
                failure.status,
                {"error": "scripted", "error_description": f"scripted HTTP {failure.status}"},
            )
        else:  # pragma: no cover - Failure validates its kind
            raise AssertionError(kind)
        return True

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        body = b""
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            body = self.rfile.read(length)
        self.rig._record(method, url.path, dict(self.headers), body)
        path = url.path
        handler: Callable[[], None] | None = None
        route = ""
        if method == "POST" and path.endswith(_TOKEN_PATH):
            route = "token"
            tenant = path[1 : -len(_TOKEN_PATH)]
            form = {key: values[-1] for key, values in parse_qs(body.decode()).items()}

            def handler() -> None:
                self._token(tenant, form)

        elif method == "GET" and path.endswith(_DISCOVERY_PATH):
            route = "discovery"
            tenant = path[1 : -len(_DISCOVERY_PATH)]

            def handler() -> None:
                self._json(200, self.rig._openid_configuration(tenant))

        elif method == "GET" and path == "/common/discovery/instance":
            route = "discovery"

            def handler() -> None:
                self._instance_discovery(query)

        elif method == "GET" and path == "/metadata/identity/oauth2/token":
            route = "imds"

            def handler() -> None:
                self._managed_identity(query, imds=True)

        elif method == "GET" and path == "/msi/token":
            route = "appservice"

            def handler() -> None:
                self._managed_identity(query, imds=False)

        elif method == "GET" and path == "/servicefabric/token":
            route = "servicefabric"

            def handler() -> None:
                self._service_fabric(query)

        elif method == "GET" and path == "/cli/token":
            route = "cli"

            def handler() -> None:
                self._cli(query)

        if handler is None:
            self._json(404, {"error": "not_found", "error_description": f"no route {path}"})
            return
        if self._scripted_failure(route):
            return
        handler()

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    # ------------------------------------------------------------------ authority

    def _instance_discovery(self, query: dict[str, str]) -> None:
        host = self.rig.authority_host
        self._json(
            200,
            {
                "tenant_discovery_endpoint": f"{self.rig.authority}/common{_DISCOVERY_PATH}",
                "api-version": "1.1",
                "metadata": [
                    {"preferred_network": host, "preferred_cache": host, "aliases": [host]}
                ],
            },
        )

    def _token(self, tenant: str, form: dict[str, str]) -> None:
        rig = self.rig
        if form.get("grant_type") != "client_credentials":
            self._json(
                400, _aadsts(70003, "unsupported_grant_type", "The grant type is not supported.")
            )
            return
        app = rig._apps.get((tenant, form.get("client_id", "")))
        if app is None:
            self._json(
                400,
                _aadsts(
                    700016,
                    "unauthorized_client",
                    f"Application with identifier '{form.get('client_id', '')}' was not found "
                    f"in the directory '{tenant}'.",
                ),
            )
            return
        if "client_secret" in form:
            ok = app.secret is not None and form["client_secret"] == app.secret
            if not ok:
                self._json(
                    401,
                    _aadsts(
                        7000215,
                        "invalid_client",
                        "Invalid client secret provided. Ensure the secret being sent in the "
                        "request is the client secret value, not the client secret ID.",
                    ),
                )
                return
        elif "client_assertion" in form:
            problem = app.check_assertion(form["client_assertion"], self._token_url(tenant))
            if problem is not None:
                self._json(401, _aadsts(700027, "invalid_client", problem))
                return
        else:
            self._json(
                401,
                _aadsts(
                    7000218,
                    "invalid_client",
                    "The request body must contain the following parameter: "
                    "'client_assertion' or 'client_secret'.",
                ),
            )
            return
        scope = form.get("scope", "")
        if not scope.strip():
            self._json(
                400, _aadsts(90014, "invalid_request", "The required field 'scope' is missing.")
            )
            return
        token, exp = rig._issue(app.oid, tenant, resource_of(scope.split()[0]), app.client_id)
        reply: dict[str, Any] = {
            "token_type": "Bearer",
            "expires_in": exp - int(time.time()),
            "ext_expires_in": exp - int(time.time()),
            "access_token": token,
        }
        if rig.refresh_in is not None:
            reply["refresh_in"] = rig.refresh_in
        self._json(200, reply)

    def _token_url(self, tenant: str) -> str:
        return f"{self.rig.authority}/{tenant}{_TOKEN_PATH}"

    # ------------------------------------------------------------------ managed identity

    def _service_fabric(self, query: dict[str, str]) -> None:
        rig = self.rig
        if self.headers.get("Secret") != rig.identity_header:
            self._json(401, {"error": {"code": "SecretHeaderNotFound", "message": "no Secret"}})
            return
        resource = query.get("resource", "")
        identity = rig._find_managed_identity({})
        if not resource or identity is None:
            self._json(400, {"error": {"code": "InvalidRequest", "message": "no identity"}})
            return
        token, exp = rig._issue(
            identity.oid, rig.tenant_id, resource_of(resource), identity.client_id
        )
        self._json(
            200,
            {
                "access_token": token,
                "expires_on": exp,
                "resource": resource,
                "token_type": "Bearer",
            },
        )

    def _managed_identity(self, query: dict[str, str], *, imds: bool) -> None:
        rig = self.rig
        if imds:
            if self.headers.get("Metadata", "").lower() != "true":
                self._json(
                    400,
                    {
                        "error": "invalid_request",
                        "error_description": "Required metadata header not specified",
                    },
                )
                return
        else:
            if self.headers.get("X-IDENTITY-HEADER") != rig.identity_header:
                self._json(
                    401,
                    {"statusCode": 401, "message": "Unauthorized request: wrong X-IDENTITY-HEADER"},
                )
                return
        resource = query.get("resource", "")
        if not resource:
            self._json(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "Required audience parameter not specified",
                },
            )
            return
        identity = rig._find_managed_identity(query)
        if identity is None:
            self._json(
                400,
                {"error": "invalid_request", "error_description": "Identity not found"},
            )
            return
        token, exp = rig._issue(
            identity.oid, rig.tenant_id, resource_of(resource), identity.client_id
        )
        now = int(time.time())
        reply: dict[str, Any] = {
            "access_token": token,
            "client_id": identity.client_id,
            "expires_on": str(exp),
            "resource": resource,
            "token_type": "Bearer",
        }
        if imds:
            reply.update(
                {
                    "expires_in": str(exp - now),
                    "ext_expires_in": str(exp - now),
                    "not_before": str(now),
                }
            )
        if rig.refresh_in is not None:
            reply["refresh_in"] = rig.refresh_in
        self._json(200, reply)

    # ------------------------------------------------------------------ CLI

    def _cli(self, query: dict[str, str]) -> None:
        rig = self.rig
        tool = query.get("tool", "")
        if tool not in rig.cli_logged_in:
            self._json(400, {"error": f"unknown tool {tool!r}"})
            return
        if not rig.cli_logged_in[tool]:
            self._json(200, {"logged_in": False})
            return
        resource = query.get("resource") or resource_of(query.get("scope", ""))
        token, exp = rig._issue(rig.cli_oid, rig.tenant_id, resource_of(resource), None)
        self._json(200, {"logged_in": True, "token": token, "exp": exp, "tenant": rig.tenant_id})


def decode_assertion(assertion: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, payload, signing input, signature) of a compact JWS; ValueError if malformed."""
    parts = assertion.split(".")
    if len(parts) != 3:
        raise ValueError("the client assertion is not a JWT")
    header = json.loads(b64url_decode(parts[0]))
    payload = json.loads(b64url_decode(parts[1]))
    return header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), b64url_decode(parts[2])
