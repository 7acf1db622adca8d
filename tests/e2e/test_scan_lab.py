"""`camaudit scan` of the simulated lab, scored against the lab's ground truth.

The scanner only talks to the network; the ground truth (``lab status --json``) is read
here, by the test, to score it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = [pytest.mark.needs_root, pytest.mark.lab]


def _norm(name: str | None) -> str:
    return re.sub(r"[^a-z0-9]", "", (name or "").lower())


def _by_ip(scan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["ip"]: d for d in scan["devices"]}


def test_every_lab_device_is_found(lab: dict[str, Any], scan: dict[str, Any]) -> None:
    truth_ips = {d["ip"] for d in lab["devices"]}
    found = set(_by_ip(scan))
    assert truth_ips <= found, f"missed: {sorted(truth_ips - found)}"
    # nothing outside the lab's devices (the probe's own address and the router aside)
    extra = found - truth_ips - {lab["probe_ip"]}
    assert all(ip.endswith((".254", ".1")) for ip in extra), f"phantom devices: {sorted(extra)}"


def test_vendor_and_real_maker_right_for_onvif_cameras(
    lab: dict[str, Any], scan: dict[str, Any]
) -> None:
    got = _by_ip(scan)
    wrong = []
    for t in lab["devices"]:
        if t["kind"] != "camera" or not t["onvif_enabled"] or t["default_password"]:
            continue  # (a camera left on a vendor default refuses the operator's password)
        d = got[t["ip"]]
        # a white label with no brand ("Generic") is right when the real maker is
        label_ok = t["vendor"] == "Generic" or _norm(d["vendor"]) == _norm(t["vendor"])
        if not label_ok or _norm(d["oem"]) != _norm(t["oem"]):
            wrong.append((t["name"], t["vendor"], t["oem"], d["vendor"], d["oem"]))
    assert not wrong, (
        f"vendor/oem wrong (name, truth vendor, truth oem, got vendor, got oem): {wrong}"
    )


def test_non_cameras_are_not_called_cameras(lab: dict[str, Any], scan: dict[str, Any]) -> None:
    got = _by_ip(scan)
    for t in lab["devices"]:
        if t["kind"] != "camera":
            assert got[t["ip"]]["device_type"] != "camera", t["name"]
        else:
            assert got[t["ip"]]["device_type"] == "camera", t["name"]


def test_no_stream_claimed_without_media(lab: dict[str, Any], scan: dict[str, Any]) -> None:
    got = _by_ip(scan)
    liars = [t for t in lab["devices"] if "rtsp_any_path_200" in t["quirks"]]
    assert liars, "the lab must include cameras that answer 200 to any RTSP path"
    for t in liars:
        rtsp = [s for s in got[t["ip"]]["services"] if s["name"] == "rtsp"]
        assert rtsp and not any(s["verified_stream"] for s in rtsp), t["name"]
    # A stream with no RTSP authentication must be proven by received media, except on
    # cameras left on a vendor default password whose stream path embeds it (Xiongmai):
    # finding those means trying the default, which is the opt-in --check-default-creds.
    real = [
        t
        for t in lab["devices"]
        if t.get("rtsp")
        and "rtsp_any_path_200" not in t["quirks"]
        and t["rtsp"].get("auth", "none") == "none"
        and not t["default_password"]
    ]
    assert real
    for t in real:
        rtsp = [s for s in got[t["ip"]]["services"] if s["name"] == "rtsp"]
        assert any(s["verified_stream"] for s in rtsp), f"{t['name']}: open stream not proven"


def test_clock_skewed_cameras_identified_through_onvif(
    lab: dict[str, Any], scan: dict[str, Any]
) -> None:
    got = _by_ip(scan)
    skewed = [
        t
        for t in lab["devices"]
        if "clock_skew" in t["quirks"] and t["onvif_enabled"] and not t["default_password"]
    ]
    assert skewed
    for t in skewed:
        model = _norm(got[t["ip"]]["model"])
        assert model and model in _norm(t["model"]), (t["name"], t["model"], model)


def test_report_written(scan: dict[str, Any]) -> None:
    assert scan["scan"]["stats"]["devices"] >= 40  # the HTML report's size: in the fixture
