"""The command line, run as users run it: a subprocess."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests import _secrets
from tests._servers import ServerProcess


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "anyredis_auth", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    _secrets.seen(result.stdout)
    _secrets.seen(result.stderr)
    return result


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_demo_runs_a_clean_workload_and_stops_its_server(backend: str) -> None:
    result = run_cli(
        "--backend", backend, "demo", "--duration", "3.5", "--concurrency", "10",
        "--token-lifetime", "1.5",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "0 errors, 0 wrong replies" in result.stdout
    summary = result.stdout.splitlines()[-1]
    rotations = int(summary.split(" token rotations")[0].rsplit(" ", 1)[1])
    reauths = int(summary.split(" re-auths")[0].rsplit(" ", 1)[1])
    assert rotations >= 2 and reauths == rotations, summary
    assert "expires in" in result.stdout
    port = result.stdout.split("127.0.0.1:", 1)[1].split()[0]
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert f"--port {port}" not in ps  # the server it started is gone


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_ping_and_exec(server: ServerProcess, backend: str) -> None:
    assert run_cli("--backend", backend, "ping", server.url).stdout.strip() == '"PONG"'
    result = run_cli("--backend", backend, "exec", server.url, "RPUSH", "cli:list", "a", "b")
    assert result.returncode == 0 and result.stdout.startswith("(integer)")
    result = run_cli("--backend", backend, "exec", server.url, "LRANGE", "cli:list", "0", "-1")
    assert result.stdout.splitlines()[-2:] == ['1) "a"', '2) "b"']
    result = run_cli("exec", server.url, "INCR", "cli:list")
    assert result.returncode == 1 and result.stdout.startswith("(error) WRONGTYPE")
    server.command("DEL", "cli:list")


def test_errors_are_one_line_without_secrets(server: ServerProcess) -> None:
    server.add_user("cli-user", "right")
    secret = "wrong-secret-value"
    cases = [
        ("ping", server.url.replace("redis://", f"redis://cli-user:{secret}@")),
        ("ping", f"redis://cli-user:{secret}@127.0.0.1:1"),
        ("ping", f"http://cli-user:{secret}@h"),
    ]
    for command, url in cases:
        result = run_cli(command, url)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("anyredis-auth: error: ")
        assert secret not in result.stderr + result.stdout
    debug = run_cli("--debug", "ping", cases[0][1])
    assert "Traceback" in debug.stderr and secret not in debug.stderr


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_demo_through_azure_identity_and_the_local_authority(backend: str) -> None:
    result = run_cli(
        "--backend", backend, "demo", "--identity", "entra", "--duration", "3.5",
        "--concurrency", "10", "--token-lifetime", "2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "client-secret flow against a local Entra ID authority" in result.stdout
    summary = result.stdout.splitlines()[-1]
    assert "0 errors, 0 wrong replies" in summary
    rotations = int(summary.split(" token rotations")[0].rsplit(" ", 1)[1])
    assert rotations >= 1 and f"{rotations} re-auths" in summary, summary
    assert "eyJ" not in result.stdout + result.stderr  # no JWT ever printed


def test_ctrl_c_stops_the_demo_and_everything_it_started() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "anyredis_auth", "demo", "--duration", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    first = process.stdout.readline()  # "started redis-server on 127.0.0.1:PORT ..."
    port = first.split("127.0.0.1:", 1)[1].split()[0]
    time.sleep(2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    _secrets.seen(out + err)
    assert process.returncode == 130, err
    assert err.strip().splitlines()[-1] == "interrupted"
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert f"--port {port}" not in ps


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("where", ["before", "after"])
def test_global_options_before_or_after_the_subcommand(
    server: ServerProcess, backend: str, where: str
) -> None:
    options = ["--backend", backend, "--debug"]
    args = [*options, "ping", server.url] if where == "before" else ["ping", server.url, *options]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '"PONG"'
    if backend == "trio":  # the loop really is the one asked for
        probe = (
            [*options, "demo", "--duration", "-1"]
            if where == "before"
            else ["demo", "--duration", "-1", *options]
        )
        shown = run_cli(*probe)
        assert f"(backend: {backend})" in shown.stdout, shown.stderr


def test_a_wrong_backend_after_the_subcommand_is_refused() -> None:
    result = run_cli("demo", "--backend", "curio")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_token_help_and_behaviour_agree() -> None:
    top = run_cli("--help").stdout
    assert "the token itself only with --show-token" in " ".join(top.split())
    assert "never the token itself" not in top
    help_text = " ".join(run_cli("token", "--help").stdout.split())
    assert "printed only with --show-token" in help_text
    assert "also print the token itself" in help_text
