"""Azure Managed Redis with the OSS clustering policy, authenticated with Microsoft Entra ID.

With the OSS clustering policy (the one Microsoft recommends for throughput) the cache speaks
the Redis Cluster protocol on port 10000, over TLS: a client sees each shard's node and sends
every command to the node that serves its key's slot. `ClusterClient` does that, and keeps every
node's connection logged in with a fresh Entra ID token (re-authenticated in line on every
rotation, so no command fails when a token expires). Azure announces its nodes by IP while its
certificate names the cache: each node is verified against the host name of the URL you give.

Before you run it: turn on Microsoft Entra authentication on the cache and give your identity
(your user, an app, or the managed identity of the machine) a data access policy on it. Then:

    # on a laptop (az login), or anywhere DefaultAzureCredential finds an identity
    python examples/azure_managed_redis_cluster.py \\
        --url rediss://mycache.westeurope.redis.azure.net:10000

    # on an Azure VM, App Service, Container Apps or AKS: its managed identity
    # (user-assigned when AZURE_CLIENT_ID is set, system-assigned otherwise)
    python examples/azure_managed_redis_cluster.py --managed-identity \\
        --url rediss://mycache.westeurope.redis.azure.net:10000

``--backend trio`` runs it on trio. The URL may also come from ``REDIS_URL``.
"""

from __future__ import annotations

import argparse
import os

import anyio

from anyredis_auth import (
    ClusterClient,
    EntraIdCredentialsProvider,
    ManagedIdentityCredentialOptions,
    UserAssignedId,
)

SCOPES = ["https://redis.azure.com/.default"]


def provider_for(args: argparse.Namespace) -> EntraIdCredentialsProvider:
    if args.managed_identity:
        client_id = os.environ.get("AZURE_CLIENT_ID")
        if client_id:
            identity = UserAssignedId.client_id(client_id)
            return EntraIdCredentialsProvider.new_user_assigned_managed_identity_with_scopes(
                SCOPES, ManagedIdentityCredentialOptions(user_assigned_id=identity)
            )
        return EntraIdCredentialsProvider.new_system_assigned_managed_identity()
    # A private authority's CA (only the offline test rig needs it; Azure does not).
    options = {"connection_verify": args.ca_file} if args.ca_file else {}
    return EntraIdCredentialsProvider.new_default_azure_credential(**options)


async def main(args: argparse.Namespace) -> None:
    provider = provider_for(args)
    async with ClusterClient.open_with_credentials_provider(args.url, provider) as cluster:
        con = await cluster.get_async_connection()  # shared by any number of tasks
        nodes = cluster.nodes()
        primaries = sum(node.is_primary for node in nodes)
        print(f"cluster: {len(nodes)} nodes, {primaries} primaries")
        user = (await provider.current_credentials()).username  # the token's oid, never the token
        print(f"logged in as {user}")

        # One key: sent to the node that serves its slot.
        await con.set("user:{42}:name", "ada")
        # Keys in several slots: split per slot, sent to each node, merged in order (not atomic).
        await con.mset({"example:a": 1, "example:b": 2, "example:c": 3})
        print(f"MGET -> {await con.mget(['example:a', 'example:b', 'example:c'])}")
        # A pipeline: one write per node, the replies in the order the commands were queued.
        pipe = con.pipeline()
        pipe.incr("example:a").incr("example:b")
        print(f"pipeline -> {await pipe.execute()}")
        # A transaction: every key in one slot (the hash tag {42} makes sure of it).
        tx = con.pipeline(transaction=True)
        tx.incr("user:{42}:visits").get("user:{42}:name")
        print(f"transaction -> {await tx.execute()}")
        await con.delete("example:a", "example:b", "example:c", "user:{42}:visits")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--url", default=os.environ.get("REDIS_URL"), required="REDIS_URL" not in os.environ
    )
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--managed-identity", action="store_true")
    parser.add_argument("--ca-file", help="CA bundle of a private authority (tests only)")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    anyio.run(main, arguments, backend=arguments.backend)
