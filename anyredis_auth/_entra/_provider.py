"""`EntraIdCredentialsProvider`: Redis credentials from Microsoft Entra ID tokens (azure-identity).

The Redis username is the token's ``oid`` claim, the password the token itself. Tokens are
refreshed by `TokenCredentialsProvider` (schedule, timeouts, retries, fan-out); this class only
adds "get one token" on top of an azure-identity credential:

- HTTP flows (client secret, certificate, managed identity, the default credential's
  environment / workload identity / managed identity parts) use ``azure.identity.aio``
  credentials on our httpx transport (`HttpxTransport`): anyio-native, so asyncio and trio;
- CLI flows (``az``, ``azd``) run azure-identity's sync credentials in a worker thread;
- a user's own credential: a sync one runs in a worker thread, an async one is awaited.

Production behaviour is azure-identity's own: the credentials built here keep azure-identity's
retry policies (IMDS retries 404/410/429/5xx with its own back-off; the refresher's
``request_timeout`` bounds the whole request), its ``connection_verify`` choices (Service
Fabric), and `new_default_azure_credential` is azure-identity's ``DefaultAzureCredential`` with
every option and ``AZURE_TOKEN_CREDENTIALS`` / ``require_envvar`` as azure-identity reads them.

Only public azure-identity API is used. The credentials built here are built afresh for each
token request, on one shared transport: a new credential has no cache, so each scheduled refresh
is exactly one token request. A credential you pass in keeps its cache: refreshes are scheduled
when that cache renews (``refresh_on``, else expiry minus a random 4-5 minutes), and
`request_refresh` sends a ``claims`` challenge, which makes azure-identity skip its cache.

Failures are classified (see `is_permanent_error`): a permanent one (wrong secret, unknown
client or tenant, a token without ``oid``) is published at once and retried only every
``TokenRefreshConfig.permanent_error_retry_interval``; transient ones follow the back-off.

Pointing at another cloud or a private authority: pass ``authority=`` (a host such as
``"login.microsoftonline.us"``, `azure.identity.AzureAuthorityHosts`, or an ``https://`` URL) in
the options, or set ``AZURE_AUTHORITY_HOST``; use the scope that cloud documents for Redis with
a ``*_with_scopes`` constructor. An authority that is not a Microsoft host also needs
``disable_instance_discovery=True`` (MSAL-based sync credentials), and its TLS certificate must
be trusted: ``connection_verify="/path/to/ca.pem"`` (our transport) or ``REQUESTS_CA_BUNDLE``.
Resources the provider created (transports, aio credentials) are closed when the last task
group running it (a `Client`, or ``async with provider:``) ends; a credential you pass to
`EntraIdCredentialsProvider.new_with_credential` stays yours to close.
"""

from __future__ import annotations

import contextvars
import random as _random
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import anyio
import anyio.abc

from .._auth._config import TokenRefreshConfig
from .._auth._refresher import AccessToken, TokenCredentialsProvider
from .._credentials import Credentials
from ._certificate import ClientCertificate
from ._classify import is_permanent_error
from ._jwt import oid_from_token
from ._options import ManagedIdentityCredentialOptions
from ._sources import (
    ChainSource,
    CredentialSource,
    FreshSource,
    Source,
    SyncCredentialAdapter,
)

__all__ = ["DEFAULT_SCOPE", "EntraIdCredentialsProvider"]

DEFAULT_SCOPE = "https://redis.azure.com/.default"
_EXTRA_HINT = "pip install 'anyredis-auth[entra]'"
# Options that configure our HTTP transport rather than the credential.
_TRANSPORT_OPTIONS = (
    "connection_verify",
    "connection_cert",
    "connection_timeout",
    "read_timeout",
    "use_env_settings",
    "data_block_size",
)

UsernameRule = Callable[[str], str]


def _require_entra() -> None:
    """Fail clearly when the ``entra`` extra is missing."""
    missing = []
    for module in ("azure.identity", "azure.core", "httpx"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module.split(".")[0].replace("azure", "azure-identity"))
    if missing:
        raise ImportError(
            f"EntraIdCredentialsProvider needs {', '.join(sorted(set(missing)))}: {_EXTRA_HINT}"
        )


