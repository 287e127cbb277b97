"""Fake ``az`` and ``azd`` executables: Python scripts that print what the real tools print.

``az account get-access-token --output json --resource R [--tenant T]`` prints::

    {"accessToken": "...", "expiresOn": "2026-11-29 14:06:06.000000", "expires_on": 1764425166,
     "subscription": "...", "tenant": "...", "tokenType": "Bearer"}

(``expiresOn`` is local time, ``expires_on`` epoch seconds, as az 2.54+ prints them). When not
logged in it exits 1 with ``ERROR: Please run 'az login' to setup account.`` on stderr.

``azd auth token --output json --no-prompt --scope S [--tenant-id T]`` prints
``{"token": "...", "expiresOn": "2026-11-29T14:06:06Z"}`` (UTC; azure-identity reads it as local
time, hence TZ=UTC in tests); not logged in: exit 1 with azd's JSON console message
``not logged in, run `azd auth login` to login``.

Tokens come from the rig's ``/cli/token`` endpoint (plain HTTP on loopback), so the rig's issue
hooks see them too. Whether a tool is logged in is the rig's ``cli_logged_in`` (live).
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

__all__ = ["write_fake_cli"]

_SCRIPT = r"""#!{python}
import json, sys, urllib.parse, urllib.request
from datetime import datetime, timezone
TOOL = {tool!r}
ENDPOINT = {endpoint!r}
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
args = sys.argv[1:]
def option(name):
    return args[args.index(name) + 1] if name in args and args.index(name) + 1 < len(args) else ""
if TOOL == "az":
    if args[:2] != ["account", "get-access-token"]:
        sys.stderr.write("ERROR: this fake az only knows 'account get-access-token'\n"); sys.exit(2)
    query = {{"tool": "az", "resource": option("--resource") or option("--scope")}}
else:
    if args[:2] != ["auth", "token"]:
        sys.stderr.write("ERROR: this fake azd only knows 'auth token'\n"); sys.exit(2)
    query = {{"tool": "azd", "scope": option("--scope")}}
URL = ENDPOINT + "/cli/token?" + urllib.parse.urlencode(query)
with urllib.request.urlopen(URL, timeout=10) as reply:
    answer = json.load(reply)
if not answer.get("logged_in"):
    if TOOL == "az":
        sys.stderr.write("ERROR: Please run 'az login' to setup account.\n")
    else:
        text = "\nERROR: not logged in, run `azd auth login` to login\n"
        now = datetime.now(timezone.utc).isoformat()
        message = {{"type": "consoleMessage", "timestamp": now, "data": {{"message": text}}}}
        sys.stderr.write(json.dumps(message) + "\n")
    sys.exit(1)
exp = int(answer["exp"])
if TOOL == "az":
    out = {{"accessToken": answer["token"],
           "expiresOn": datetime.fromtimestamp(exp).strftime("%Y-%m-%d %H:%M:%S.%f"),
           "expires_on": exp, "subscription": SUBSCRIPTION, "tenant": answer["tenant"],
           "tokenType": "Bearer"}}
else:
    out = {{"token": answer["token"],
           "expiresOn": datetime.fromtimestamp(exp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}}
print(json.dumps(out, indent=2))
"""


def write_fake_cli(folder: Path, endpoint: str, tenant_id: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for tool in ("az", "azd"):
        path = folder / tool
        path.write_text(_SCRIPT.format(python=sys.executable, tool=tool, endpoint=endpoint))
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return folder
