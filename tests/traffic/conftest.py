"""Traffic tests: the capture builders (pcapbuild, sitecap) and the traffic rules.

pytest runs with --import-mode=importlib, which does not put test directories on
sys.path; the helpers are plain modules beside the tests.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(autouse=True)
def traffic_rules() -> Iterator[None]:
    """Register the CAM-NET-* rules for each test, and take them out again afterwards
    unless ``auditor.rules`` registers them itself, so tests elsewhere that list the
    registry (tests/unit/test_rules.py) see it as the package defines it."""
    from auditor.rules import RULES

    wired = any(r.startswith("CAM-NET-") for r in RULES)
    if not wired:
        mod = sys.modules.get("auditor.rules.traffic")
        if mod is None:
            importlib.import_module("auditor.rules.traffic")
        else:
            importlib.reload(mod)
    yield
    if not wired:
        for rid in [r for r in RULES if r.startswith("CAM-NET-")]:
            del RULES[rid]
