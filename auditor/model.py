"""The data model that crosses layers: observations in, devices and findings out.

``probes`` produce :class:`Observation` objects (raw facts, JSON-serialisable, with
where and when they were seen). ``auditor.classify`` turns them into :class:`Device`
objects and ``auditor.rules`` attaches :class:`Finding` objects. ``web`` stores and
shows all three. No third-party type (zeep, scapy, cv2, sqlmodel) ever appears here.

The per-probe schema of ``Observation.data`` is documented in ``docs/observations.md``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from enum import IntEnum
from typing import Any


class Severity(IntEnum):
    """Finding severity; ordered so ``--fail-on`` can compare."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Return the severity named by ``text`` (case-insensitive); raise ValueError."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {text!r}; expected one of {names}") from None

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Observation:
    """One raw fact a probe saw on the network.

    ``probe`` names the source module (``arp``, ``wsdiscovery``, ``portscan``, ``http``,
    ``rtsp``, ``onvif``, ``vendor_port``, ...). ``data`` is JSON-serialisable and follows
    the schema for that probe in ``docs/observations.md``. ``error`` records why a probe
    could not finish on this device (timeout, malformed XML, oversized reply): a probe
    never raises for a misbehaving device, it records the reason and moves on.
    """

    probe: str
    ip: str
    data: dict[str, Any] = field(default_factory=dict)
    port: int | None = None
    mac: str | None = None
    at: float = field(default_factory=time.time)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # field by field, not dataclasses.asdict: ``data`` is plain JSON already and a
        # deep copy of 2,000 observations' data costs a scan ~60 ms for nothing
        return {
            "probe": self.probe, "ip": self.ip, "data": self.data, "port": self.port,
            "mac": self.mac, "at": self.at, "error": self.error,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Observation:
        return cls(
            probe=str(d["probe"]),
            ip=str(d["ip"]),
            data=dict(d.get("data") or {}),
            port=d.get("port"),
            mac=d.get("mac"),
            at=float(d.get("at") or 0.0),
            error=d.get("error"),
        )


@dataclass
class Evidence:
    """Why camaudit believes something: which probe saw what, and what it means."""

    source: str  # probe or data file that produced it, e.g. "http:80", "oui", "onvif"
    detail: str  # human readable, e.g. "Server: App-webs/ matched hikvision.toml#app-webs"
    value: str | None = None  # the raw value quoted, e.g. the header line
    # What this evidence supports, e.g. "oem=Dahua", "vendor=Amcrest", "type=camera";
    # rules cite the evidence behind a claim by filtering on it.
    claim: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Service:
    port: int
    proto: str  # "tcp" | "udp"
    name: str  # "http", "https", "rtsp", "onvif", "hikvision-sdk", ...
    banner: str | None = None
    verified_stream: bool | None = None  # rtsp only: media actually received
    auth: str | None = None  # "none" | "basic" | "digest" | "required" | None (unknown)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Radio:
    kind: str  # "wifi" | "cellular" | "bluetooth"
    mac: str | None = None
    source: str = ""  # "onvif-interfaces", "onvif-dot11", "air", "vendor-api"
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Finding:
    rule: str  # stable rule id, e.g. "CAM-OEM-REBRAND"
    severity: Severity
    title: str
    evidence: list[Evidence] = field(default_factory=list)
    rationale: str = ""
    remediation: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": str(self.severity),
            "title": self.title,
            "evidence": [e.to_dict() for e in self.evidence],
            "rationale": self.rationale,
            "remediation": self.remediation,
        }


@dataclass
class Device:
    """One device as camaudit understands it after classification.

    ``vendor`` is the brand the device presents (its label); ``oem`` is the company
    that really made it (equal to ``vendor`` when it is not a rebrand).
    """

    ip: str
    mac: str | None = None
    vendor: str | None = None
    oem: str | None = None
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    hardware_id: str | None = None
    device_type: str = "unknown"  # "camera", "nvr", "computer", "printer", "switch", "unknown"
    confidence: float = 0.0
    endpoint_uuid: str | None = None  # WS-Discovery / ONVIF endpoint reference
    hostname: str | None = None
    services: list[Service] = field(default_factory=list)
    radios: list[Radio] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # misbehaviour, parse failures, ...
    clock_offset_s: float | None = None  # device clock minus ours (ONVIF GetSystemDateAndTime)
    # The raw observations this device was built from, so rules can quote them; not part
    # of to_dict (the scan JSON carries observations once, at the top level).
    observations: list[Observation] = field(default_factory=list, repr=False, compare=False)

    @property
    def identity_keys(self) -> list[str]:
        """Keys that identify this device across scans even when its IP changes."""
        keys = []
        if self.mac:
            keys.append(f"mac:{self.mac.lower()}")
        if self.serial and self.oem:
            keys.append(f"serial:{self.oem.lower()}:{self.serial}")
        if self.endpoint_uuid:
            keys.append(f"uuid:{self.endpoint_uuid.lower()}")
        return keys

    def to_dict(self) -> dict[str, Any]:
        return {
            "ip": self.ip,
            "mac": self.mac,
            "vendor": self.vendor,
            "oem": self.oem,
            "model": self.model,
            "firmware": self.firmware,
            "serial": self.serial,
            "hardware_id": self.hardware_id,
            "device_type": self.device_type,
            "confidence": round(self.confidence, 3),
            "endpoint_uuid": self.endpoint_uuid,
            "hostname": self.hostname,
            "identity_keys": self.identity_keys,
            "services": [s.to_dict() for s in self.services],
            "radios": [r.to_dict() for r in self.radios],
            "findings": [f.to_dict() for f in self.findings],
            "evidence": [e.to_dict() for e in self.evidence],
            "notes": list(self.notes),
            "clock_offset_s": self.clock_offset_s,
        }


@dataclass
class ScanResult:
    """Everything one scan produced; ``to_dict`` is the ``--json`` shape."""

    scan_id: str
    targets: list[str]
    started: float
    finished: float
    devices: list[Device] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    version: str = "0.1.0"

    def to_dict(self, include_observations: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "scan": {
                "id": self.scan_id,
                "targets": self.targets,
                "started": self.started,
                "finished": self.finished,
                "duration_s": round(self.finished - self.started, 3),
                "camaudit_version": self.version,
                "stats": self.stats,
            },
            "devices": [dev.to_dict() for dev in self.devices],
        }
        if include_observations:
            d["observations"] = [o.to_dict() for o in self.observations]
        return d
