"""The Entra ID examples, run as users run them, against the offline identity rig."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from anyredis_auth.testing.entra import IdentityRig, make_client_certificate
from tests import _secrets
from tests._servers import ServerProcess
from tests.entra.conftest import secret
from tests.test_examples import EXAMPLES

SECRET = secret("example-client-secret-value")


def run_example(name: str, url: str, *args: str, env: dict[str, str]) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_"))}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--url", url, *args],
        capture_output=True, text=True, timeout=60, check=False, env={**base, **env},
    )  # fmt: skip
    _secrets.seen(result.stdout)
    _secrets.seen(result.stderr)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_entra_examples(
    rig: IdentityRig,
    server: ServerProcess,
    acl: Callable[[str, str], None],
    tmp_path: Path,
    backend: str,
) -> None:
    private = ["--authority", rig.authority, "--ca-file", rig.ca_file, "--backend", backend]
    app = rig.add_app(secret=SECRET)
    app_env = {"AZURE_TENANT_ID": rig.tenant_id, "AZURE_CLIENT_ID": app.client_id,
               "AZURE_CLIENT_SECRET": SECRET}  # fmt: skip
    out = run_example("entra_client_secret.py", server.url, *private, env=app_env)
    assert f"logged in as {app.oid}" in out
    default_env = {**app_env, "AZURE_AUTHORITY_HOST": rig.authority}
    out = run_example(
        "entra_default_credential.py", server.url, "--ca-file", rig.ca_file,
        "--backend", backend, env=default_env,
    )  # fmt: skip
    assert f"logged in as {app.oid}" in out
    out = run_example("custom_token_credential.py", server.url, *private, env=app_env)
    assert f"logged in as {app.oid}" in out and "asked 1 time(s)" in out

    data, certificate = make_client_certificate("example-cert-password")
    cert_app = rig.add_app(certificate=certificate)
    path = tmp_path / "app.pfx"
    path.write_bytes(base64.b64decode(data))
    out = run_example(
        "entra_certificate.py", server.url, *private,
        env={"AZURE_TENANT_ID": rig.tenant_id, "AZURE_CLIENT_ID": cert_app.client_id,
             "AZURE_CLIENT_CERTIFICATE_PATH": str(path),
             "AZURE_CLIENT_CERTIFICATE_PASSWORD": "example-cert-password"},
    )  # fmt: skip
    assert f"logged in as {cert_app.oid}" in out

    system = rig.add_managed_identity(system=True)
    out = run_example("entra_managed_identity.py", server.url, "--backend", backend,
                      env=rig.imds_environment())  # fmt: skip
    assert f"logged in as {system.oid}" in out
    user = rig.add_managed_identity()
    user_env = {**rig.imds_environment(), "AZURE_CLIENT_ID": user.client_id}
    out = run_example("entra_managed_identity.py", server.url, "--backend", backend, env=user_env)
    assert f"logged in as {user.oid}" in out

    folder = rig.write_cli(tmp_path / "bin")
    out = run_example("entra_developer_tools.py", server.url, "--backend", backend,
                      env={"PATH": f"{folder}:/usr/bin:/bin", "TZ": "UTC"})  # fmt: skip
    assert f"logged in as {rig.cli_oid}" in out
