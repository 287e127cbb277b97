"""Microsoft Entra ID credentials: `EntraIdCredentialsProvider` and its options.

Importing this package needs neither azure-identity nor httpx: the constructors import them and
say which extra to install (``pip install 'anyredis-auth[entra]'``) when they are missing.
"""

from ._certificate import ClientCertificate
from ._jwt import jwt_claims, oid_from_token
from ._options import ManagedIdentityCredentialOptions, UserAssignedId
from ._provider import DEFAULT_SCOPE, EntraIdCredentialsProvider

__all__ = [
    "DEFAULT_SCOPE",
    "ClientCertificate",
    "EntraIdCredentialsProvider",
    "ManagedIdentityCredentialOptions",
    "UserAssignedId",
    "jwt_claims",
    "oid_from_token",
]
