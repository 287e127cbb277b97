"""Microsoft Entra ID credentials: `EntraIdCredentialsProvider` and its options.

Importing this package needs neither azure-identity nor httpx: the constructors import them and
say which extra to install (``pip install 'anyredis-auth[entra]'``) when they are missing.
"""

from ._certificate import ClientCertificate
from ._classify import is_permanent_error
from ._jwt import jwt_claims, oid_from_token
from ._options import ManagedIdentityCredentialOptions, UserAssignedId
from ._provider import DEFAULT_SCOPE, EntraIdCredentialsProvider, new_transport

__all__ = [
    "DEFAULT_SCOPE",
    "ClientCertificate",
    "EntraIdCredentialsProvider",
    "ManagedIdentityCredentialOptions",
    "UserAssignedId",
    "is_permanent_error",
    "jwt_claims",
    "new_transport",
    "oid_from_token",
]
