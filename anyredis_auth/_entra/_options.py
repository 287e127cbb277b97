"""Options of the managed-identity constructors: which user-assigned identity to use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ManagedIdentityCredentialOptions", "UserAssignedId"]

_KINDS = ("client_id", "object_id", "resource_id")


@dataclass(frozen=True)
class UserAssignedId:
    """A user-assigned managed identity, by exactly one of its ids.

    Build it with `UserAssignedId.client_id`, `UserAssignedId.object_id` or
    `UserAssignedId.resource_id` (the identity's Azure resource id,
    ``/subscriptions/.../userAssignedIdentities/name``).
    """

    kind: str
    value: str

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {', '.join(_KINDS)}, got {self.kind!r}")
        if not isinstance(self.value, str) or not self.value.strip():
            raise ValueError(f"the user-assigned identity's {self.kind} must be a non-empty string")

    @classmethod
    def client_id(cls, value: str) -> UserAssignedId:
        """The user-assigned identity with this client (application) id."""
        return cls("client_id", value)

    @classmethod
    def object_id(cls, value: str) -> UserAssignedId:
        """The user-assigned identity with this object (principal) id."""
        return cls("object_id", value)

    @classmethod
    def resource_id(cls, value: str) -> UserAssignedId:
        """The user-assigned identity with this Azure resource id."""
        return cls("resource_id", value)

    def credential_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for azure-identity's ``ManagedIdentityCredential``."""
        if self.kind == "client_id":
            return {"client_id": self.value}
        return {"identity_config": {self.kind: self.value}}


@dataclass(frozen=True)
class ManagedIdentityCredentialOptions:
    """Options for a managed identity: the user-assigned id (None: system-assigned) and
    ``credential_options`` passed through to azure-identity's ``ManagedIdentityCredential`` (and
    the HTTP transport: ``connection_timeout``, ``retry_total``...)."""

    user_assigned_id: UserAssignedId | None = None
    credential_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.user_assigned_id is not None and not isinstance(
            self.user_assigned_id, UserAssignedId
        ):
            raise TypeError(
                "user_assigned_id must be a UserAssignedId, got "
                f"{type(self.user_assigned_id).__name__}"
            )
        clash = {"client_id", "identity_config"} & set(self.credential_options)
        if clash and self.user_assigned_id is not None:
            raise ValueError(
                f"give the identity either as user_assigned_id or as {', '.join(sorted(clash))}, "
                "not both"
            )
