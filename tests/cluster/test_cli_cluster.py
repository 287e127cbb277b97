"""The command line on a Redis Cluster, run as users run it (a subprocess): ``ping --cluster``,
``exec --cluster``, ``demo --cluster``, and the Azure Managed Redis cluster example against the
local cluster and the offline identity rig."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from anyredis_auth.testing.cluster import ClusterNode
from anyredis_auth.testing.entra import IdentityRig
from tests import _secrets
from tests.client.test_cli import run_cli
from tests.cluster.conftest import RecordingCluster, cluster_binary_or_skip
from tests.test_examples import EXAMPLES

BACKENDS = ["asyncio", "trio"]


@pytest.fixture
def cli_url(cluster: RecordingCluster) -> Iterator[str]:
    """The cluster's seed URL with a user of its own (on every node), removed afterwards."""
    password = _secrets.issued("cli-cluster-password-value")
    cluster.add_user("cli-cluster-user", password)
    yield cluster.url.replace("redis://", f"redis://cli-cluster-user:{password}@")
    cluster.delete_user("cli-cluster-user")


def key_on(cluster: RecordingCluster, primary: ClusterNode, prefix: str) -> str:
    for index in range(1000):
        if cluster.node_for_key(key := f"{prefix}{index}") is primary:
            return key
    raise AssertionError("no key found for that primary")


def cluster_ports(text: str) -> set[str]:
    return set(re.findall(r"127\.0\.0\.1:(\d+)", text))


def still_running(ports: set[str]) -> set[str]:
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    return {port for port in ports if f"--port {port} " in ps or ps.endswith(f"--port {port}")}


