"""Observations built the way the ONVIF probe reports them (docs/observations.md)."""

from __future__ import annotations

from typing import Any

from auditor.classify import classify
from auditor.model import Device, Observation
from auditor.rules import evaluate

T0 = 1_700_000_000.0


def onvif_obs(
    ip: str,
    manufacturer: str,
    model: str,
    firmware: str,
    *,
    hardware_id: str | None = None,
    serial: str = "SERIAL0001",
    **data: Any,
) -> Observation:
    """An ``onvif`` observation (docs/observations.md) of an authenticated probe."""
    d: dict[str, Any] = {
        "xaddr": f"http://{ip}/onvif/device_service",
        "clock_offset_s": 0.2,
        "auth": "digest",
        "device_info": {
            "manufacturer": manufacturer,
            "model": model,
            "firmware": firmware,
            "serial": serial,
            "hardware_id": hardware_id,
        },
        "capabilities": {"media": True, "ptz": False, "dot11": False, "analytics": False},
        "services": [],
        "interfaces": [],
        "scopes": [],
        "profiles": [
            {"token": "Profile_1", "name": "mainStream", "video_encoding": "H264", "audio": False}
        ],
        "stream_uris": [],
        "calls": {"GetDeviceInformation": "ok", "GetProfiles": "ok"},
        "ntp": True,
    }
    d.update(data)
    return Observation("onvif", ip, d, port=80, at=T0)


def devices_from(*obs: Observation) -> list[Device]:
    devs = classify(obs)
    evaluate(devs)
    return devs


def rule_ids(dev: Device) -> set[str]:
    return {f.rule for f in dev.findings}