def _check_scopes(scopes: Iterable[str] | str | None) -> tuple[str, ...]:
    if scopes is None:
        return (DEFAULT_SCOPE,)
    if isinstance(scopes, str):
        scopes = (scopes,)
    result = tuple(scopes)
    if not result:
        raise ValueError(
            "scopes must not be empty (the default is ['https://redis.azure.com/.default'])"
        )
    for scope in result:
        if not isinstance(scope, str):
            raise TypeError(f"each scope must be a str, got {type(scope).__name__}")
        if not scope.strip():
            raise ValueError("scopes must not contain an empty or blank scope")
    return result


def _options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise TypeError(f"options must be a mapping, got {type(options).__name__}")
    return dict(options)


def new_transport(**options: Any) -> Any:
    """azure-core's async HTTP transport on httpx, for ``azure.identity.aio`` credentials on
    asyncio and trio alike (their default, aiohttp, is asyncio-only and an extra dependency).

    Options: ``connection_verify`` (bool, CA bundle path or `ssl.SSLContext`),
    ``connection_cert``, ``connection_timeout``, ``read_timeout`` (seconds, default 300),
    ``use_env_settings`` (proxies from the environment, default True). Pass the result as
    ``transport=`` to a credential, then hand the credential to
    `EntraIdCredentialsProvider.new_with_credential`; close the credential (which closes the
    transport) when you are done with it::

        from azure.identity.aio import ClientSecretCredential
        credential = ClientSecretCredential(tenant, client, secret, transport=new_transport())
        provider = EntraIdCredentialsProvider.new_with_credential(credential)
    """
    _require_entra()
    from ._transport import HttpxTransport

    return HttpxTransport(**options)