@pytest.mark.parametrize("backend", BACKENDS)
def test_ping_cluster_answers_from_every_primary(
    cluster: RecordingCluster, cli_url: str, backend: str
) -> None:
    result = run_cli("--backend", backend, "ping", "--cluster", cli_url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    primaries = cluster.primaries()
    assert len(lines) == len(primaries) + 1
    assert all(line.startswith('"PONG" from ') for line in lines[:-1]), lines
    answered = {int(line.split(":")[1].split()[0]) for line in lines[:-1]}
    assert answered == {node.port for node in primaries}
    assert lines[-1] == "cluster: 6 nodes (3 primaries, 3 replicas)"
    assert "cli-cluster-password-value" not in result.stdout + result.stderr


@pytest.mark.parametrize("backend", BACKENDS)
def test_exec_cluster_routes_by_slot(cluster: RecordingCluster, cli_url: str, backend: str) -> None:
    keys = [key_on(cluster, node, "cli:exec:") for node in cluster.primaries()]
    try:
        for index, key in enumerate(keys):
            result = run_cli(
                "--backend", backend, "exec", cli_url, "--cluster", "SET", key, f"v{index}"
            )
            assert result.returncode == 0 and result.stdout.strip() == '"OK"', result.stderr
            # It landed on the primary that serves its slot.
            assert cluster.node_for_key(key).command("GET", key) == f"v{index}".encode()
        result = run_cli("--backend", backend, "exec", "--cluster", cli_url, "GET", keys[1])
        assert result.stdout.strip() == '"v1"'
        result = run_cli("--backend", backend, "exec", "--cluster", cli_url, "MGET", *keys)
        assert result.stdout.splitlines() == ['1) "v0"', '2) "v1"', '3) "v2"']
        result = run_cli("--backend", backend, "exec", "--cluster", cli_url, "DBSIZE")
        assert result.returncode == 0, result.stderr
        assert int(result.stdout.split("(integer) ")[1]) >= 3  # summed over the primaries
        result = run_cli("exec", "--cluster", cli_url, "LPUSH", keys[2], "x")
        assert result.returncode == 1 and result.stdout.startswith("(error) WRONGTYPE")
    finally:
        for key in keys:
            cluster.node_for_key(key).command("DEL", key)


def test_exec_without_cluster_follows_no_redirect(cluster: RecordingCluster, cli_url: str) -> None:
    """Without ``--cluster`` the command goes to the seed node only: its MOVED is the answer."""
    key = key_on(cluster, cluster.primaries()[1], "cli:moved:")
    result = run_cli("exec", cli_url, "GET", key)
    assert result.returncode == 1 and result.stdout.startswith("(error) MOVED")


def summary_figures(stdout: str) -> tuple[int, list[tuple[int, int, int]]]:
    """The demo's token rotations, and for each primary (commands, re-auths, connects)."""
    lines = stdout.splitlines()
    done = lines[-1]
    assert done.startswith("done: ") and "0 errors, 0 wrong replies" in done, done
    rotations = int(done.split(" token rotations")[0].rsplit(" ", 1)[1])
    nodes = []
    for line in lines[-4:-1]:
        match = re.search(r": ([\d,]+) commands, (\d+) re-auths, connects (\d+), 0 errors$", line)
        assert match is not None, line
        nodes.append((int(match[1].replace(",", "")), int(match[2]), int(match[3])))
    assert sum(node[1] for node in nodes) == int(done.split(" re-auths")[0].rsplit(" ", 1)[1])
    return rotations, nodes


@pytest.mark.parametrize(("backend", "kind"), [("asyncio", "redis"), ("trio", "valkey")])
def test_demo_cluster_rotates_tokens_on_every_node(backend: str, kind: str) -> None:
    cluster_binary_or_skip(kind)
    result = run_cli(
        "--backend", backend, "demo", "--cluster", "--server", kind, "--duration", "8",
        "--concurrency", "12", "--token-lifetime", "3", timeout=180,
    )  # fmt: skip
    # 3 s tokens, refreshed at half their life: 1.5 s of margin for every node's in-line AUTH
    # on a loaded 2-core machine (1.5 s tokens left too little: a node was dropped).
    assert result.returncode == 0, result.stderr
    assert f"started {kind}-server cluster" in result.stdout
    assert f"(backend: {backend})" in result.stdout
    assert "each token is its own user on every node" in result.stdout
    rotations, nodes = summary_figures(result.stdout)
    assert rotations >= 2, result.stdout
    for commands, reauths, connects in nodes:
        # Every node's session re-authenticated in line (a rotation in the last moment may
        # not have reached it yet) and was never dropped and reconnected.
        assert commands > 0 and reauths >= max(1, rotations - 1) and connects == 1, result.stdout
    expired = int(result.stdout.splitlines()[-1].split(" tokens expired")[0].rsplit(" ", 1)[1])
    assert expired >= 1  # token users were deleted under the running workload
    # Live per-node figures were shown, then everything the demo started is gone.
    assert re.search(r"ops/s  re-auths \d+ +errors 0 +127\.0\.0\.1:\d+ \(primary", result.stdout)
    ports = cluster_ports(result.stdout.split("\n", 2)[1])
    assert len(ports) == 6
    assert not still_running(ports)


def test_ctrl_c_stops_the_cluster_demo_and_every_node() -> None:
    cluster_binary_or_skip("redis")
    process = subprocess.Popen(
        [sys.executable, "-m", "anyredis_auth", "demo", "--cluster", "--server", "redis",
         "--duration", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        process.stdout.readline()  # "starting a local redis cluster ..."
        started = process.stdout.readline()  # "started redis-server cluster: primaries ..."
        ports = cluster_ports(started)
        assert len(ports) == 6, started
        for line in iter(process.stdout.readline, ""):  # the workload's first figures
            if "ops/s" in line:
                break
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    _secrets.seen(started + out + err)
    assert process.returncode == 130, err
    assert err.strip().splitlines()[-1] == "interrupted"
    assert not still_running(ports)


@pytest.fixture(scope="module")
def rig() -> Iterator[IdentityRig]:
    with IdentityRig() as identity_rig:
        yield identity_rig


def run_example(url: str, *args: str, env: dict[str, str]) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_"))}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "azure_managed_redis_cluster.py"), "--url", url, *args],
        capture_output=True, text=True, timeout=60, check=False, env={**base, **env},
    )  # fmt: skip
    _secrets.seen(result.stdout)
    _secrets.seen(result.stderr)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_azure_managed_redis_cluster_example(
    cluster: RecordingCluster, rig: IdentityRig, backend: str
) -> None:
    rig.reset()
    secret = _secrets.issued("cluster-example-client-secret")
    rig.on_issue.append(
        cluster.add_user_password
    )  # each token: a password of its oid, on every node
    app = rig.add_app(secret=secret)
    default_env = {
        "AZURE_TENANT_ID": rig.tenant_id,
        "AZURE_CLIENT_ID": app.client_id,
        "AZURE_CLIENT_SECRET": secret,
        "AZURE_AUTHORITY_HOST": rig.authority,
    }
    expected = [
        "cluster: 6 nodes, 3 primaries",
        "MGET -> [b'1', b'2', b'3']",
        "pipeline -> [2, 3]",
        "transaction -> [1, b'ada']",
    ]
    out = run_example(cluster.url, "--ca-file", rig.ca_file, "--backend", backend, env=default_env)
    assert f"logged in as {app.oid}" in out
    assert all(line in out.splitlines() for line in expected), out

    identity = rig.add_managed_identity(system=True)
    out = run_example(cluster.url, "--managed-identity", "--backend", backend,
                      env=rig.imds_environment())  # fmt: skip
    assert f"logged in as {identity.oid}" in out
    assert all(line in out.splitlines() for line in expected), out
    for key in ("example:a", "user:{42}:visits"):  # the example cleans up after itself
        assert cluster.node_for_key(key).command("EXISTS", key) == 0
    for oid in (app.oid, identity.oid):
        cluster.delete_user(oid)
    rig.reset()
