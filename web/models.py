"""SQLModel tables, one family per entity: ``XBase`` / ``XCreate`` / ``X`` / ``XPublic``.

Times are Unix epoch seconds (floats), the same unit as the scan JSON, so ingest never
converts and the API hands back what probes sent. Inputs never carry ids or secrets;
``*Public`` models never carry password or token hashes.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

Role = Literal["admin", "auditor"]
FindingStatus = Literal["open", "acknowledged", "accepted"]
SEVERITY_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def now() -> float:
    return time.time()


# --- Site ------------------------------------------------------------------------------


class SiteBase(SQLModel):
    name: str = Field(min_length=1, max_length=100, unique=True, index=True)
    description: str = Field(default="", max_length=1000)


class SiteCreate(SiteBase):
    pass


class Site(SiteBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: float = Field(default_factory=now)


class SitePublic(SiteBase):
    id: int
    created_at: float


# --- Probe -----------------------------------------------------------------------------


class ProbeBase(SQLModel):
    name: str = Field(min_length=1, max_length=100, unique=True, index=True)


class ProbeCreate(ProbeBase):
    site_id: int


class Probe(ProbeBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    # sha256 of the token; the token itself is shown once and never stored.
    token_hash: str = Field(max_length=64, unique=True, index=True)
    revoked: bool = False
    created_at: float = Field(default_factory=now)
    last_seen_at: float | None = None


class ProbePublic(ProbeBase):
    id: int
    site_id: int
    revoked: bool
    created_at: float
    last_seen_at: float | None


# --- Scan ------------------------------------------------------------------------------


class ScanBase(SQLModel):
    scan_uid: str = Field(max_length=200)  # the "id" in the scan JSON
    started: float
    finished: float
    targets: list[str] = Field(default_factory=list, sa_type=JSON)
    stats: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    camaudit_version: str = Field(default="", max_length=50)


class Scan(ScanBase, table=True):
    __table_args__ = (
        UniqueConstraint("probe_id", "scan_uid", name="uq_scan_probe_uid"),
        Index("ix_scan_site_started", "site_id", "started"),
    )
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id")
    probe_id: int = Field(foreign_key="probe.id", index=True)
    received_at: float = Field(default_factory=now)
    device_count: int = 0
    finding_count: int = 0
    observation_count: int = 0


class ScanPublic(ScanBase):
    id: int
    site_id: int
    probe_id: int
    received_at: float
    device_count: int
    finding_count: int
    observation_count: int


# --- Device ----------------------------------------------------------------------------


class DeviceBase(SQLModel):
    ip: str = Field(max_length=64, index=True)
    mac: str | None = Field(default=None, max_length=32)
    vendor: str | None = Field(default=None, max_length=100, index=True)
    oem: str | None = Field(default=None, max_length=100, index=True)
    model: str | None = Field(default=None, max_length=200)
    firmware: str | None = Field(default=None, max_length=200)
    serial: str | None = Field(default=None, max_length=200)
    hardware_id: str | None = Field(default=None, max_length=200)
    endpoint_uuid: str | None = Field(default=None, max_length=200)
    hostname: str | None = Field(default=None, max_length=255)
    device_type: str = Field(default="unknown", max_length=50, index=True)
    confidence: float = 0.0


class Device(DeviceBase, table=True):
    __table_args__ = (Index("ix_device_site_last_seen", "site_id", "last_seen"),)
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id")
    first_seen: float
    last_seen: float
    last_scan_id: int | None = Field(default=None, foreign_key="scan.id")


class DevicePublic(DeviceBase):
    id: int
    site_id: int
    first_seen: float
    last_seen: float
    last_scan_id: int | None


class DeviceIdentity(SQLModel, table=True):
    """One identity key (``mac:``, ``serial:``, ``uuid:``, or ``ip:`` as a last resort).

    Matching a scanned device against these keys, not its IP, is what keeps a camera one
    device when DHCP hands it a new address.
    """

    __table_args__ = (UniqueConstraint("site_id", "key", name="uq_identity_site_key"),)
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id")
    key: str = Field(max_length=300)
    device_id: int = Field(foreign_key="device.id", index=True)


class DeviceSighting(SQLModel, table=True):
    """A device as one scan saw it; ``snapshot`` is that scan's device JSON."""

    __table_args__ = (UniqueConstraint("scan_id", "device_id", name="uq_sighting_scan_device"),)
    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="device.id", index=True)
    scan_id: int = Field(foreign_key="scan.id", index=True)
    ip: str = Field(max_length=64)
    seen_at: float
    snapshot: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


