"""Posture tests (policy, advisories, exports, reclassify, default credentials).

``postureobs.py`` is shared by several modules; pytest's importlib mode does not put
this directory on ``sys.path``, so it is added here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from postureobs import onvif_obs  # noqa: E402

from auditor.model import Observation  # noqa: E402


@pytest.fixture
def hik_old() -> Observation:
    """A Hikvision camera on 2017 firmware (inside CVE-2021-36260's range)."""
    return onvif_obs(
        "198.18.0.20", "HIKVISION", "DS-2CD2043G2-I", "V5.4.5 build 170124", hardware_id="88"
    )
