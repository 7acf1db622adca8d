"""Property-based fuzzing of every parser that reads bytes or files camaudit did not write.

Example counts are bounded for the test command (``fuzzset.fuzz(n)``); ``make fuzz``
runs the same tests with ``HYPOTHESIS_PROFILE=long`` (``fuzzset.SCALE`` times more
examples, no deadline). Each test counts the examples it really ran; the totals are
printed at the end of the session as a ``FIGURES fuzz {...}`` line for
docs/reliability.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import fuzzset  # noqa: E402  (needs the path above)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if fuzzset.RAN:
        total = sum(fuzzset.RAN.values())
        figures = {"profile": fuzzset.PROFILE, "total": total, "per_target": dict(fuzzset.RAN),
                   **fuzzset.NOTES}  # fmt: skip
        terminalreporter.write_line(f"FIGURES fuzz {json.dumps(figures, sort_keys=True)}")
