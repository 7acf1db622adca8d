"""Store one scan: idempotent, in one transaction, with batched inserts.

Devices keep their identity across scans through :class:`~web.models.DeviceIdentity`
keys (MAC, OEM serial, ONVIF endpoint UUID; the IP only when nothing else is known), so
a camera that DHCP moved is updated, not duplicated.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import insert, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, col, select

from auditor.errors import StorageError
from auditor.model import Device as CoreDevice
from web.models import (
    SEVERITY_RANK,
    AuditLog,
    Device,
    DeviceIdentity,
    DeviceSighting,
    Finding,
    Observation,
    Probe,
    Scan,
)
from web.schemas import DeviceIn, FindingIn, IngestOut, ScanIn

CHUNK = 500  # bound IN (...) lists well below SQLite's variable limit
T = TypeVar("T")

# Fields a newer scan overwrites on the stored device when it reports a value.
CURRENT_FIELDS = (
    "mac", "vendor", "oem", "model", "firmware", "serial", "hardware_id",
    "endpoint_uuid", "hostname", "confidence",
)  # fmt: skip


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def identity_keys(dev: DeviceIn) -> list[str]:
    """Return the device's identity keys in priority order (``auditor.model`` decides)."""
    core = CoreDevice(
        ip=dev.ip, mac=dev.mac, serial=dev.serial, oem=dev.oem, endpoint_uuid=dev.endpoint_uuid
    )
    return core.identity_keys or [f"ip:{dev.ip}"]


def finding_content(f: FindingIn) -> dict[str, Any]:
    """The stored columns of a finding that a later scan may change (ingest, reclassify)."""
    return {
        "severity": f.severity,
        "severity_rank": SEVERITY_RANK[f.severity],
        "title": f.title,
        "evidence": [e.model_dump(mode="json") for e in f.evidence],
        "rationale": f.rationale,
        "remediation": f.remediation,
    }


def finding_key(rule: str, title: str) -> str:
    return hashlib.sha256(f"{rule}\0{title}".encode()).hexdigest()[:32]


@dataclass
class _Group:
    """One physical device in this scan (duplicates within a scan are folded together)."""

    dev: DeviceIn
    keys: list[str]
    findings: dict[tuple[str, str], FindingIn] = field(default_factory=dict)
    device_id: int | None = None
    is_new: bool = False


def _group_devices(devices: Iterable[DeviceIn]) -> list[_Group]:
    groups: list[_Group] = []
    by_key: dict[str, _Group] = {}
    for dev in devices:
        keys = identity_keys(dev)
        group = next((by_key[k] for k in keys if k in by_key), None)
        if group is None:
            group = _Group(dev=dev, keys=list(keys))
            groups.append(group)
        else:
            group.keys.extend(k for k in keys if k not in group.keys)
        for k in keys:
            by_key.setdefault(k, group)
        for f in dev.findings:
            group.findings[(f.rule, finding_key(f.rule, f.title))] = f
    return groups


def ingest_scan(session: Session, probe: Probe, payload: ScanIn) -> IngestOut:
    """Store ``payload`` for ``probe`` and return what was written.

    Re-sending a scan id the probe already sent returns the stored scan with
    ``created=False`` and writes nothing. Everything is one transaction: on any error
    nothing is kept and :class:`StorageError` is raised.
    """
    existing = _existing(session, probe, payload.scan.id)
    if existing is not None:
        return existing
    try:
        out = _write(session, probe, payload)
        session.commit()
        return out
    except IntegrityError as exc:
        session.rollback()
        # Two deliveries of the same scan raced; the other one won.
        existing = _existing(session, probe, payload.scan.id)
        if existing is not None:
            return existing
        raise StorageError(f"scan {payload.scan.id!r} conflicts with stored data: {exc}") from exc
    except SQLAlchemyError as exc:
        session.rollback()
        raise StorageError(f"cannot store scan {payload.scan.id!r}: {exc}") from exc


