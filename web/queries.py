"""Read queries shared by the HTML pages and their JSON twins (datasette habit).

Each function returns pydantic models; a route either dumps them as JSON or hands
them to a template. Lists are paginated and built in a constant number of queries.
"""

from __future__ import annotations

import math
import time
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, case, func, or_
from sqlmodel import Session, col, select

from web.models import (
    Device,
    DeviceIdentity,
    DevicePublic,
    DeviceSighting,
    Finding,
    FindingPublic,
    Probe,
    Scan,
    ScanPublic,
    Site,
)
from web.probe_health import ProbeAlertRow

T = TypeVar("T")
SEVERITIES = ("critical", "high", "medium", "low", "info")
STATUSES = ("open", "acknowledged", "accepted", "resolved", "all")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int
    pages: int


def _page(items: list[T], total: int, page: int, per_page: int) -> Page[T]:
    return Page[Any](
        items=items,
        total=total,
        page=page,
        per_page=per_page,
        pages=max(1, math.ceil(total / per_page)),
    )


def effective_status(now: float | None = None) -> ColumnElement[str]:
    """SQL for a finding's status as shown: resolved when its device's latest sighting
    no longer has it; "open" again when an accepted risk has expired."""
    t = time.time() if now is None else now
    return case(
        (col(Finding.last_seen) < col(Device.last_seen), "resolved"),
        (and_(col(Finding.status) == "accepted", col(Finding.expires_at) < t), "open"),
        else_=col(Finding.status),
    )


# --- overview --------------------------------------------------------------------------


class Count(BaseModel):
    name: str
    count: int


class ScanRow(ScanPublic):
    site: str
    probe: str


class TrendPoint(BaseModel):
    scan_id: int
    started: float
    devices: int
    findings: int


class Overview(BaseModel):
    devices: int
    sites: int
    scans: int
    open_findings: int
    by_vendor: list[Count]
    by_oem: list[Count]
    by_type: list[Count]
    findings_by_severity: dict[str, int]
    latest_scans: list[ScanRow]
    trend: list[TrendPoint] = []
    # Open probe alerts (a probe gone silent); filled by the route, which knows the settings.
    probe_alerts: list[ProbeAlertRow] = []


def trend(session: Session, limit: int = 50) -> list[TrendPoint]:
    """The latest ``limit`` scans' device and finding counts, oldest first."""
    rows = session.exec(
        select(Scan.id, Scan.started, Scan.device_count, Scan.finding_count)
        .order_by(col(Scan.started).desc(), col(Scan.id).desc())
        .limit(limit)
    ).all()
    return [
        TrendPoint(scan_id=i or 0, started=s, devices=d, findings=f)
        for i, s, d, f in reversed(rows)
    ]


def _counts(session: Session, column: Any, limit: int = 25) -> list[Count]:
    label = func.coalesce(column, "unknown")
    rows = session.exec(
        select(label, func.count()).group_by(label).order_by(func.count().desc()).limit(limit)
    ).all()
    return [Count(name=str(n), count=c) for n, c in rows]


def overview(session: Session) -> Overview:
    eff = effective_status()
    sev_rows = session.exec(
        select(Finding.severity, func.count())
        .join(Device, col(Device.id) == Finding.device_id)
        .where(eff == "open")
        .group_by(Finding.severity)
    ).all()
    by_sev = {s: 0 for s in SEVERITIES}
    by_sev.update({s: n for s, n in sev_rows})
    return Overview(
        devices=session.exec(select(func.count()).select_from(Device)).one(),
        sites=session.exec(select(func.count()).select_from(Site)).one(),
        scans=session.exec(select(func.count()).select_from(Scan)).one(),
        open_findings=sum(by_sev.values()),
        by_vendor=_counts(session, Device.vendor),
        by_oem=_counts(session, Device.oem),
        by_type=_counts(session, Device.device_type),
        findings_by_severity=by_sev,
        latest_scans=list_scans(session, page=1, per_page=10).items,
        trend=trend(session),
    )