def _http_options(options: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """Credential keyword arguments on a shared transport (ours unless one was given), and that
    transport (the provider closes it when its last runner ends)."""
    from ._transport import HttpxTransport, SharedTransport

    transport_options = {key: options.pop(key) for key in _TRANSPORT_OPTIONS if key in options}
    transport = options.get("transport")
    if transport is None:
        transport = HttpxTransport(**transport_options)
    # One transport for every credential the provider builds (each is closed after its
    # request); the provider closes the transport itself, as a credential closes its own.
    options["transport"] = SharedTransport(transport)
    return options, transport


def _fresh(factory: Callable[[], Any], name: str, owned_transport: Any) -> FreshSource:
    """A source that builds a new credential per request; the first one is built now, so that
    invalid arguments fail in the constructor."""
    first = [factory()]

    def build() -> Any:
        return first.pop() if first else factory()

    return FreshSource(build, name=name, transport=owned_transport)


_CLI_KINDS = {
    "AzureCliCredential": "AzureCliCredential",
    "AzureDeveloperCliCredential": "AzureDeveloperCliCredential",
    "AzurePowerShellCredential": "AzurePowerShellCredential",
}


def _default_credential(kwargs: Mapping[str, Any]) -> Any:
    """azure-identity's aio ``DefaultAzureCredential`` built from ``kwargs`` exactly, with its
    CLI members (asyncio subprocesses: not on trio) swapped for the sync ones in a thread."""
    import azure.identity
    import azure.identity.aio

    process_timeout = kwargs.get("process_timeout", 10)
    # DefaultAzureCredential sets azure-identity's "within DAC" context variable in its
    # constructor; build it in a copy of the context so that it does not leak to the caller.
    credential = contextvars.copy_context().run(
        lambda: azure.identity.aio.DefaultAzureCredential(**kwargs)
    )
    members: list[Any] = []
    for member in credential.credentials:
        name = type(member).__name__
        aio_kind = getattr(azure.identity.aio, name, None)
        if name in _CLI_KINDS and aio_kind is not None and isinstance(member, aio_kind):
            sync_kind = getattr(azure.identity, name)
            members.append(
                SyncCredentialAdapter(
                    sync_kind(process_timeout=process_timeout),
                    expiry_from_token=name != "AzurePowerShellCredential",
                )
            )
        else:
            members.append(member)
    credential.credentials = tuple(members)
    return credential


class EntraIdCredentialsProvider(TokenCredentialsProvider):
    """Credentials for Azure Cache for Redis / Azure Managed Redis from Entra ID tokens.

    Build it with one of the ``new_*`` constructors; each has a ``*_with_scopes`` twin (the
    plain one uses ``https://redis.azure.com/.default``). Every constructor also takes:

    - ``refresh_config``: the `TokenRefreshConfig` (when and how tokens are refreshed);
    - ``username_from_token``: ``token -> username`` to replace the default rule (the JWT's
      ``oid`` claim); or subclass and override `username_for_token`.

    The plain constructors' other keyword arguments, and the ``options`` mapping of the
    ``*_with_scopes`` ones, go to the azure-identity credential (``authority``,
    ``disable_instance_discovery``, ``additionally_allowed_tenants``...) and to our HTTP
    transport (``connection_verify``, ``connection_cert``, ``connection_timeout``,
    ``read_timeout``); ``transport=`` replaces our transport.
    """

    def __init__(
        self,
        source: Source,
        scopes: Iterable[str] | str | None = None,
        *,
        refresh_config: TokenRefreshConfig | None = None,
        username_from_token: UsernameRule | None = None,
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
    ) -> None:
        if not isinstance(source, Source):
            raise TypeError(
                "use one of the EntraIdCredentialsProvider.new_* constructors "
                "(new_with_credential for your own azure-identity credential)"
            )
        if username_from_token is not None and not callable(username_from_token):
            raise TypeError("username_from_token must be a callable: token -> username")
        super().__init__(refresh_config, clock=clock, random=random)
        self._source = source
        self._scopes = _check_scopes(scopes)
        self._username_rule = username_from_token
        self._runs = 0
        self._force = False  # the next request must not be answered from a credential's cache

    def __repr__(self) -> str:
        return (
            f"{super().__repr__()[:-1]} source={self._source.name!r} scopes={list(self._scopes)!r}>"
        )

    @property
    def scopes(self) -> tuple[str, ...]:
        """The scopes tokens are requested for (default: ``https://redis.azure.com/.default``)."""
        return self._scopes

    @property
    def source_name(self) -> str:
        """Which credential the provider uses (for a chain: the member that answered)."""
        if isinstance(self._source, ChainSource) and self._source.chosen is not None:
            return f"{self._source.name}: {self._source.chosen.name}"
        return self._source.name

    def request_refresh(self) -> None:
        """Ask for a new token soon (see `TokenCredentialsProvider.request_refresh`).

        The next request is never answered from a credential's cache: a credential built by
        this provider is new for each request anyway; a credential you passed in is asked with
        a ``claims`` challenge (``TokenRequestOptions``), which azure-identity's credentials
        answer with a new token.
        """
        self._force = True
        super().request_refresh()

    # ------------------------------------------------------------------ the refresher hooks

    async def _fetch_token(self) -> AccessToken:
        force, self._force = self._force, False
        try:
            return await self._source.fetch(self._scopes, force=force)
        except BaseException:
            self._force = self._force or force
            raise

    def _is_permanent_error(self, exc: Exception) -> bool:
        return is_permanent_error(exc)

    def _refresh_time_for(self, token: AccessToken, now: float) -> float | None:
        """For a credential with its own cache (one you passed in): when that cache hands out a
        new token, i.e. at ``refresh_on``, else at expiry minus a random 4-5 minutes (azure-
        identity renews within 5 minutes of expiry). A token too short-lived for that (or one
        without expiry) follows the usual schedule."""
        scheduled = super()._refresh_time_for(token, now)
        if not self._source.cached or token.expires_on is None or scheduled is None:
            return scheduled
        if token.refresh_on is not None and now < token.refresh_on < token.expires_on:
            candidate = token.refresh_on
        else:
            fraction = self._fraction()
            candidate = token.expires_on - (240.0 + 60.0 * fraction)
        floor = now + min(self.refresh_config.min_refresh_interval, (token.expires_on - now) / 2)
        if candidate <= floor:
            return scheduled
        return candidate

    def username_for_token(self, token: str) -> str:
        """The Redis username for ``token``: its ``oid`` claim unless ``username_from_token``."""
        if self._username_rule is not None:
            username = self._username_rule(token)
            if not isinstance(username, str) or not username:
                raise TypeError("username_from_token must return a non-empty str")
            return username
        return oid_from_token(token)

    def _credentials_for(self, token: AccessToken) -> Credentials:
        return Credentials(self.username_for_token(token.token), token.token)

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """The refresher (see `TokenCredentialsProvider.run`); when the last runner leaves,
        the credentials and transports this provider created are closed (they reopen if the
        provider runs again)."""
        self._runs += 1
        try:
            await super().run(task_status=task_status)
        finally:
            self._runs -= 1
            if self._runs == 0:
                with anyio.CancelScope(shield=True):
                    await self.aclose()

    async def aclose(self) -> None:
        """Close what the provider created (it reopens on the next request)."""
        await self._source.aclose()

    # ------------------------------------------------------------------ constructors

    @classmethod
    def _build(
        cls,
        source: Source,
        scopes: Iterable[str] | str | None,
        refresh_config: TokenRefreshConfig | None,
        username_from_token: UsernameRule | None,
    ) -> EntraIdCredentialsProvider:
        return cls(
            source,
            scopes,
            refresh_config=refresh_config,
            username_from_token=username_from_token,
        )

    # -- client secret

    @classmethod
    def new_client_secret(
        cls,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        *,
        refresh_config: TokenRefreshConfig | None = None,
        username_from_token: UsernameRule | None = None,
        **options: Any,
    ) -> EntraIdCredentialsProvider:
        """A service principal with a client secret (``ClientSecretCredential``)."""
        return cls.new_client_secret_with_scopes(
            tenant_id,
            client_id,
            client_secret,
            None,
            options,
            refresh_config=refresh_config,
            username_from_token=username_from_token,
        )

    @classmethod
    def new_client_secret_with_scopes(
        cls,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        scopes: Iterable[str] | str | None,
        options: Mapping[str, Any] | None = None,
        *,
        refresh_config: TokenRefreshConfig | None = None,
        username_from_token: UsernameRule | None = None,
    ) -> EntraIdCredentialsProvider:
        """`new_client_secret` with explicit ``scopes`` (None: the default); ``options`` go to
        azure-identity's ``ClientSecretCredential`` (transport options to our transport)."""
        scopes = _check_scopes(scopes)
        _require_entra()
        from azure.identity.aio import ClientSecretCredential

        kwargs, transport = _http_options(_options(options))
        source = _fresh(
            lambda: ClientSecretCredential(tenant_id, client_id, client_secret, **kwargs),
            "ClientSecretCredential",
            transport,
        )
        return cls._build(source, scopes, refresh_config, username_from_token)

    # -- client certificate

    @classmethod
    def new_client_certificate(
        cls,
        tenant_id: str,
        client_id: str,
        certificate: ClientCertificate,
        *,
        refresh_config: TokenRefreshConfig | None = None,
        username_from_token: UsernameRule | None = None,
        **options: Any,
    ) -> EntraIdCredentialsProvider:
        """A service principal with a certificate (``CertificateCredential``)."""
        return cls.new_client_certificate_with_scopes(
            tenant_id,
            client_id,
            certificate,
            None,
            options,
            refresh_config=refresh_config,
            username_from_token=username_from_token,
        )

    @classmethod
    def new_client_certificate_with_scopes(
        cls,
        tenant_id: str,
        client_id: str,
        certificate: ClientCertificate,
        scopes: Iterable[str] | str | None,
        options: Mapping[str, Any] | None = None,
        *,
        refresh_config: TokenRefreshConfig | None = None,
        username_from_token: UsernameRule | None = None,
    ) -> EntraIdCredentialsProvider:
        """`new_client_certificate` with explicit ``scopes`` (None: the default); ``options`` go
        to azure-identity's ``CertificateCredential`` (transport options to our transport)."""
        if not isinstance(certificate, ClientCertificate):
            raise TypeError(
                "certificate must be a ClientCertificate(base64_pkcs12, password), got "
                f"{type(certificate).__name__}"
            )
        scopes = _check_scopes(scopes)
        _require_entra()
        from azure.identity.aio import CertificateCredential

        pem = certificate.pem_bytes()
        kwargs, transport = _http_options(_options(options))
        source = _fresh(
            lambda: CertificateCredential(tenant_id, client_id, certificate_data=pem, **kwargs),
            "CertificateCredential",
            transport,
        )
        return cls._build(source, scopes, refresh_config, username_from_token)

    # -- managed identity

    @classmethod
    def new_system_assigned_managed_identity(
        cls,
        *,
        refresh_config: TokenRefreshConfig | None = None,
        username_from_token: UsernameRule | None = None,
        **options: Any,
    ) -> EntraIdCredentialsProvider:
        """The system-assigned managed identity of the host (IMDS, App Service, ...)."""
        return cls.new_system_assigned_managed_identity_with_scopes(
            None, options, refresh_config=refresh_config, username_from_token=username_from_token
        )

    @classmethod
    def new_system_assigned_managed_identity_with_scopes(
        cls,
        scopes: Iterable[str] | str | None,
        options: Mapping[str, Any] | None = None,
        *,
        refresh_config: TokenRefreshConfig | None = None,
        username_from_token: UsernameRule | None = None,
    ) -> EntraIdCredentialsProvider:
        """`new_system_assigned_managed_identity` with an explicit scope (exactly one; None: the
        default); ``options`` go to azure-identity's ``ManagedIdentityCredential`` (transport
        options to our transport)."""
        return cls._managed_identity(
            scopes,
            ManagedIdentityCredentialOptions(credential_options=_options(options)),
            refresh_config,
            username_from_token,
        )

    @classmethod
    def new_user_assigned_managed_identity(
        cls,
        *,
        refresh_config: TokenRefreshConfig | None = None,
        username_from_token: UsernameRule | None = None,
        **options: Any,
    ) -> EntraIdCredentialsProvider:
        """The user-assigned managed identity whose client id is ``$AZURE_CLIENT_ID``."""
        import os

        client_id = os.environ.get("AZURE_CLIENT_ID", "").strip()
        if not client_id:
            raise ValueError(
                "new_user_assigned_managed_identity() reads the identity's client id from "
                "AZURE_CLIENT_ID, which is not set; use "
                "new_user_assigned_managed_identity_with_scopes(scopes, "
                "ManagedIdentityCredentialOptions(user_assigned_id=UserAssignedId.client_id(...)))"
            )
        from ._options import UserAssignedId

        return cls._managed_identity(
            None,
            ManagedIdentityCredentialOptions(
                user_assigned_id=UserAssignedId.client_id(client_id),
                credential_options=options,
            ),
            refresh_config,
            username_from_token,
        )

    @classmethod
    def new_user_assigned_managed_identity_with_scopes(
        cls,
        scopes: Iterable[str] | str | None,
        options: ManagedIdentityCredentialOptions | None = None,
        *,
        refresh_config: TokenRefreshConfig | None = None,
        username_from_token: UsernameRule | None = None,
    ) -> EntraIdCredentialsProvider:
        """A managed identity chosen by ``options.user_assigned_id`` (client, object or
        resource id); without one, ``$AZURE_CLIENT_ID``."""
        options = options or ManagedIdentityCredentialOptions()
        if not isinstance(options, ManagedIdentityCredentialOptions):
            raise TypeError(
                f"options must be a ManagedIdentityCredentialOptions, got {type(options).__name__}"
            )
        if options.user_assigned_id is None and not {"client_id", "identity_config"} & set(
            options.credential_options
        ):
            import os

            from ._options import UserAssignedId

            client_id = os.environ.get("AZURE_CLIENT_ID", "").strip()
            if not client_id:
                raise ValueError(
                    "a user-assigned managed identity needs an id: "
                    "ManagedIdentityCredentialOptions(user_assigned_id=UserAssignedId...) "
                    "or AZURE_CLIENT_ID"
                )
            options = ManagedIdentityCredentialOptions(
                user_assigned_id=UserAssignedId.client_id(client_id),
                credential_options=options.credential_options,
            )
        return cls._managed_identity(scopes, options, refresh_config, username_from_token)

    @classmethod
    def _managed_identity(
        cls,
        scopes: Iterable[str] | str | None,
        options: ManagedIdentityCredentialOptions,
        refresh_config: TokenRefreshConfig | None,
        username_from_token: UsernameRule | None,
    ) -> EntraIdCredentialsProvider:
        scopes = _check_scopes(scopes)
        if len(scopes) != 1:
            raise ValueError("a managed identity token is for exactly one scope")
        _require_entra()
        from azure.identity.aio import ManagedIdentityCredential

        kwargs, transport = _http_options(dict(options.credential_options))
        if options.user_assigned_id is not None:
            kwargs.update(options.user_assigned_id.credential_kwargs())
        source = _fresh(
            lambda: ManagedIdentityCredential(**kwargs), "ManagedIdentityCredential", transport
        )
        return cls._build(source, scopes, refresh_config, username_from_token)

    # -- developer tools

    @classmethod
    def new_developer_tools(
        cls,
        *,
        refresh_config: TokenRefreshConfig | None = None,
        username_from_token: UsernameRule | None = None,
        **options: Any,
    ) -> EntraIdCredentialsProvider:
        """Azure CLI (``az login``), then Azure Developer CLI (``azd auth login``): the first
        that answers is kept. Options (``tenant_id``, ``process_timeout``,
        ``additionally_allowed_tenants``) go to both."""
        return cls.new_developer_tools_with_scopes(
            None, options, refresh_config=refresh_config, username_from_token=username_from_token
        )

    @classmethod
    def new_developer_tools_with_scopes(
        cls,
        scopes: Iterable[str] | str | None,
        options: Mapping[str, Any] | None = None,
        *,
        refresh_config: TokenRefreshConfig | None = None,
        username_from_token: UsernameRule | None = None,
    ) -> EntraIdCredentialsProvider:
        """`new_developer_tools` with explicit ``scopes`` (None: the default); ``options`` go to
        azure-identity's ``AzureCliCredential`` and ``AzureDeveloperCliCredential`` (each gets
        those it accepts)."""
        scopes = _check_scopes(scopes)
        _require_entra()
        source = ChainSource(_cli_sources(_options(options)), name="developer tools")
        return cls._build(source, scopes, refresh_config, username_from_token)

    # -- default credential

    @classmethod
    def new_default_azure_credential(
        cls,
        *,
        refresh_config: TokenRefreshConfig | None = None,
        username_from_token: UsernameRule | None = None,
        **options: Any,
    ) -> EntraIdCredentialsProvider:
        """azure-identity's ``DefaultAzureCredential`` (its ``azure.identity.aio`` class, on our
        transport): every option it takes (any combination of ``exclude_*_credential``,
        ``managed_identity_client_id``, ``process_timeout``, ``require_envvar``...), and the
        ``AZURE_TOKEN_CREDENTIALS`` environment variable (``prod``, ``dev`` or one credential's
        name), mean what they mean to azure-identity. Only its CLI members (Azure CLI, Azure
        PowerShell, Azure Developer CLI) run as the sync credentials in a worker thread, since
        the async ones need asyncio subprocesses."""
        return cls.new_default_azure_credential_with_scopes(
            None, options, refresh_config=refresh_config, username_from_token=username_from_token
        )

    @classmethod
    def new_default_azure_credential_with_scopes(
        cls,
        scopes: Iterable[str] | str | None,
        options: Mapping[str, Any] | None = None,
        *,
        refresh_config: TokenRefreshConfig | None = None,
        username_from_token: UsernameRule | None = None,
    ) -> EntraIdCredentialsProvider:
        """`new_default_azure_credential` with explicit ``scopes`` (None: the default);
        ``options`` go to azure-identity's ``DefaultAzureCredential`` (transport options to our
        transport). A new ``DefaultAzureCredential`` is built for each token request, so each
        request walks the chain as azure-identity's does on its first request (in a managed
        identity chain that includes its 1 s IMDS probe, unless
        ``AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential``)."""
        scopes = _check_scopes(scopes)
        _require_entra()
        kwargs, transport = _http_options(_options(options))
        source = _fresh(lambda: _default_credential(kwargs), "DefaultAzureCredential", transport)
        return cls._build(source, scopes, refresh_config, username_from_token)

    # -- workload identity

    @classmethod
    def new_workload_identity(
        cls,
        *,
        refresh_config: TokenRefreshConfig | None = None,
        username_from_token: UsernameRule | None = None,
        **options: Any,
    ) -> EntraIdCredentialsProvider:
        """AKS workload identity (``WorkloadIdentityCredential``): the federated token in
        ``AZURE_FEDERATED_TOKEN_FILE`` is exchanged for an Entra ID token of the app
        ``AZURE_CLIENT_ID`` in ``AZURE_TENANT_ID`` (the variables the workload identity webhook
        sets); ``tenant_id``, ``client_id`` and ``token_file_path`` options override them. The
        token file is read again for each request (kubelet rotates it)."""
        return cls.new_workload_identity_with_scopes(
            None, options, refresh_config=refresh_config, username_from_token=username_from_token
        )

    @classmethod
    def new_workload_identity_with_scopes(
        cls,
        scopes: Iterable[str] | str | None,
        options: Mapping[str, Any] | None = None,
        *,
        refresh_config: TokenRefreshConfig | None = None,
        username_from_token: UsernameRule | None = None,
    ) -> EntraIdCredentialsProvider:
        """`new_workload_identity` with explicit ``scopes`` (None: the default); ``options`` go
        to azure-identity's ``WorkloadIdentityCredential`` (transport options to our
        transport)."""
        scopes = _check_scopes(scopes)
        _require_entra()
        from azure.identity.aio import WorkloadIdentityCredential

        kwargs, transport = _http_options(_options(options))
        source = _fresh(
            lambda: WorkloadIdentityCredential(**kwargs), "WorkloadIdentityCredential", transport
        )
        return cls._build(source, scopes, refresh_config, username_from_token)

    # -- any credential

    @classmethod
    def new_with_credential(
        cls,
        credential: Any,
        scopes: Iterable[str] | str | None = None,
        *,
        refresh_config: TokenRefreshConfig | None = None,
        username_from_token: UsernameRule | None = None,
    ) -> EntraIdCredentialsProvider:
        """Your own credential: a sync ``TokenCredential`` / ``SupportsTokenInfo`` (run in a
        worker thread) or an async ``AsyncTokenCredential`` / ``AsyncSupportsTokenInfo``
        (awaited). It is not closed by the provider, and its own caching applies."""
        source = CredentialSource(
            credential, name=type(credential).__name__, owned=False, cached=True
        )
        return cls._build(source, scopes, refresh_config, username_from_token)

    @classmethod
    def new_with_credential_with_scopes(
        cls,
        credential: Any,
        scopes: Iterable[str] | str | None,
        options: Mapping[str, Any] | None = None,
        *,
        refresh_config: TokenRefreshConfig | None = None,
        username_from_token: UsernameRule | None = None,
    ) -> EntraIdCredentialsProvider:
        """`new_with_credential` with explicit scopes (``options`` is accepted and unused: the
        credential is already configured)."""
        return cls.new_with_credential(
            credential,
            _check_scopes(scopes),
            refresh_config=refresh_config,
            username_from_token=username_from_token,
        )


def _cli_sources(options: Mapping[str, Any]) -> list[Source]:
    import inspect

    from azure.identity import AzureCliCredential, AzureDeveloperCliCredential

    tools: list[tuple[str, Any]] = [
        ("Azure CLI", AzureCliCredential),
        ("Azure Developer CLI", AzureDeveloperCliCredential),
    ]
    # Each tool gets the options it knows (``subscription`` is the Azure CLI's alone).
    accepted = {name: set(inspect.signature(kind).parameters) for name, kind in tools}
    unknown = set(options) - set().union(*accepted.values())
    if unknown:
        raise TypeError(f"unknown developer tools option(s): {', '.join(sorted(unknown))}")
    return [
        CredentialSource(
            kind(**{key: value for key, value in options.items() if key in accepted[name]}),
            name=name,
            owned=True,
            is_async=False,
            expiry_from_token=True,  # the CLIs' printed times are read as local time
        )
        for name, kind in tools
    ]
