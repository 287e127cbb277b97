"""The suite-wide secrets scan: every password and token issued during the test run, and every
text the run produced that a user could see (log records, CLI output, failure reports).

At the end of the session no secret may appear in any of those texts (tests/conftest.py fails
the run otherwise). Secrets shorter than `MIN_LENGTH` are not tracked: "pw" is in every text.
"""

from __future__ import annotations

import logging

MIN_LENGTH = 12

_secrets: set[str] = set()
_texts: list[str] = []


def issued(secret: str) -> str:
    """Register a secret handed out during the run (returns it, for inline use)."""
    if len(secret) >= MIN_LENGTH:
        _secrets.add(secret)
    return secret


def seen(text: str) -> None:
    """Register a text a user could see."""
    if text:
        _texts.append(text)


def leaks() -> list[str]:
    """Each secret found in a seen text, shortened so the report does not leak it either."""
    found = {secret for secret in _secrets for text in _texts if secret in text}
    return sorted(f"{secret[:4]}...({len(secret)} chars)" for secret in found)


def counts() -> tuple[int, int]:
    return len(_secrets), len(_texts)


class Recorder(logging.Handler):
    """Keeps every record's message (and its exception text) for the scan."""

    def emit(self, record: logging.LogRecord) -> None:
        seen(self.format(record))
