"""The command line's Entra ID flows against the offline rig: `token`, and `ping`/`exec` with a
flow. The CLI runs as a subprocess; the rig serves it from this process."""

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

SECRET = secret("cli-client-secret-value-42")


def run_cli(*args: str, env: dict[str, str], scan: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the CLI; its output joins the suite's secrets scan unless the test asked for a
    secret on purpose (``--show-token``)."""
    result = subprocess.run(
        [sys.executable, "-m", "anyredis_auth", *args],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip
    if scan:
        _secrets.seen(result.stdout)
        _secrets.seen(result.stderr)
    return result


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_"))}
    env.update(extra)
    return env


def rig_options(rig: IdentityRig) -> list[str]:
    return ["--authority", rig.authority, "--ca-file", rig.ca_file]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_token_shows_claims_never_the_token(rig: IdentityRig, backend: str) -> None:
    app = rig.add_app(secret=SECRET)
    env = clean_env(AZURE_CLIENT_SECRET=SECRET)
    args = [
        "--backend", backend, "token", "--flow", "client-secret",
        "--tenant-id", rig.tenant_id, "--client-id", app.client_id, *rig_options(rig),
    ]  # fmt: skip
    result = run_cli(*args, env=env)
    assert result.returncode == 0, result.stderr
    token = rig.issued[-1][1]
    assert f"oid:      {app.oid}" in result.stdout
    assert f"tenant:   {rig.tenant_id}" in result.stdout
    assert "audience: https://redis.azure.com" in result.stdout
    assert token not in result.stdout and SECRET not in result.stdout
    shown = run_cli(*args, "--show-token", env=env, scan=False)
    assert rig.issued[-1][1] in shown.stdout  # only when asked


def test_token_with_certificate_managed_identity_and_developer_tools(
    rig: IdentityRig, tmp_path: Path
) -> None:
    data, certificate = make_client_certificate("cert-password-123")
    app = rig.add_app(certificate=certificate)
    path = tmp_path / "app.pfx"
    path.write_bytes(base64.b64decode(data))  # a binary PKCS12 file, as exported
    result = run_cli(
        "token", "--flow", "certificate", "--tenant-id", rig.tenant_id,
        "--client-id", app.client_id, "--certificate", str(path), *rig_options(rig),
        env=clean_env(AZURE_CLIENT_CERTIFICATE_PASSWORD="cert-password-123"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"oid:      {app.oid}" in result.stdout

    identity = rig.add_managed_identity(system=True)
    result = run_cli("token", "--flow", "managed-identity", env=clean_env(**rig.imds_environment()))
    assert result.returncode == 0, result.stderr
    assert f"oid:      {identity.oid}" in result.stdout

    folder = rig.write_cli(tmp_path / "bin")
    result = run_cli(
        "token", "--flow", "developer-tools",
        env=clean_env(PATH=f"{folder}:/usr/bin:/bin", TZ="UTC"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"oid:      {rig.cli_oid}" in result.stdout


def test_ping_and_exec_with_a_flow(
    rig: IdentityRig, server: ServerProcess, acl: Callable[[str, str], None]
) -> None:
    app = rig.add_app(secret=SECRET)
    env = clean_env(AZURE_CLIENT_SECRET=SECRET, AZURE_TENANT_ID=rig.tenant_id,
                    AZURE_CLIENT_ID=app.client_id)  # fmt: skip
    flow = ["--flow", "client-secret", *rig_options(rig)]
    result = run_cli("ping", server.url, *flow, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '"PONG"'
    result = run_cli("exec", server.url, "ACL", "WHOAMI", *flow, env=env)
    assert result.stdout.strip() == f'"{app.oid}"'


def test_flow_errors_are_one_line(rig: IdentityRig, server: ServerProcess) -> None:
    app = rig.add_app(secret=SECRET)
    wrong = secret("a-wrong-client-secret-value")
    cases = [
        (["token", "--flow", "client-secret", "--client-id", app.client_id], {}, "tenant id"),
        (["token", "--flow", "client-secret", "--tenant-id", rig.tenant_id,
          "--client-id", app.client_id, *rig_options(rig)], {"AZURE_CLIENT_SECRET": wrong},
         "AADSTS"),
        (["ping", "redis://cache.example.net:6380", "--flow", "managed-identity"], {},
         "clear text"),
    ]  # fmt: skip
    for args, extra, message in cases:
        result = run_cli(*args, env=clean_env(**extra))
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.stderr
        assert wrong not in result.stderr
