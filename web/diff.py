"""What changed between two scans: new, gone and changed devices and findings.

Built from the per-scan device snapshots, so it answers "what did scan B see that scan
A did not" exactly, even after later scans have moved the devices' current state on.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, select

from web.models import DeviceSighting
from web.queries import ScanRow, get_scan

COMPARED_FIELDS = ("ip", "mac", "vendor", "oem", "model", "firmware", "serial", "device_type")


class DiffDevice(BaseModel):
    device_id: int
    ip: str
    vendor: str | None
    model: str | None


class DeviceChange(DiffDevice):
    changes: dict[str, list[Any]]  # field -> [in a, in b]


class DiffFinding(BaseModel):
    device_id: int
    ip: str
    rule: str
    severity: str
    title: str


class FindingChange(DiffFinding):
    severity_before: str


class ScanDiff(BaseModel):
    a: ScanRow
    b: ScanRow
    new_devices: list[DiffDevice]
    gone_devices: list[DiffDevice]
    changed_devices: list[DeviceChange]
    new_findings: list[DiffFinding]
    gone_findings: list[DiffFinding]
    changed_findings: list[FindingChange]


def _snapshots(session: Session, scan_id: int) -> dict[int, dict[str, Any]]:
    rows = session.exec(
        select(DeviceSighting.device_id, DeviceSighting.snapshot).where(
            DeviceSighting.scan_id == scan_id
        )
    ).all()
    return {d: dict(s) for d, s in rows}


def _ports(snap: dict[str, Any]) -> list[str]:
    return sorted(f"{s.get('port')}/{s.get('proto')}" for s in snap.get("services") or [])


def _radios(snap: dict[str, Any]) -> list[str]:
    return sorted(f"{r.get('kind')}:{r.get('mac') or '-'}" for r in snap.get("radios") or [])


def _findings(dev_id: int, snap: dict[str, Any]) -> dict[tuple[int, str, str], DiffFinding]:
    return {
        (dev_id, f["rule"], f["title"]): DiffFinding(
            device_id=dev_id,
            ip=snap.get("ip", ""),
            rule=f["rule"],
            severity=f["severity"],
            title=f["title"],
        )
        for f in snap.get("findings") or []
    }


def _dev(dev_id: int, snap: dict[str, Any]) -> DiffDevice:
    return DiffDevice(
        device_id=dev_id, ip=snap.get("ip", ""), vendor=snap.get("vendor"), model=snap.get("model")
    )


def scan_diff(session: Session, a_id: int, b_id: int) -> ScanDiff | None:
    """Return the difference from scan ``a_id`` to scan ``b_id``, or None if one is missing."""
    a, b = get_scan(session, a_id), get_scan(session, b_id)
    if a is None or b is None:
        return None
    sa, sb = _snapshots(session, a_id), _snapshots(session, b_id)
    changed: list[DeviceChange] = []
    for dev_id in sorted(sa.keys() & sb.keys()):
        old, new = sa[dev_id], sb[dev_id]
        changes = {f: [old.get(f), new.get(f)] for f in COMPARED_FIELDS if old.get(f) != new.get(f)}
        for name, fn in (("services", _ports), ("radios", _radios)):
            if fn(old) != fn(new):
                changes[name] = [fn(old), fn(new)]
        if changes:
            changed.append(DeviceChange(**_dev(dev_id, new).model_dump(), changes=changes))
    fa: dict[tuple[int, str, str], DiffFinding] = {}
    fb: dict[tuple[int, str, str], DiffFinding] = {}
    for dev_id, snap in sa.items():
        fa.update(_findings(dev_id, snap))
    for dev_id, snap in sb.items():
        fb.update(_findings(dev_id, snap))
    return ScanDiff(
        a=a,
        b=b,
        new_devices=[_dev(d, sb[d]) for d in sorted(sb.keys() - sa.keys())],
        gone_devices=[_dev(d, sa[d]) for d in sorted(sa.keys() - sb.keys())],
        changed_devices=changed,
        new_findings=[fb[k] for k in sorted(fb.keys() - fa.keys())],
        gone_findings=[fa[k] for k in sorted(fa.keys() - fb.keys())],
        changed_findings=[
            FindingChange(**fb[k].model_dump(), severity_before=fa[k].severity)
            for k in sorted(fa.keys() & fb.keys())
            if fa[k].severity != fb[k].severity
        ],
    )
