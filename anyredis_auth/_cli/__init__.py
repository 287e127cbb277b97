"""The command line: the only part of the package that prints.

Errors are one readable line and a non-zero exit code; ``--debug`` shows the traceback. Nothing
printed here ever contains a password or token.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence

from .._errors import RedisError
from ._commands import run_demo, run_exec, run_ping, run_token
from ._flows import add_flow_arguments

__all__ = ["main"]


def _global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """``--debug`` and ``--backend``: accepted before and after the sub-command. A sub-command's
    copy has no default (SUPPRESS), so it never overrides one given before the sub-command."""
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="show tracebacks on errors",
    )
    parser.add_argument(
        "--backend",
        choices=["asyncio", "trio"],
        default="asyncio" if top else argparse.SUPPRESS,
        help="the event loop to run on (default asyncio)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anyredis-auth",
        description="Async Redis client on anyio whose connections stay authenticated. "
        "--debug and --backend go before or after the sub-command.",
    )
    _global_options(parser, top=True)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="a workload on a local server it starts, with short-lived rotating tokens"
    )
    demo.add_argument("--duration", type=float, default=12.0, help="seconds to run (default 12)")
    demo.add_argument(
        "--token-lifetime", type=float, default=4.0, help="seconds each token lives (default 4)"
    )
    demo.add_argument("--concurrency", type=int, default=50, help="concurrent tasks (default 50)")
    demo.add_argument("--server", choices=["auto", "redis", "valkey"], default="auto")
    demo.add_argument(
        "--cluster",
        action="store_true",
        help="a local Redis Cluster instead (3 primaries, 3 replicas): each token is a user on "
        "every node, and the figures are per node",
    )
    demo.add_argument(
        "--identity",
        choices=["local", "entra"],
        default="local",
        help="local: a token issuer in this process; entra: azure-identity against a local "
        "Entra ID authority (needs the dev extra)",
    )

    token = commands.add_parser(
        "token",
        help="get an Entra ID token and show its claims (the token itself only with --show-token)",
        description="Get an Entra ID token and show its claims: oid, tenant, audience, expiry "
        "and the Redis user name. The token itself is printed only with --show-token.",
    )
    add_flow_arguments(token, required=True)
    token.add_argument(
        "--show-token",
        action="store_true",
        help="also print the token itself (a secret: anyone who sees it can use it until it "
        "expires)",
    )

    ping = commands.add_parser("ping", help="PING a server over one connection")
    ping.add_argument("url")
    ping.add_argument(
        "--cluster",
        action="store_true",
        help="URL is a node of a Redis Cluster: PING every primary and count the nodes",
    )
    add_flow_arguments(ping, required=False)

    execute = commands.add_parser("exec", help="run one command and print its reply")
    execute.add_argument("url")
    execute.add_argument("args", nargs="+", metavar="CMD [ARGS...]")
    execute.add_argument(
        "--cluster",
        action="store_true",
        help="URL is a node of a Redis Cluster: the command goes where its keys' slot lives",
    )
    add_flow_arguments(execute, required=False)
    for sub in (demo, token, ping, execute):
        _global_options(sub, top=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.debug:
        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(name)s %(message)s")
    else:  # errors are our one line; library and azure-identity logs only with --debug
        logging.getLogger().addHandler(logging.NullHandler())
    try:
        if args.command == "demo":
            if args.cluster:
                from ._demo_cluster import run_cluster_demo

                return run_cluster_demo(args)
            return run_demo(args)
        if args.command == "token":
            return run_token(args)
        if args.command == "ping":
            return run_ping(args)
        return run_exec(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (RedisError, ValueError, OSError, RuntimeError, ImportError) as exc:
        if args.debug:
            traceback.print_exc()
        print(f"anyredis-auth: error: {exc}", file=sys.stderr)
        return 1
