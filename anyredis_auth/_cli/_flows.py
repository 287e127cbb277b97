"""Choosing an Entra ID flow on the command line, for `token`, `ping` and `exec`.

Secrets never come from the command line (other users can read it in the process list): the
client secret comes from ``AZURE_CLIENT_SECRET`` and a certificate's password from
``AZURE_CLIENT_CERTIFICATE_PASSWORD``, as azure-identity's own environment credential reads them.
"""

from __future__ import annotations

import argparse
import base64
import os
from pathlib import Path
from typing import Any

from .._entra import (
    ClientCertificate,
    EntraIdCredentialsProvider,
    ManagedIdentityCredentialOptions,
    UserAssignedId,
)

__all__ = ["FLOWS", "add_flow_arguments", "provider_from_args"]

FLOWS = ("developer-tools", "client-secret", "certificate", "managed-identity", "default")


def add_flow_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    group = parser.add_argument_group("Entra ID")
    group.add_argument(
        "--flow",
        choices=FLOWS,
        required=required,
        help="how to get the token" + ("" if required else " (default: the URL's own password)"),
    )
    group.add_argument("--tenant-id", default=os.environ.get("AZURE_TENANT_ID"))
    group.add_argument(
        "--client-id",
        default=os.environ.get("AZURE_CLIENT_ID"),
        help="the app (client-secret, certificate) or the user-assigned managed identity",
    )
    group.add_argument(
        "--certificate",
        type=Path,
        default=os.environ.get("AZURE_CLIENT_CERTIFICATE_PATH"),
        help="PKCS12 file (binary or base64) for --flow certificate",
    )
    group.add_argument("--scope", action="append", help="token scope (repeatable)")
    group.add_argument("--authority", help="another cloud or a private authority (host or URL)")
    group.add_argument("--ca-file", help="CA bundle that signs a private authority's certificate")


def _need(value: str | None, what: str, variable: str) -> str:
    if not value:
        raise ValueError(f"{what} is missing: pass it as an option or set {variable}")
    return value


def _certificate(path: Path) -> ClientCertificate:
    data = path.read_bytes()
    try:
        text = data.decode("ascii").strip()
        base64.b64decode(text, validate=True)
    except (UnicodeDecodeError, ValueError):
        text = base64.b64encode(data).decode()  # a binary PKCS12 file
    return ClientCertificate(text, os.environ.get("AZURE_CLIENT_CERTIFICATE_PASSWORD"))


def provider_from_args(args: argparse.Namespace) -> EntraIdCredentialsProvider | None:
    """The provider the options ask for, or None when no flow is chosen."""
    flow = args.flow
    if flow is None:
        return None
    options: dict[str, Any] = {}
    if args.authority:
        options["authority"] = args.authority
        options["disable_instance_discovery"] = True
    if args.ca_file:
        options["connection_verify"] = args.ca_file
    scopes = args.scope or ["https://redis.azure.com/.default"]
    if flow == "client-secret":
        return EntraIdCredentialsProvider.new_client_secret_with_scopes(
            _need(args.tenant_id, "the tenant id", "AZURE_TENANT_ID"),
            _need(args.client_id, "the client id", "AZURE_CLIENT_ID"),
            _need(
                os.environ.get("AZURE_CLIENT_SECRET"), "the client secret", "AZURE_CLIENT_SECRET"
            ),
            scopes,
            options,
        )
    if flow == "certificate":
        if args.certificate is None:
            raise ValueError(
                "no certificate: pass --certificate or set AZURE_CLIENT_CERTIFICATE_PATH"
            )
        return EntraIdCredentialsProvider.new_client_certificate_with_scopes(
            _need(args.tenant_id, "the tenant id", "AZURE_TENANT_ID"),
            _need(args.client_id, "the client id", "AZURE_CLIENT_ID"),
            _certificate(args.certificate),
            scopes,
            options,
        )
    if flow == "managed-identity":
        if args.client_id:
            identity = ManagedIdentityCredentialOptions(
                user_assigned_id=UserAssignedId.client_id(args.client_id)
            )
            return EntraIdCredentialsProvider.new_user_assigned_managed_identity_with_scopes(
                scopes, identity
            )
        return EntraIdCredentialsProvider.new_system_assigned_managed_identity_with_scopes(
            scopes, options or None
        )
    if flow == "default":
        return EntraIdCredentialsProvider.new_default_azure_credential_with_scopes(
            scopes, options or None
        )
    return EntraIdCredentialsProvider.new_developer_tools_with_scopes(scopes, options or None)
