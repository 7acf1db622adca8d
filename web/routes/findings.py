"""Findings: list, acknowledge, accept a risk (with justification and expiry), reopen."""

from __future__ import annotations

import calendar
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from auditor.errors import StorageError
from web import queries
from web.crud import set_finding_status
from web.deps import AdminUser, CsrfChecked, CurrentUser, SessionDep, current_user
from web.models import Finding, FindingAccept, FindingAcknowledge, FindingPublic
from web.queries import FindingRow, Page
from web.templating import render

router = APIRouter(dependencies=[Depends(current_user)], tags=["findings"])

Severity = Literal["critical", "high", "medium", "low", "info"]
Status = Literal["open", "acknowledged", "accepted", "resolved", "all"]


class FindingFilters:
    def __init__(
        self,
        severity: Severity | None = None,
        rule: Annotated[str | None, Query(max_length=100)] = None,
        status: Status = "open",
        site: Annotated[str | None, Query(max_length=100)] = None,
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
        per_page: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> None:
        self.severity, self.rule, self.status, self.site = severity, rule, status, site
        self.page, self.per_page = page, per_page

    def run(self, session: SessionDep) -> Page[FindingRow]:
        return queries.list_findings(
            session,
            severity=self.severity,
            rule=self.rule,
            status=self.status,
            site=self.site,
            page=self.page,
            per_page=self.per_page,
        )


Filters = Annotated[FindingFilters, Depends()]


@router.get("/findings", include_in_schema=False)
def findings_page(request: Request, session: SessionDep, user: CurrentUser, f: Filters) -> Response:
    ctx = {"p": f.run(session), "f": f, "rules": queries.finding_rules(session), "user": user}
    return render(request, "findings.html", ctx)


@router.get("/api/findings")
def findings_api(session: SessionDep, f: Filters) -> Page[FindingRow]:
    """Findings, most severe first; ``status`` is the effective one (see FindingPublic)."""
    return f.run(session)


def _finding(session: SessionDep, finding_id: int) -> Finding:
    finding = session.get(Finding, finding_id)
    if finding is None:
        raise HTTPException(status_code=404, detail=f"no finding {finding_id}")
    return finding


def _back(request: Request, fallback: str) -> str:
    ref = request.headers.get("referer", "")
    host = request.headers.get("host", "")
    # Return to the list the user came from, never to another site.
    if host and ref.split("/")[2:3] == [host]:
        return ref
    return fallback


def _apply(
    session: SessionDep, finding_id: int, action: str, user: CurrentUser,
    accept: FindingAccept | None = None, note: str = "",
) -> Finding:  # fmt: skip
    try:
        return set_finding_status(
            session, _finding(session, finding_id), action, user, accept, note
        )
    except StorageError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc


def _expiry(date: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(date, "%Y-%m-%d")) + 86399)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail="expiry must be a date YYYY-MM-DD") from exc


# Pages (HTML forms, CSRF in a hidden field)


@router.post(
    "/findings/{finding_id}/acknowledge", include_in_schema=False, dependencies=[CsrfChecked]
)
def acknowledge_form(
    request: Request, session: SessionDep, user: CurrentUser, finding_id: int,
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:  # fmt: skip
    _apply(session, finding_id, "acknowledge", user, note=note)
    return RedirectResponse(_back(request, "/findings"), status_code=303)


@router.post("/findings/{finding_id}/reopen", include_in_schema=False, dependencies=[CsrfChecked])
def reopen_form(
    request: Request, session: SessionDep, user: CurrentUser, finding_id: int
) -> Response:
    _apply(session, finding_id, "reopen", user)
    return RedirectResponse(_back(request, "/findings"), status_code=303)


@router.post("/findings/{finding_id}/accept", include_in_schema=False, dependencies=[CsrfChecked])
def accept_form(
    request: Request, session: SessionDep, user: AdminUser, finding_id: int,
    justification: Annotated[str, Form(min_length=3, max_length=2000)],
    expires: Annotated[str, Form(max_length=10)],
) -> Response:  # fmt: skip
    accept = FindingAccept(justification=justification, expires_at=_expiry(expires))
    _apply(session, finding_id, "accept", user, accept=accept)
    return RedirectResponse(_back(request, "/findings"), status_code=303)


# JSON twins (session cookie + X-CSRF-Token header)


@router.post("/api/findings/{finding_id}/acknowledge", dependencies=[CsrfChecked])
def acknowledge_api(
    session: SessionDep, user: CurrentUser, finding_id: int, body: FindingAcknowledge | None = None
) -> FindingPublic:
    """Acknowledge a finding (auditor or admin)."""
    f = _apply(session, finding_id, "acknowledge", user, note=body.note if body else "")
    return FindingPublic.model_validate(f.model_dump() | {"effective_status": f.status})


@router.post("/api/findings/{finding_id}/reopen", dependencies=[CsrfChecked])
def reopen_api(session: SessionDep, user: CurrentUser, finding_id: int) -> FindingPublic:
    """Reopen an acknowledged or accepted finding (auditor or admin)."""
    f = _apply(session, finding_id, "reopen", user)
    return FindingPublic.model_validate(f.model_dump() | {"effective_status": f.status})


@router.post("/api/findings/{finding_id}/accept", dependencies=[CsrfChecked])
def accept_api(
    session: SessionDep, user: AdminUser, finding_id: int, body: FindingAccept
) -> FindingPublic:
    """Accept the risk until ``expires_at`` with a justification (admin only)."""
    f = _apply(session, finding_id, "accept", user, accept=body)
    return FindingPublic.model_validate(f.model_dump() | {"effective_status": f.status})
