"""Synthetic scans in the ``ScanResult.to_dict()`` shape, built with the real model."""

from __future__ import annotations

import random
from typing import Any

from auditor.model import (
    Device,
    Evidence,
    Finding,
    Observation,
    Radio,
    ScanResult,
    Service,
    Severity,
)

VENDORS = [
    ("Hikvision", "Hikvision"), ("Dahua", "Dahua"), ("Lorex", "Dahua"), ("Annke", "Hikvision"),
    ("Axis", "Axis"), ("Reolink", "Reolink"), ("Swann", "Xiongmai"),
]  # fmt: skip
RULES = [("CAM-OEM-REBRAND", Severity.MEDIUM), ("CAM-HIDDEN-WIFI", Severity.HIGH),
         ("CAM-CLOUD-P2P", Severity.CRITICAL), ("CAM-RTSP-NOAUTH", Severity.HIGH),
         ("CAM-OLD-FIRMWARE", Severity.LOW)]  # fmt: skip


def make_device(
    i: int, ip: str | None = None, n_findings: int = 4, firmware: str = "V5.5.0"
) -> Device:
    vendor, oem = VENDORS[i % len(VENDORS)]
    dev = Device(
        ip=ip or f"198.18.{i // 250}.{i % 250 + 1}",
        mac=f"02:00:00:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}",
        vendor=vendor,
        oem=oem,
        model=f"DS-{1000 + i % 37}",
        firmware=firmware,
        serial=f"SN{i:08d}",
        device_type="camera",
        confidence=0.9,
        endpoint_uuid=f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
        services=[Service(80, "tcp", "http", "App-webs/"), Service(554, "tcp", "rtsp", "RTSP/1.0")],
        radios=[Radio("wifi", mac=f"02:11:00:00:00:{i & 255:02x}", source="onvif-dot11")]
        if i % 5 == 0
        else [],
        evidence=[Evidence("oui", f"OUI of {oem}", "02:00:00")],
    )
    for rule, sev in RULES[:n_findings]:
        dev.findings.append(
            Finding(
                rule,
                sev,
                f"{rule} on camera {i}",
                [Evidence("http:80", "Server header", "App-webs/")],
            )
        )
    return dev


def make_scan(
    scan_id: str,
    n_devices: int = 3,
    obs_per_device: int = 2,
    findings_per_device: int = 4,
    devices: list[Device] | None = None,
    started: float = 1_700_000_000.0,
) -> dict[str, Any]:
    devs = (
        devices
        if devices is not None
        else [make_device(i, n_findings=findings_per_device) for i in range(n_devices)]
    )
    rnd = random.Random(scan_id)
    obs = [
        Observation(
            "http", d.ip, {"status": 200, "server": "App-webs", "body": "x" * rnd.randint(9, 99)},
            port=80, mac=d.mac, at=started + 1,
        )
        for d in devs for _ in range(obs_per_device)
    ]  # fmt: skip
    return ScanResult(
        scan_id, ["198.18.0.0/22"], started, started + 60.0, devs, obs, {"hosts": len(devs)}
    ).to_dict()