# --- devices ---------------------------------------------------------------------------


class DeviceRow(DevicePublic):
    site: str
    open_findings: int = 0
    max_severity_rank: int | None = None


DEVICE_SORTS: dict[str, Any] = {
    "ip": Device.ip,
    "vendor": Device.vendor,
    "oem": Device.oem,
    "model": Device.model,
    "type": Device.device_type,
    "firmware": Device.firmware,
    "first_seen": Device.first_seen,
    "last_seen": Device.last_seen,
    "site": Site.name,
}


SEARCH_COLUMNS = (
    Device.ip, Device.mac, Device.vendor, Device.oem, Device.model,
    Device.serial, Device.hostname, Device.firmware,
)  # fmt: skip


def list_devices(
    session: Session,
    *,
    q: str | None = None,
    vendor: str | None = None,
    oem: str | None = None,
    device_type: str | None = None,
    site: str | None = None,
    sort: str = "last_seen",
    desc: bool = True,
    page: int = 1,
    per_page: int = 50,
) -> Page[DeviceRow]:
    """Return one page of devices matching the filters, with their open-finding counts."""
    eff = effective_status()
    open_f = (
        select(
            col(Finding.device_id).label("device_id"),
            func.count().label("n"),
            func.max(Finding.severity_rank).label("max_rank"),
        )
        .join(Device, col(Device.id) == Finding.device_id)
        .where(eff == "open")
        .group_by(col(Finding.device_id))
        .subquery()
    )
    conds: list[Any] = []
    if q:
        like = f"%{q.strip()}%"
        conds.append(or_(*(col(c).ilike(like) for c in SEARCH_COLUMNS)))
    for column, value in (
        (Device.vendor, vendor),
        (Device.oem, oem),
        (Device.device_type, device_type),
    ):
        if value:
            conds.append(column == value)
    if site:
        conds.append(Site.name == site)

    count = select(func.count()).select_from(Device)
    if site:
        count = count.join(Site, col(Site.id) == Device.site_id)
    total = session.exec(count.where(*conds)).one()
    if sort in ("findings", "severity"):
        # Ordering by open findings needs them for every device: one grouped pass.
        sort_col = open_f.c.n if sort == "findings" else open_f.c.max_rank
        order: Any = func.coalesce(sort_col, 0 if sort == "findings" else -1)
        order_by = [
            order.desc() if desc else order.asc(),
            col(Device.id).desc() if desc else col(Device.id),
        ]
        rows = session.exec(
            select(Device, Site.name, func.coalesce(open_f.c.n, 0), open_f.c.max_rank)
            .join(Site, col(Site.id) == Device.site_id)
            .outerjoin(open_f, open_f.c.device_id == Device.id)
            .where(*conds)
            .order_by(*order_by)
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()
    else:
        # Otherwise the page comes first and only its devices' findings are counted.
        column = DEVICE_SORTS.get(sort, Device.last_seen)
        order_by = [
            column.desc() if desc else column.asc(),
            col(Device.id).desc() if desc else col(Device.id),
        ]
        page_rows = session.exec(
            select(Device, Site.name)
            .join(Site, col(Site.id) == Device.site_id)
            .where(*conds)
            .order_by(*order_by)
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()
        ids = [d.id for d, _ in page_rows]
        stats: dict[int, tuple[int, int | None]] = {}
        if ids:
            stats = {
                dev_id: (n, r)
                for dev_id, n, r in session.exec(
                    select(Finding.device_id, func.count(), func.max(Finding.severity_rank))
                    .join(Device, col(Device.id) == Finding.device_id)
                    .where(eff == "open", col(Finding.device_id).in_(ids))
                    .group_by(col(Finding.device_id))
                ).all()
            }
        rows = [(d, sn, *stats.get(d.id or 0, (0, None))) for d, sn in page_rows]
    items = [
        DeviceRow.model_validate(
            {**d.model_dump(), "site": s, "open_findings": n, "max_severity_rank": r}
        )
        for d, s, n, r in rows
    ]
    return _page(items, total, page, per_page)


def facet_values(session: Session) -> dict[str, list[str]]:
    """Distinct vendors, OEMs, types and sites, for filter drop-downs."""
    out: dict[str, list[str]] = {}
    for name, column in (
        ("vendor", Device.vendor),
        ("oem", Device.oem),
        ("type", Device.device_type),
    ):
        out[name] = [v for v in session.exec(select(column).distinct().order_by(column)).all() if v]
    out["site"] = list(session.exec(select(Site.name).order_by(Site.name)).all())
    return out


class SightingRow(BaseModel):
    scan_id: int
    scan_uid: str
    ip: str
    seen_at: float


class FindingRow(FindingPublic):
    device_ip: str
    device_vendor: str | None
    device_model: str | None
    site: str


class DeviceDetail(BaseModel):
    device: DeviceRow
    identity_keys: list[str]
    services: list[dict[str, Any]]
    radios: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    notes: list[str]
    findings: list[FindingRow]
    sightings: list[SightingRow]


def device_detail(session: Session, device_id: int, sightings: int = 100) -> DeviceDetail | None:
    row = session.exec(
        select(Device, Site.name)
        .join(Site, col(Site.id) == Device.site_id)
        .where(Device.id == device_id)
    ).first()
    if row is None:
        return None
    dev, site_name = row
    latest = (
        session.exec(
            select(DeviceSighting.snapshot)
            .where(DeviceSighting.device_id == device_id)
            .order_by(col(DeviceSighting.seen_at).desc())
            .limit(1)
        ).first()
        or {}
    )
    keys = session.exec(
        select(DeviceIdentity.key)
        .where(DeviceIdentity.device_id == device_id)
        .order_by(DeviceIdentity.key)
    ).all()
    hist = session.exec(
        select(DeviceSighting.scan_id, Scan.scan_uid, DeviceSighting.ip, DeviceSighting.seen_at)
        .join(Scan, col(Scan.id) == DeviceSighting.scan_id)
        .where(DeviceSighting.device_id == device_id)
        .order_by(col(DeviceSighting.seen_at).desc())
        .limit(sightings)
    ).all()
    findings = list_findings(session, device_id=device_id, status="all", per_page=500).items
    open_n = [f for f in findings if f.effective_status == "open"]
    return DeviceDetail(
        device=DeviceRow.model_validate(
            {
                **dev.model_dump(),
                "site": site_name,
                "open_findings": len(open_n),
                "max_severity_rank": max((f.severity_rank for f in open_n), default=None),
            }
        ),
        identity_keys=list(keys),
        services=list(latest.get("services") or []),
        radios=list(latest.get("radios") or []),
        evidence=list(latest.get("evidence") or []),
        notes=list(latest.get("notes") or []),
        findings=findings,
        sightings=[SightingRow(scan_id=a, scan_uid=b, ip=c, seen_at=d) for a, b, c, d in hist],
    )


# --- findings --------------------------------------------------------------------------


def list_findings(
    session: Session,
    *,
    severity: str | None = None,
    rule: str | None = None,
    status: str = "open",
    site: str | None = None,
    device_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[FindingRow]:
    """Return one page of findings, most severe first, with the device they are on."""
    eff = effective_status().label("effective_status")
    conds: list[Any] = []
    if severity:
        conds.append(Finding.severity == severity.lower())
    if rule:
        conds.append(Finding.rule == rule)
    if status and status != "all":
        conds.append(effective_status() == status)
    if site:
        conds.append(Site.name == site)
    if device_id is not None:
        conds.append(Finding.device_id == device_id)
    # With no site or device to start from, make the database walk ix_finding_rank_seen
    # in page order and stop after one page: "+ 0" keeps it from driving the join from
    # the device side (a classic SQLite planner hint, harmless on PostgreSQL).
    fk: Any = (
        col(Finding.device_id) + 0 if site is None and device_id is None else Finding.device_id
    )
    base = (
        select(Finding, eff, Device, Site.name)
        .join(Device, col(Device.id) == fk)
        .join(Site, col(Site.id) == Device.site_id)
        .where(*conds)
    )
    count = (
        select(func.count()).select_from(Finding).join(Device, col(Device.id) == Finding.device_id)
    )
    if site:
        count = count.join(Site, col(Site.id) == Device.site_id)
    total = session.exec(count.where(*conds)).one()
    rows = session.exec(
        base.order_by(
            col(Finding.severity_rank).desc(), col(Finding.last_seen).desc(), col(Finding.id)
        )
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    items = [
        FindingRow.model_validate(
            {
                **f.model_dump(),
                "effective_status": e,
                "device_ip": d.ip,
                "device_vendor": d.vendor,
                "device_model": d.model,
                "site": s,
            }
        )
        for f, e, d, s in rows
    ]
    return _page(items, total, page, per_page)


def finding_rules(session: Session) -> list[str]:
    return list(session.exec(select(Finding.rule).distinct().order_by(Finding.rule)).all())


# --- scans -----------------------------------------------------------------------------


def list_scans(
    session: Session, *, site: str | None = None, page: int = 1, per_page: int = 50
) -> Page[ScanRow]:
    conds = [Site.name == site] if site else []
    total = session.exec(
        select(func.count())
        .select_from(Scan)
        .join(Site, col(Site.id) == Scan.site_id)
        .where(*conds)
    ).one()
    rows = session.exec(
        select(Scan, Site.name, Probe.name)
        .join(Site, col(Site.id) == Scan.site_id)
        .join(Probe, col(Probe.id) == Scan.probe_id)
        .where(*conds)
        .order_by(col(Scan.started).desc(), col(Scan.id).desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    items = [
        ScanRow.model_validate({**s.model_dump(), "site": sn, "probe": pn}) for s, sn, pn in rows
    ]
    return _page(items, total, page, per_page)


def get_scan(session: Session, scan_id: int) -> ScanRow | None:
    row = session.exec(
        select(Scan, Site.name, Probe.name)
        .join(Site, col(Site.id) == Scan.site_id)
        .join(Probe, col(Probe.id) == Scan.probe_id)
        .where(Scan.id == scan_id)
    ).first()
    if row is None:
        return None
    s, sn, pn = row
    return ScanRow.model_validate({**s.model_dump(), "site": sn, "probe": pn})


class ScanDevice(BaseModel):
    device_id: int
    ip: str
    vendor: str | None
    oem: str | None
    model: str | None
    device_type: str
    findings: int


class ScanDetail(BaseModel):
    scan: ScanRow
    devices: Page[ScanDevice]


def scan_detail(
    session: Session, scan_id: int, page: int = 1, per_page: int = 50
) -> ScanDetail | None:
    scan = get_scan(session, scan_id)
    if scan is None:
        return None
    total = session.exec(
        select(func.count()).select_from(DeviceSighting).where(DeviceSighting.scan_id == scan_id)
    ).one()
    rows = session.exec(
        select(DeviceSighting.device_id, DeviceSighting.ip, DeviceSighting.snapshot)
        .where(DeviceSighting.scan_id == scan_id)
        .order_by(col(DeviceSighting.id))
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    items = [
        ScanDevice(
            device_id=d,
            ip=ip,
            vendor=snap.get("vendor"),
            oem=snap.get("oem"),
            model=snap.get("model"),
            device_type=snap.get("device_type") or "unknown",
            findings=len(snap.get("findings") or []),
        )
        for d, ip, snap in rows
    ]
    return ScanDetail(scan=scan, devices=_page(items, total, page, per_page))
