"""The lab scoring helper (tests/e2e/trafficscore.py) that the e2e test and the live
bench share: it must catch a missed behaviour, a finding on the wrong device or MAC,
and anything flagged for the site's own DNS/NTP."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from trafficscore import score

SITE = "198.18.3.254"


def _truth() -> dict[str, Any]:
    cam = {
        "name": "cam001", "ip": "198.18.0.10", "mac": "BC:AD:28:00:00:01", "profile": "x",
        "expected_traffic": [
            {"what": "UDP p2p:32100", "rules": ["CAM-NET-P2P"]},
            {"what": "DNS a via site", "rules": []},
            {"what": "NTP pool", "rules": ["CAM-NET-NTP-EXTERNAL"]},
        ],
        "expected_traffic_rules": ["CAM-NET-NTP-EXTERNAL", "CAM-NET-P2P"],
    }  # fmt: skip
    return {"site_dns": SITE, "site_ntp": SITE, "devices": [cam]}


def _finding(rule: str, value: str = "udp/198.19.1.1:32100") -> dict[str, Any]:
    return {"rule": rule, "evidence": [{"detail": "d", "value": value}]}


def test_perfect_result_scores_perfect() -> None:
    result = {"devices": [{"ip": "198.18.0.10", "mac": "bc:ad:28:00:00:01",
                           "findings": [_finding("CAM-NET-P2P"),
                                        _finding("CAM-NET-NTP-EXTERNAL"),
                                        _finding("CAM-ID-OEM-REBRAND")]}]}  # fmt: skip
    s = score(_truth(), result)
    assert s.perfect and (s.behaviours, s.detected) == (2, 2)
    assert s.to_dict()["recall"] == 1.0


def test_misses_strangers_macs_and_allowed_traffic_are_reported() -> None:
    result = {"devices": [
        {"ip": "198.18.0.10", "mac": None,
         "findings": [_finding("CAM-NET-P2P"), _finding("CAM-NET-STUN", f"udp/{SITE}:123")]},
        {"ip": "198.18.0.99", "mac": None, "findings": [_finding("CAM-NET-CLOUD")]},
    ]}  # fmt: skip
    s = score(_truth(), result)
    assert not s.perfect and (s.behaviours, s.detected) == (2, 1)
    assert s.missed == ["cam001 198.18.0.10 (x): NTP pool: CAM-NET-NTP-EXTERNAL"]
    assert len(s.unexpected) == 1 and "CAM-NET-STUN" in s.unexpected[0]
    assert len(s.wrong_mac) == 1 and s.strangers == ["198.18.0.99: CAM-NET-CLOUD"]
    assert s.allowed_flagged == [f"198.18.0.10: CAM-NET-STUN cites udp/{SITE}:123"]
    assert "1/2 phone-home behaviours detected" in s.explain()
