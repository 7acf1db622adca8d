"""The audit report (HTML, PDF) and exports (CSV, scan JSON); any signed-in user."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from web import reports
from web.crud import audit
from web.deps import CurrentUser, SessionDep, current_user

log = logging.getLogger(__name__)
router = APIRouter(dependencies=[Depends(current_user)], tags=["reports"])
SiteQ = Annotated[str | None, Query(max_length=100)]
# The report is a standalone document with its own inline CSS and no script at all.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


def _stamp() -> str:
    return time.strftime("%Y%m%d-%H%M", time.gmtime())


def _html(
    request: Request, session: SessionDep, site: str | None,
    max_rows: int = reports.REPORT_MAX_ROWS,
) -> str:  # fmt: skip
    data = reports.report_data(session, site, max_rows)
    return reports.render_report(request.app.state.templates, data)


@router.get("/reports/audit.html", response_class=Response)
def report_html(
    request: Request, session: SessionDep, user: CurrentUser, site: SiteQ = None,
    download: bool = False,
) -> Response:  # fmt: skip
    """The audit report as one self-contained HTML file (summary, charts, inventory,
    findings with evidence); ``download=1`` saves it as a file."""
    html = _html(request, session, site)
    audit(session, f"user:{user.username}", "report.html", f"site:{site or '*'}")
    session.commit()
    headers = {"Content-Security-Policy": REPORT_CSP}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="camaudit-audit-{_stamp()}.html"'
    return Response(html, media_type="text/html; charset=utf-8", headers=headers)


@router.get("/reports/audit.pdf", response_class=Response)
async def report_pdf(
    request: Request, session: SessionDep, user: CurrentUser, site: SiteQ = None
) -> Response:
    """The same audit report as PDF (WeasyPrint)."""
    html = await run_in_threadpool(_html, request, session, site, reports.PDF_MAX_ROWS)
    t0 = time.perf_counter()
    pdf = await run_in_threadpool(reports.render_pdf, html)
    log.info("audit PDF: %d bytes in %.2f s", len(pdf), time.perf_counter() - t0)
    audit(session, f"user:{user.username}", "report.pdf", f"site:{site or '*'}")
    session.commit()
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="camaudit-audit-{_stamp()}.pdf"'},
    )


def _csv(
    request: Request, name: str, rows: Callable[[Session, str | None], Iterator[str]],
    site: str | None,
) -> StreamingResponse:  # fmt: skip
    def chunks() -> Iterator[str]:
        # Its own session: the streamed body outlives the request's dependencies.
        with Session(request.app.state.engine) as session:
            yield from rows(session, site)

    return StreamingResponse(
        chunks(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="camaudit-{name}-{_stamp()}.csv"'},
    )


@router.get("/exports/devices.csv", response_class=StreamingResponse)
def devices_csv(request: Request, site: SiteQ = None) -> StreamingResponse:
    """Every device (all pages) as CSV."""
    return _csv(request, "devices", reports.devices_csv, site)


@router.get("/exports/findings.csv", response_class=StreamingResponse)
def findings_csv(request: Request, site: SiteQ = None) -> StreamingResponse:
    """Every finding with its effective status and evidence as CSV."""
    return _csv(request, "findings", reports.findings_csv, site)


@router.get("/exports/scan/{scan_id}.json")
def scan_json(session: SessionDep, scan_id: int) -> JSONResponse:
    """One scan in the ``camaudit scan --json`` shape (devices, observations)."""
    data = reports.scan_export(session, scan_id)
    if data is None:
        raise HTTPException(status_code=404, detail=f"no scan {scan_id}")
    return JSONResponse(
        data,
        headers={"Content-Disposition": f'attachment; filename="camaudit-scan-{scan_id}.json"'},
    )
