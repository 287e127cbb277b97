"""The tests' real servers: the package's local-server helper (also used by the demo).

Every ACL password a test hands out is registered for the suite-wide secrets scan.
"""

from anyredis_auth.testing.servers import KINDS, TLSFiles, admin_command, find_binary
from anyredis_auth.testing.servers import ServerProcess as _ServerProcess
from tests import _secrets


class ServerProcess(_ServerProcess):
    def add_user(self, username: str, password: str, *rules: str) -> None:
        _secrets.issued(password)
        super().add_user(username, password, *rules)


__all__ = ["KINDS", "ServerProcess", "TLSFiles", "admin_command", "find_binary"]
