"""The audit report (HTML and PDF) and the CSV / JSON exports.

The report is one self-contained HTML document (inline CSS, inline SVG charts, no
script, no external resource), the same bytes whether served, saved or turned into a
PDF by WeasyPrint, so it opens the same way years later as evidence. Every value from a
device is escaped by Jinja's autoescape: banners are hostile input.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from typing import Any

from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from sqlmodel import Session, col, select

from auditor import __version__
from auditor.errors import StorageError
from web import queries
from web.models import DeviceSighting, Observation
from web.queries import DeviceRow, FindingRow, Overview

REPORT_MAX_ROWS = 2000  # beyond this the report points to the CSV exports
PDF_MAX_ROWS = 500  # WeasyPrint lays out ~100 table rows a second on a small box
EXPORT_BATCH = 1000
# A cell starting with one of these is a formula to a spreadsheet: a hostile banner
# must not become one (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ReportData(BaseModel):
    generated_at: float
    version: str
    site: str | None
    overview: Overview
    devices: list[DeviceRow]
    devices_total: int
    findings: list[FindingRow]
    findings_total: int


def report_data(
    session: Session, site: str | None = None, max_rows: int = REPORT_MAX_ROWS
) -> ReportData:
    """Everything the audit report shows: summary, charts' data, inventory, findings.

    At most ``max_rows`` devices (gravest first) and findings; the totals say how many
    there are, and the report points to the CSV exports for the rest.
    """
    devs = queries.list_devices(session, site=site, sort="severity", desc=True, per_page=max_rows)
    # Not resolved: what is open, and what people decided about (acknowledged, accepted).
    total = 0
    rows: list[FindingRow] = []
    for status in ("open", "acknowledged", "accepted"):
        page = queries.list_findings(session, status=status, site=site, per_page=max_rows)
        total += page.total
        rows.extend(page.items)
    rows.sort(key=lambda f: (-f.severity_rank, f.device_ip, f.rule))
    return ReportData(
        generated_at=time.time(),
        version=__version__,
        site=site,
        overview=queries.overview(session),
        devices=devs.items,
        devices_total=devs.total,
        findings=rows[:max_rows],
        findings_total=total,
    )


def render_report(templates: Jinja2Templates, data: ReportData) -> str:
    """Return the audit report as one HTML document."""
    return templates.get_template("audit_report.html").render(r=data)


def _refuse_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    # The report embeds everything; any fetch would be a value from a device trying to
    # reach the network from the server. Refuse them all.
    raise ValueError(f"the PDF renderer does not fetch resources ({url[:80]!r})")


def render_pdf(html: str) -> bytes:
    """Return ``html`` as PDF bytes (WeasyPrint); raise StorageError if it is missing."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: the pango/harfbuzz libraries are missing
        raise StorageError(
            f"PDF reports need WeasyPrint and Debian's libpango-1.0-0 ({exc})"
        ) from exc
    pdf = HTML(string=html, url_fetcher=_refuse_fetch).write_pdf()
    assert pdf is not None  # write_pdf without a target returns the bytes
    return bytes(pdf)


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _csv_rows(header: list[str], rows: Iterator[list[Any]]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
        if buf.tell() > 64 * 1024:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _iso(epoch: float | None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)) if epoch else ""


DEVICE_COLUMNS = [
    "id", "site", "ip", "mac", "vendor", "oem", "model", "firmware", "serial", "hardware_id",
    "device_type", "confidence", "hostname", "endpoint_uuid", "first_seen", "last_seen",
    "open_findings", "max_severity",
]  # fmt: skip


def devices_csv(session: Session, site: str | None = None) -> Iterator[str]:
    """Every device (not one page) as CSV text chunks, in batches of EXPORT_BATCH."""

    def rows() -> Iterator[list[Any]]:
        page = 1
        while True:
            p = queries.list_devices(
                session, site=site, sort="ip", desc=False, page=page, per_page=EXPORT_BATCH
            )
            for d in p.items:
                sev = (
                    queries.SEVERITIES[4 - d.max_severity_rank]
                    if d.max_severity_rank is not None
                    else ""
                )
                yield [d.id, d.site, d.ip, d.mac, d.vendor, d.oem, d.model, d.firmware, d.serial,
                       d.hardware_id, d.device_type, d.confidence, d.hostname, d.endpoint_uuid,
                       _iso(d.first_seen), _iso(d.last_seen), d.open_findings, sev]  # fmt: skip
            if page >= p.pages:
                return
            page += 1

    return _csv_rows(DEVICE_COLUMNS, rows())


FINDING_COLUMNS = [
    "id", "site", "device_id", "device_ip", "vendor", "model", "rule", "severity", "title",
    "status", "first_seen", "last_seen", "acknowledged_by", "justification", "expires_at",
    "evidence", "remediation",
]  # fmt: skip


def _evidence_text(evidence: list[dict[str, Any]]) -> str:
    return " | ".join(
        f"{e.get('source', '')}: {e.get('detail', '')}"
        + (f" = {e['value']}" if e.get("value") else "")
        for e in evidence
    )


def findings_csv(session: Session, site: str | None = None, status: str = "all") -> Iterator[str]:
    """Every finding with its effective status and evidence, as CSV text chunks."""

    def rows() -> Iterator[list[Any]]:
        page = 1
        while True:
            p = queries.list_findings(
                session, site=site, status=status, page=page, per_page=EXPORT_BATCH
            )
            for f in p.items:
                yield [f.id, f.site, f.device_id, f.device_ip, f.device_vendor, f.device_model,
                       f.rule, f.severity, f.title, f.effective_status, _iso(f.first_seen),
                       _iso(f.last_seen), f.acknowledged_by, f.justification,
                       _iso(f.expires_at), _evidence_text(f.evidence), f.remediation]  # fmt: skip
            if page >= p.pages:
                return
            page += 1

    return _csv_rows(FINDING_COLUMNS, rows())


def scan_export(session: Session, scan_id: int) -> dict[str, Any] | None:
    """One stored scan in the ``camaudit scan --json`` shape (None if there is none).

    Devices are the snapshots the probe sent (with findings); observations are the raw
    ones kept for ``reclassify``; ``server`` adds where and when the server stored it.
    """
    scan = queries.get_scan(session, scan_id)
    if scan is None:
        return None
    snaps = session.exec(
        select(DeviceSighting.device_id, DeviceSighting.snapshot)
        .where(DeviceSighting.scan_id == scan_id)
        .order_by(col(DeviceSighting.id))
    ).all()
    obs = session.exec(
        select(Observation).where(Observation.scan_id == scan_id).order_by(col(Observation.id))
    ).all()
    return {
        "scan": {
            "id": scan.scan_uid,
            "targets": scan.targets,
            "started": scan.started,
            "finished": scan.finished,
            "camaudit_version": scan.camaudit_version,
            "stats": scan.stats,
        },
        "devices": [dict(snap) | {"device_id": dev_id} for dev_id, snap in snaps],
        "observations": [o.to_scan_dict() for o in obs],
        "server": {
            "scan_id": scan.id,
            "site": scan.site,
            "probe": scan.probe,
            "received_at": scan.received_at,
            "exported_at": time.time(),
        },
    }
