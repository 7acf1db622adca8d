"""Re-run classification and rules on stored observations (``camaudit db reclassify``).

After a fingerprint or rule update, the devices and findings of stored scans are
recomputed without rescanning: ``auditor.classify.classify`` + ``auditor.rules.evaluate``
over the scan's :class:`~web.models.Observation` rows. Findings a device no longer has
are closed (status ``resolved``), new ones are opened, and each scan's change is written
to the audit log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from auditor.classify import classify
from auditor.errors import ConfigError, StorageError
from auditor.model import Observation as CoreObservation
from auditor.rules import evaluate
from web.crud import audit
from web.ingest import CURRENT_FIELDS, finding_content, finding_key
from web.models import Device, DeviceSighting, Finding, Observation, Scan
from web.schemas import DeviceIn

log = logging.getLogger(__name__)


@dataclass
class ReclassifyResult:
    scan_id: int
    devices: int = 0  # devices re-classified and matched to stored ones
    devices_changed: int = 0  # identity fields that changed (vendor, oem, model, ...)
    unmatched: list[str] = field(default_factory=list)  # IPs with no stored device
    findings_new: int = 0
    findings_closed: int = 0
    findings_kept: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "unmatched"} | {
            "unmatched": len(self.unmatched)
        }


def scans_to_reclassify(session: Session) -> list[int]:
    """The scans that hold some device's current state (its latest sighting), oldest first."""
    rows = session.exec(
        select(Device.last_scan_id).where(col(Device.last_scan_id).is_not(None)).distinct()
    ).all()
    return sorted(r for r in rows if r is not None)


def reclassify_scan(session: Session, scan_id: int, actor: str = "cli") -> ReclassifyResult:
    """Recompute scan ``scan_id`` from its observations and store the changes.

    Raises ConfigError when the scan does not exist or kept no observations, and
    StorageError when the database refuses (nothing is then kept).
    """
    scan = session.get(Scan, scan_id)
    if scan is None:
        raise ConfigError(f"no scan {scan_id}")
    rows = session.exec(select(Observation).where(Observation.scan_id == scan_id)).all()
    if not rows:
        raise ConfigError(f"scan {scan_id} kept no observations; nothing to re-classify")
    observations = [CoreObservation.from_dict(o.to_scan_dict()) for o in rows]
    devices = classify(observations)
    evaluate(devices)
    sightings = {
        s.ip: s
        for s in session.exec(select(DeviceSighting).where(DeviceSighting.scan_id == scan_id))
    }
    result = ReclassifyResult(scan_id=scan_id)
    try:
        for core in devices:
            sighting = sightings.get(core.ip)
            if sighting is None:
                result.unmatched.append(core.ip)
                continue
            result.devices += 1
            new = DeviceIn.model_validate(core.to_dict())
            old = sighting.snapshot or {}
            if any(old.get(f) != getattr(new, f) for f in (*CURRENT_FIELDS, "device_type")):
                result.devices_changed += 1
            sighting.snapshot = new.model_dump(mode="json")
            session.add(sighting)
            dev = session.get(Device, sighting.device_id)
            if dev is not None and dev.last_scan_id == scan_id:
                _update_current(session, dev, new, scan_id, result)
        audit(session, actor, "reclassify", f"scan:{scan_id}", **result.as_dict())
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        raise StorageError(f"cannot store the re-classified scan {scan_id}: {exc}") from exc
    log.info("reclassified scan %d: %s", scan_id, result.as_dict())
    return result


def _update_current(
    session: Session, dev: Device, new: DeviceIn, scan_id: int, result: ReclassifyResult
) -> None:
    """Refresh the device's current fields and open/close its findings."""
    for name in CURRENT_FIELDS:
        setattr(dev, name, getattr(new, name))
    dev.device_type = new.device_type
    session.add(dev)
    stored = {
        (f.rule, f.key): f for f in session.exec(select(Finding).where(Finding.device_id == dev.id))
    }
    wanted = {(f.rule, finding_key(f.rule, f.title)): f for f in new.findings}
    for (rule, key), f in wanted.items():
        content = finding_content(f)
        row = stored.get((rule, key))
        if row is None:
            assert dev.id is not None
            session.add(Finding(device_id=dev.id, rule=rule, key=key, first_seen=dev.last_seen,
                                last_seen=dev.last_seen, first_scan_id=scan_id,
                                last_scan_id=scan_id, **content))  # fmt: skip
            result.findings_new += 1
            continue
        for attr, value in content.items():
            setattr(row, attr, value)
        row.last_seen, row.last_scan_id = max(row.last_seen, dev.last_seen), scan_id
        if row.status == "resolved":
            row.status = "open"
            result.findings_new += 1
        else:
            result.findings_kept += 1
        session.add(row)
    for k, row in stored.items():
        # Only findings that are current (seen in the device's latest sighting) close here;
        # older ones already read as resolved.
        if k not in wanted and row.status != "resolved" and row.last_seen >= dev.last_seen:
            row.status = "resolved"
            session.add(row)
            result.findings_closed += 1
