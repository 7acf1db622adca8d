"""Pydantic models of the scan JSON a probe sends (``ScanResult.to_dict()``).

Unknown keys are ignored, so probes can add fields (docs/observations.md: "add keys
freely") without breaking older servers; known keys are type- and size-checked.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from web.models import SEVERITY_RANK

Short = Annotated[str, Field(max_length=512)]
OptShort = Annotated[str | None, Field(default=None, max_length=512)]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class EvidenceIn(_In):
    source: Short = ""
    detail: Annotated[str, Field(max_length=4096)] = ""
    value: Annotated[str | None, Field(max_length=4096)] = None


class FindingIn(_In):
    rule: Annotated[str, Field(min_length=1, max_length=100)]
    severity: str
    title: Annotated[str, Field(min_length=1, max_length=500)]
    evidence: list[EvidenceIn] = Field(default_factory=list)
    rationale: Annotated[str, Field(max_length=8192)] = ""
    remediation: Annotated[str, Field(max_length=8192)] = ""

    @field_validator("severity")
    @classmethod
    def _known_severity(cls, v: str) -> str:
        s = v.strip().lower()
        if s not in SEVERITY_RANK:
            raise ValueError(f"unknown severity {v!r}; expected one of {', '.join(SEVERITY_RANK)}")
        return s


class ServiceIn(_In):
    port: Annotated[int, Field(ge=0, le=65535)]
    proto: Annotated[str, Field(max_length=8)] = "tcp"
    name: Short = ""
    banner: Annotated[str | None, Field(max_length=4096)] = None
    verified_stream: bool | None = None


class RadioIn(_In):
    kind: Annotated[str, Field(max_length=32)]
    mac: OptShort
    source: Short = ""
    detail: Short = ""


class DeviceIn(_In):
    ip: Annotated[str, Field(max_length=64)]
    mac: Annotated[str | None, Field(default=None, max_length=32)]
    vendor: Annotated[str | None, Field(default=None, max_length=100)]
    oem: Annotated[str | None, Field(default=None, max_length=100)]
    model: Annotated[str | None, Field(default=None, max_length=200)]
    firmware: Annotated[str | None, Field(default=None, max_length=200)]
    serial: Annotated[str | None, Field(default=None, max_length=200)]
    hardware_id: Annotated[str | None, Field(default=None, max_length=200)]
    device_type: Annotated[str, Field(max_length=50)] = "unknown"
    confidence: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    endpoint_uuid: Annotated[str | None, Field(default=None, max_length=200)]
    hostname: Annotated[str | None, Field(default=None, max_length=255)]
    services: list[ServiceIn] = Field(default_factory=list)
    radios: list[RadioIn] = Field(default_factory=list)
    findings: list[FindingIn] = Field(default_factory=list)
    evidence: list[EvidenceIn] = Field(default_factory=list)
    notes: list[Annotated[str, Field(max_length=2048)]] = Field(default_factory=list)

    @field_validator("ip")
    @classmethod
    def _is_ip(cls, v: str) -> str:
        return str(ipaddress.ip_address(v.strip()))


class ObservationIn(_In):
    probe: Annotated[str, Field(min_length=1, max_length=50)]
    ip: Annotated[str, Field(max_length=64)]
    data: dict[str, Any] = Field(default_factory=dict)
    port: Annotated[int | None, Field(default=None, ge=0, le=65535)]
    mac: Annotated[str | None, Field(default=None, max_length=32)]
    at: float = 0.0
    error: Annotated[str | None, Field(default=None, max_length=2048)]


class ScanMetaIn(_In):
    id: Annotated[str, Field(min_length=1, max_length=200)]
    targets: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list)
    started: Annotated[float, Field(ge=0)]
    finished: Annotated[float, Field(ge=0)]
    camaudit_version: Annotated[str, Field(max_length=50)] = ""
    stats: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ordered(self) -> ScanMetaIn:
        if self.finished < self.started:
            raise ValueError("scan.finished is before scan.started")
        return self


class ScanIn(_In):
    """The body of ``POST /api/ingest``."""

    scan: ScanMetaIn
    devices: list[DeviceIn] = Field(default_factory=list)
    observations: list[ObservationIn] = Field(default_factory=list)


class IngestOut(BaseModel):
    scan_id: int
    scan_uid: str
    created: bool  # False: this probe had already sent this scan; nothing was written
    devices: int
    devices_new: int
    findings: int
    findings_new: int
    observations: int