# --- Finding ---------------------------------------------------------------------------


class FindingBase(SQLModel):
    rule: str = Field(max_length=100, index=True)
    severity: str = Field(max_length=16)
    title: str = Field(max_length=500)
    evidence: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    rationale: str = ""
    remediation: str = ""


class Finding(FindingBase, table=True):
    __table_args__ = (
        UniqueConstraint("device_id", "rule", "key", name="uq_finding_device_rule_key"),
        Index("ix_finding_status_rank", "status", "severity_rank"),
        # The findings list walks this in order and stops at the page (migration 0004).
        Index("ix_finding_rank_seen", "severity_rank", "last_seen", "id"),
        # Covers "is this finding open?" (last_seen vs the device's, status, expiry) by severity.
        Index(
            "ix_finding_device_state", "device_id", "last_seen", "status", "expires_at", "severity"
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="device.id", index=True)
    key: str = Field(max_length=64)  # stable per (rule, title) so one rule can fire twice
    severity_rank: int = Field(default=0, index=True)
    first_seen: float
    last_seen: float
    first_scan_id: int | None = Field(default=None, foreign_key="scan.id")
    last_scan_id: int | None = Field(default=None, foreign_key="scan.id", index=True)
    status: str = Field(default="open", max_length=16)
    justification: str | None = None
    expires_at: float | None = None
    acknowledged_by: str | None = Field(default=None, max_length=100)
    acknowledged_at: float | None = None


class FindingPublic(FindingBase):
    id: int
    device_id: int
    severity_rank: int
    first_seen: float
    last_seen: float
    first_scan_id: int | None
    last_scan_id: int | None
    status: str
    effective_status: str = "open"  # "accepted" past its expiry reads as "open"
    justification: str | None
    expires_at: float | None
    acknowledged_by: str | None
    acknowledged_at: float | None


class FindingAcknowledge(SQLModel):
    note: str = Field(default="", max_length=2000)


class FindingAccept(SQLModel):
    justification: str = Field(min_length=3, max_length=2000)
    expires_at: float  # epoch seconds; accepting a risk forever is not an option


# --- Observation -----------------------------------------------------------------------


class Observation(SQLModel, table=True):
    """Raw probe output, kept so rules can be re-run later without rescanning."""

    id: int | None = Field(default=None, primary_key=True)
    scan_id: int = Field(foreign_key="scan.id", index=True)
    probe: str = Field(max_length=50)
    ip: str = Field(max_length=64)
    port: int | None = None
    mac: str | None = Field(default=None, max_length=32)
    at: float = 0.0
    error: str | None = None
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)

    def to_scan_dict(self) -> dict[str, Any]:
        """The observation as the scan JSON carries it (``auditor.model.Observation``)."""
        return {
            "probe": self.probe,
            "ip": self.ip,
            "data": self.data,
            "port": self.port,
            "mac": self.mac,
            "at": self.at,
            "error": self.error,
        }


# --- User and audit log ----------------------------------------------------------------


class UserBase(SQLModel):
    username: str = Field(min_length=1, max_length=64, unique=True, index=True)
    role: str = Field(default="auditor", max_length=16)


class UserCreate(UserBase):
    password: str = Field(min_length=10, max_length=1024)


class User(UserBase, table=True):
    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL
    id: int | None = Field(default=None, primary_key=True)
    password_hash: str
    disabled: bool = False
    created_at: float = Field(default_factory=now)


class UserPublic(UserBase):
    id: int
    disabled: bool
    created_at: float


