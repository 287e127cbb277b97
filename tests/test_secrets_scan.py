"""The suite-wide secrets scan itself can fail: a planted leak is found, a clean text is not."""

from __future__ import annotations

import logging

from tests import _secrets


def test_the_scan_finds_a_planted_leak() -> None:
    secret = _secrets.issued("planted-secret-" + "x" * 8)
    assert _secrets.leaks() == []
    scratch = list(_secrets._texts)
    try:
        logging.getLogger("anyredis_auth.test").debug("leaking %s", secret)
        assert _secrets.leaks() == ["plan...(23 chars)"]
    finally:
        _secrets._texts[:] = scratch  # the planted leak must not fail the real scan
    assert _secrets.leaks() == []