def _existing(session: Session, probe: Probe, scan_uid: str) -> IngestOut | None:
    scan = session.exec(
        select(Scan).where(Scan.probe_id == probe.id, Scan.scan_uid == scan_uid)
    ).first()
    if scan is None or scan.id is None:
        return None
    return IngestOut(
        scan_id=scan.id,
        scan_uid=scan.scan_uid,
        created=False,
        devices=scan.device_count,
        devices_new=0,
        findings=scan.finding_count,
        findings_new=0,
        observations=scan.observation_count,
    )


def _write(session: Session, probe: Probe, payload: ScanIn) -> IngestOut:
    meta = payload.scan
    site_id = probe.site_id
    seen_at = meta.finished or meta.started
    scan = Scan(
        scan_uid=meta.id,
        started=meta.started,
        finished=meta.finished,
        targets=list(meta.targets),
        stats=dict(meta.stats),
        camaudit_version=meta.camaudit_version,
        site_id=site_id,
        probe_id=probe.id,  # type: ignore[arg-type]  # a stored probe has an id
        observation_count=len(payload.observations),
    )
    session.add(scan)
    session.flush()
    assert scan.id is not None
    scan_id = scan.id

    groups = _group_devices(payload.devices)
    devices_new = _match_and_store_devices(session, site_id, scan_id, seen_at, groups)

    sightings = [
        {
            "device_id": g.device_id,
            "scan_id": scan_id,
            "ip": g.dev.ip,
            "seen_at": seen_at,
            "snapshot": g.dev.model_dump(mode="json"),
        }
        for g in groups
    ]
    for batch in chunks(sightings):
        session.exec(insert(DeviceSighting), params=batch)

    findings_total, findings_new = _store_findings(session, scan_id, seen_at, groups)

    obs_rows = [{"scan_id": scan_id, **o.model_dump(mode="json")} for o in payload.observations]
    for batch in chunks(obs_rows, 1000):
        session.exec(insert(Observation), params=batch)

    scan.device_count = len(groups)
    scan.finding_count = findings_total
    probe.last_seen_at = max(probe.last_seen_at or 0.0, seen_at)
    session.add(probe)
    session.add(
        AuditLog(
            actor=f"probe:{probe.name}",
            action="ingest",
            target=f"scan:{scan_id}",
            detail={"scan_uid": meta.id, "devices": len(groups), "new_devices": devices_new},
        )
    )
    session.flush()
    return IngestOut(
        scan_id=scan_id,
        scan_uid=meta.id,
        created=True,
        devices=len(groups),
        devices_new=devices_new,
        findings=findings_total,
        findings_new=findings_new,
        observations=len(payload.observations),
    )