class AuditLog(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    at: float = Field(default_factory=now, index=True)
    actor: str = Field(max_length=120)  # "user:alice", "probe:pi-north", "cli"
    action: str = Field(max_length=60)
    target: str = Field(default="", max_length=200)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


# --- Schedule and job ------------------------------------------------------------------


class ScheduleBase(SQLModel):
    name: str = Field(min_length=1, max_length=100)
    spec: str = Field(min_length=1, max_length=100)  # "@daily" or 5-field cron, UTC
    targets: list[str] = Field(default_factory=list, sa_type=JSON)
    options: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    enabled: bool = True


class ScheduleCreate(ScheduleBase):
    site_id: int


class Schedule(ScheduleBase, table=True):
    __table_args__ = (UniqueConstraint("site_id", "name", name="uq_schedule_site_name"),)
    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    created_at: float = Field(default_factory=now)
    next_due: float  # the next fire time; a probe's poll turns it into a Job


class SchedulePublic(ScheduleBase):
    id: int
    site_id: int
    created_at: float
    next_due: float


class Job(SQLModel, table=True):
    """One due run of a schedule, handed to the first probe of the site that asks."""

    __table_args__ = (UniqueConstraint("schedule_id", "due", name="uq_job_schedule_due"),)
    id: int | None = Field(default=None, primary_key=True)
    schedule_id: int = Field(foreign_key="schedule.id", index=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    due: float
    status: str = Field(default="pending", max_length=16)  # pending, done, failed
    probe_id: int | None = Field(default=None, foreign_key="probe.id")
    claimed_at: float | None = None
    finished_at: float | None = None
    scan_id: int | None = Field(default=None, foreign_key="scan.id")
    error: str | None = Field(default=None, max_length=2000)


class ProbeKey(SQLModel, table=True):
    """The ed25519 public key a probe signs its offline bundles with (one per probe).

    A table of its own (migration 0003), not a column on ``probe``: keys are rotated
    and audited apart from tokens, and an older probe row needs no rewrite.
    """

    id: int | None = Field(default=None, primary_key=True)
    probe_id: int = Field(foreign_key="probe.id", unique=True, index=True)
    key_id: str = Field(max_length=64, unique=True, index=True)  # auditor.bundle.key_id
    public_key: str = Field(max_length=200)  # "ed25519:<base64 of the raw 32 bytes>"
    created_at: float = Field(default_factory=now)


# --- Probe health ----------------------------------------------------------------------


class ProbeStatus(SQLModel, table=True):
    """What a probe last said about itself (its ``X-Camaudit-*`` request headers).

    A table of its own (migration 0005), one row per probe, rewritten on each contact:
    the ``probe`` row stays a record of identity and tokens. ``None`` means the probe
    did not send that header (an older probe, or ``camaudit scan --server``) or sent a
    value that failed validation.
    """

    probe_id: int = Field(foreign_key="probe.id", primary_key=True)
    last_contact: float
    address: str | None = Field(default=None, max_length=64)
    version: str | None = Field(default=None, max_length=50)
    outbox_depth: int | None = None
    quarantined: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    # How often the probe says it calls in, and its shortest local schedule (migration
    # 0006): a probe polling every 10 minutes is silent only after 3 polls missed.
    poll_interval_s: float | None = None
    schedule_period_s: float | None = None


class ProbeAlert(SQLModel, table=True):
    """A site-level alert about a probe (so far: it went silent), open until it resolves.

    Unique on (probe, kind, since): ``since`` is the last contact before the silence, so
    two sweeps that notice the same silence store one alert.
    """

    __table_args__ = (
        UniqueConstraint("probe_id", "kind", "since", name="uq_probealert_probe_kind_since"),
    )
    id: int | None = Field(default=None, primary_key=True)
    probe_id: int = Field(foreign_key="probe.id", index=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    kind: str = Field(default="silent", max_length=32)
    severity: str = Field(default="high", max_length=16)
    since: float  # the probe's last contact
    raised_at: float = Field(default_factory=now)
    resolved_at: float | None = Field(default=None, index=True)
    threshold_s: float = 0.0  # the silence allowed when it was raised
