"""End-to-end fixtures: a real simulated lab that is always torn down."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest


def _leftovers() -> list[str]:
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    # camlab-t<issue>-* belong to other tests, which remove their own
    return [
        ln
        for ln in (ns + links).splitlines()
        if "camlab" in ln and not re.search(r"camlab-t\d+-", ln)
    ]


@pytest.fixture(scope="package")
def lab() -> Iterator[dict[str, Any]]:
    """A 40-camera lab (seed 7) for the whole e2e package; torn down even on failure."""
    if os.geteuid() != 0:
        pytest.fail("end-to-end lab tests need root (CI runs as root): run them as root")
    from camlab import control

    control.down()  # a previous crashed run must not make this one fail
    before = _leftovers()
    assert not before, f"camlab leftovers before the test: {before}"
    try:
        control.up(cameras=40, seed=7)
        yield control.status()
    finally:
        control.down()
        left = _leftovers()
        assert not left, f"lab down left things behind: {left}"
