"""An offline Microsoft Entra ID for integration tests: `IdentityRig`.

`IdentityRig` is a local stand-in for Entra ID that the real ``azure-identity`` credentials talk
to, so code that authenticates with `anyredis_auth.EntraIdCredentialsProvider` can be tested
end to end, offline and in seconds:

- an HTTPS authority (OpenID discovery and the token endpoint, with a certificate from a local
  CA in ``rig.ca_file``) for apps: client secret, certificate, or federated token (workload
  identity), registered with `IdentityRig.add_app`;
- managed identity endpoints (IMDS, App Service, Service Fabric), registered with
  `IdentityRig.add_managed_identity` and selected with ``rig.imds_environment()`` and friends;
- fake ``az`` and ``azd`` executables (`IdentityRig.write_cli`) for the developer tool
  credentials.

The tokens are real signed JWTs with an ``oid`` claim and the lifetime you choose
(``IdentityRig(token_lifetime=5)``). Each issued token calls the ``rig.on_issue`` hooks with
``(oid, token)`` before the response leaves: add the token as a password of the ACL user
``oid`` on a local server (`anyredis_auth.testing.servers`) and the server accepts exactly the
tokens the rig issued, as Azure Cache for Redis does. ``rig.fail(route, kind)`` scripts
failures (an AADSTS error, HTTP 500, a hang, a dropped connection, garbage) to test how your
code behaves when the identity provider misbehaves.

It needs ``trustme`` (and ``cryptography``) besides the ``entra`` extra: they are imported on
first use of ``anyredis_auth.testing.entra``, never by the library itself.

An app with a client secret, its tokens accepted by a local server (a `ServerProcess`)::

    from anyredis_auth import Client, EntraIdCredentialsProvider
    from anyredis_auth.testing.entra import IdentityRig

    async def test_login_with_entra(redis_server):
        with IdentityRig(token_lifetime=60) as rig:
            app = rig.add_app(secret="app-secret")
            rig.on_issue.append(redis_server.add_user_password)  # (oid, token)
            provider = EntraIdCredentialsProvider.new_client_secret(
                rig.tenant_id, app.client_id, "app-secret", **rig.authority_options()
            )
            async with Client.open_with_credentials_provider(
                redis_server.url, provider
            ) as client:
                con = await client.get_multiplexed_async_connection()
                assert await con.execute("ACL", "WHOAMI") == app.oid.encode()
"""

from ._rig import App, Failure, IdentityRig, ManagedIdentity, make_client_certificate

__all__ = ["App", "Failure", "IdentityRig", "ManagedIdentity", "make_client_certificate"]
