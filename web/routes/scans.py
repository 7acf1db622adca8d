"""Scans, one scan's devices, and the diff between two scans."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.responses import Response

from web import queries
from web.deps import CurrentUser, SessionDep, current_user
from web.diff import ScanDiff, scan_diff
from web.queries import Page, ScanDetail, ScanRow
from web.templating import render

router = APIRouter(dependencies=[Depends(current_user)], tags=["scans"])

PageNo = Annotated[int, Query(ge=1, le=100_000)]
PerPage = Annotated[int, Query(ge=1, le=500)]
SiteQ = Annotated[str | None, Query(max_length=100)]
ScanRef = Annotated[int, Query(ge=1)]


@router.get("/scans", include_in_schema=False)
def scans_page(
    request: Request, session: SessionDep, user: CurrentUser,
    site: SiteQ = None, page: PageNo = 1, per_page: PerPage = 50,
) -> Response:  # fmt: skip
    p = queries.list_scans(session, site=site, page=page, per_page=per_page)
    return render(request, "scans.html", {"p": p, "site": site, "user": user})


@router.get("/api/scans")
def scans_api(
    session: SessionDep, site: SiteQ = None, page: PageNo = 1, per_page: PerPage = 50
) -> Page[ScanRow]:
    """Scans, newest first."""
    return queries.list_scans(session, site=site, page=page, per_page=per_page)


def _diff(session: SessionDep, a: int, b: int) -> ScanDiff:
    diff = scan_diff(session, a, b)
    if diff is None:
        raise HTTPException(status_code=404, detail=f"scan {a} or {b} does not exist")
    return diff


@router.get("/scans/diff", include_in_schema=False)
def diff_page(
    request: Request, session: SessionDep, user: CurrentUser, a: ScanRef, b: ScanRef
) -> Response:
    return render(request, "diff.html", {"d": _diff(session, a, b), "user": user})


@router.get("/api/scans/diff")
def diff_api(session: SessionDep, a: ScanRef, b: ScanRef) -> ScanDiff:
    """What changed from scan ``a`` to scan ``b``: devices and findings new, gone, changed."""
    return _diff(session, a, b)


def _detail(session: SessionDep, scan_id: int, page: int, per_page: int) -> ScanDetail:
    detail = queries.scan_detail(session, scan_id, page=page, per_page=per_page)
    if detail is None:
        raise HTTPException(status_code=404, detail=f"no scan {scan_id}")
    return detail


@router.get("/scans/{scan_id}", include_in_schema=False)
def scan_page(
    request: Request, session: SessionDep, user: CurrentUser, scan_id: int,
    page: PageNo = 1, per_page: PerPage = 50,
) -> Response:  # fmt: skip
    d = _detail(session, scan_id, page, per_page)
    previous = queries.list_scans(session, site=d.scan.site, page=1, per_page=20).items
    ctx = {"d": d, "others": [s for s in previous if s.id != scan_id], "user": user}
    return render(request, "scan.html", ctx)


@router.get("/api/scans/{scan_id}")
def scan_api(
    session: SessionDep, scan_id: int, page: PageNo = 1, per_page: PerPage = 50
) -> ScanDetail:
    """One scan and the devices it saw (paginated)."""
    return _detail(session, scan_id, page, per_page)
