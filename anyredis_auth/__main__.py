"""``python -m anyredis_auth``: the command line (see ``anyredis-auth --help``)."""

from __future__ import annotations

from ._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
