"""The tests' real servers: the package's local-server helper (also used by the demo)."""

from anyredis_auth._local_server import KINDS, ServerProcess, TLSFiles, admin_command, find_binary

__all__ = ["KINDS", "ServerProcess", "TLSFiles", "admin_command", "find_binary"]
