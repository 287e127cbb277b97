"""Shared by the examples: where the server is and which event loop to run on."""

from __future__ import annotations

import argparse
import os


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    # Only for a private authority (or the offline test rig); Azure needs neither.
    parser.add_argument("--authority", help="another cloud or a private authority")
    parser.add_argument("--ca-file", help="CA bundle of a private authority's TLS certificate")
    return parser.parse_args()


def entra_options(args: argparse.Namespace) -> dict[str, object]:
    """Keyword options for azure-identity when the authority is not Microsoft's own."""
    options: dict[str, object] = {}
    if args.authority:
        options.update(authority=args.authority, disable_instance_discovery=True)
    if args.ca_file:
        options["connection_verify"] = args.ca_file
    return options
