"""Fixtures for the probe appliance: a real dashboard under uvicorn, a probe registered
on it, and a tiny HTTP "camera" on loopback for real scans.

pytest runs with ``--import-mode=importlib``; the helpers module beside the tests is
put on sys.path here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from appliance_env import FakeCamera, LiveServer, start_server  # noqa: E402


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    srv = start_server(tmp_path / "srv")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def camera() -> Iterator[FakeCamera]:
    cam = FakeCamera()
    try:
        yield cam
    finally:
        cam.stop()