def _match_and_store_devices(
    session: Session, site_id: int, scan_id: int, seen_at: float, groups: list[_Group]
) -> int:
    all_keys = sorted({k for g in groups for k in g.keys})
    owner: dict[str, int] = {}
    for batch in chunks(all_keys):
        rows = session.exec(
            select(DeviceIdentity.key, DeviceIdentity.device_id).where(
                DeviceIdentity.site_id == site_id, col(DeviceIdentity.key).in_(batch)
            )
        ).all()
        owner.update({k: d for k, d in rows})

    claimed: set[int] = set()
    for g in groups:
        for k in g.keys:  # priority order: mac, serial, uuid (ip only when alone)
            dev_id = owner.get(k)
            if dev_id is not None and dev_id not in claimed:
                g.device_id = dev_id
                claimed.add(dev_id)
                break

    # Existing devices: refresh current fields unless this scan is older than what we have.
    known = {}
    ids = sorted(claimed)
    for id_batch in chunks(ids):
        for dev_id, first, last in session.exec(
            select(Device.id, Device.first_seen, Device.last_seen).where(
                col(Device.id).in_(id_batch)
            )
        ).all():
            known[dev_id] = (first, last)
    updates: list[dict[str, Any]] = []
    for g in groups:
        if g.device_id is None:
            continue
        first, last = known[g.device_id]
        row: dict[str, Any] = {"id": g.device_id}
        if seen_at >= last:
            row.update(ip=g.dev.ip, device_type=g.dev.device_type)
            row.update(last_seen=seen_at, last_scan_id=scan_id)
            row.update({f: getattr(g.dev, f) for f in CURRENT_FIELDS if getattr(g.dev, f)})
        if seen_at < first:
            row["first_seen"] = seen_at
        if len(row) > 1:
            updates.append(row)
    if updates:
        session.exec(update(Device), params=updates)

    new_groups = [g for g in groups if g.device_id is None]
    new_rows = [
        {
            "site_id": site_id,
            "ip": g.dev.ip,
            "device_type": g.dev.device_type,
            "first_seen": seen_at,
            "last_seen": seen_at,
            "last_scan_id": scan_id,
            **{f: getattr(g.dev, f) for f in CURRENT_FIELDS},
        }
        for g in new_groups
    ]
    for grp_batch, row_batch in zip(chunks(new_groups), chunks(new_rows), strict=True):
        stmt = insert(Device).returning(col(Device.id), sort_by_parameter_order=True)
        new_ids = session.exec(stmt, params=row_batch).scalars().all()
        for g, dev_id in zip(grp_batch, new_ids, strict=True):
            g.device_id = dev_id
            g.is_new = True

    identity_rows = []
    for g in groups:
        for k in g.keys:
            if k not in owner:
                owner[k] = g.device_id  # type: ignore[assignment]  # set just above
                identity_rows.append({"site_id": site_id, "key": k, "device_id": g.device_id})
    for key_rows in chunks(identity_rows):
        session.exec(insert(DeviceIdentity), params=key_rows)
    return len(new_groups)


def _store_findings(
    session: Session, scan_id: int, seen_at: float, groups: list[_Group]
) -> tuple[int, int]:
    existing: dict[tuple[int, str, str], tuple[int, float, float, str]] = {}
    old_ids = [g.device_id for g in groups if g.device_id is not None and not g.is_new]
    t = Finding.__table__.c  # type: ignore[attr-defined]  # plain columns: no ORM objects
    for id_batch in chunks(old_ids):
        rows = (
            session.connection()
            .execute(
                sa_select(
                    t.id, t.device_id, t.rule, t.key, t.first_seen, t.last_seen, t.status
                ).where(t.device_id.in_(id_batch))
            )
            .all()
        )
        for fid, dev_id, rule, key, first, last, status in rows:
            existing[(dev_id, rule, key)] = (fid, first, last, status)

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    total = 0
    for g in groups:
        assert g.device_id is not None
        for (rule, key), f in g.findings.items():
            total += 1
            content = finding_content(f)
            hit = existing.get((g.device_id, rule, key))
            if hit is None:
                inserts.append(
                    {
                        "device_id": g.device_id,
                        "rule": rule,
                        "key": key,
                        "first_seen": seen_at,
                        "last_seen": seen_at,
                        "first_scan_id": scan_id,
                        "last_scan_id": scan_id,
                        "status": "open",
                        **content,
                    }
                )
                continue
            fid, first, last, status = hit
            row: dict[str, Any] = {"id": fid}
            if seen_at >= last:
                row.update(content, last_seen=seen_at, last_scan_id=scan_id)
                if status == "resolved":  # closed by a reclassify, seen again: open again
                    row["status"] = "open"
            if seen_at < first:
                row.update(first_seen=seen_at, first_scan_id=scan_id)
            if len(row) > 1:
                updates.append(row)
    for rows_batch in chunks(inserts):
        session.exec(insert(Finding), params=rows_batch)
    if updates:
        session.exec(update(Finding), params=updates)
    return total, len(inserts)
