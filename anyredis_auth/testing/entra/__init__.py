"""An offline identity rig for tests and the demo: see `IdentityRig`.

Private: it needs ``trustme`` (a dev dependency) and is never imported by the library itself.
"""

from ._rig import App, Failure, IdentityRig, ManagedIdentity, make_client_certificate

__all__ = ["App", "Failure", "IdentityRig", "ManagedIdentity", "make_client_certificate"]
