"""The typed commands as a type checker sees them: `mypy --strict` on typed_usage.py.

Its `assert_type` lines must hold (precise returns, overloads on flags, chaining pipelines) and
its deliberate mistakes must each be reported (parameter types are checked).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SAMPLE = Path(__file__).with_name("typed_usage.py")
EXPECTED_ERRORS = 5


@pytest.mark.slow
def test_mypy_sees_precise_types_and_reports_mistakes(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api")
    stdout, stderr, _ = api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path), str(SAMPLE)]
    )
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    mistakes_start = (
        SAMPLE.read_text()
        .splitlines()
        .index("async def mistakes(con: MultiplexedConnection, pipe: Pipeline) -> None:")
    )
    lines = [int(m.group(1)) for m in (re.search(r":(\d+): error", e) for e in errors) if m]
    outside = [e for e, line in zip(errors, lines, strict=True) if line <= mistakes_start]
    assert outside == [], stdout + stderr
    assert len({line for line in lines if line > mistakes_start}) == EXPECTED_ERRORS, stdout
