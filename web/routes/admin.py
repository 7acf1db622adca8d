"""Administration: sites, probes (token shown once), users, audit log. Admin only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError
from sqlmodel import col, select
from starlette.responses import Response

from auditor.errors import ConfigError
from web.crud import create_probe, create_site, revoke_probe
from web.deps import AdminUser, CsrfChecked, SessionDep, require_admin
from web.models import (
    AuditLog,
    Probe,
    ProbeCreate,
    ProbePublic,
    Site,
    SiteCreate,
    SitePublic,
    User,
    UserPublic,
)
from web.templating import render

router = APIRouter(dependencies=[Depends(require_admin)], tags=["admin"])


class AdminState(BaseModel):
    sites: list[SitePublic]
    probes: list[ProbePublic]
    users: list[UserPublic]
    audit: list[AuditLog]


def admin_state(session: SessionDep, audit_limit: int = 100) -> AdminState:
    return AdminState(
        sites=[
            SitePublic.model_validate(s) for s in session.exec(select(Site).order_by(Site.name))
        ],
        probes=[
            ProbePublic.model_validate(p) for p in session.exec(select(Probe).order_by(Probe.name))
        ],
        users=[
            UserPublic.model_validate(u) for u in session.exec(select(User).order_by(User.username))
        ],
        audit=list(
            session.exec(select(AuditLog).order_by(col(AuditLog.id).desc()).limit(audit_limit))
        ),
    )


def _page(request: Request, session: SessionDep, user: AdminUser, **extra: object) -> Response:
    ctx = {"s": admin_state(session), "user": user, "new_token": None, "error": None, **extra}
    return render(request, "admin.html", ctx, status_code=400 if extra.get("error") else 200)


@router.get("/admin", include_in_schema=False)
def admin_page(request: Request, session: SessionDep, user: AdminUser) -> Response:
    return _page(request, session, user)


@router.get("/api/admin")
def admin_api(session: SessionDep) -> AdminState:
    """Sites, probes (never their tokens), users and the latest audit log entries."""
    return admin_state(session)


@router.post("/admin/sites", include_in_schema=False, dependencies=[CsrfChecked])
def add_site_form(
    request: Request,
    session: SessionDep,
    user: AdminUser,
    name: Annotated[str, Form(max_length=100)],
    description: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    try:
        create_site(
            session, SiteCreate(name=name.strip(), description=description), f"user:{user.username}"
        )
    except (ConfigError, ValidationError) as exc:
        return _page(request, session, user, error=str(exc))
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/probes", include_in_schema=False, dependencies=[CsrfChecked])
def add_probe_form(
    request: Request,
    session: SessionDep,
    user: AdminUser,
    name: Annotated[str, Form(max_length=100)],
    site_id: Annotated[int, Form()],
) -> Response:
    try:
        probe, token = create_probe(
            session, ProbeCreate(name=name.strip(), site_id=site_id), f"user:{user.username}"
        )
    except (ConfigError, ValidationError) as exc:
        return _page(request, session, user, error=str(exc))
    # The token is in this one response and nowhere else; tell the browser not to keep it.
    resp = _page(request, session, user, new_token={"probe": probe.name, "token": token})
    resp.headers["Cache-Control"] = "no-store"
    return resp


@router.post("/admin/probes/{probe_id}/revoke", include_in_schema=False, dependencies=[CsrfChecked])
def revoke_probe_form(session: SessionDep, user: AdminUser, probe_id: int) -> Response:
    probe = session.get(Probe, probe_id)
    if probe is None:
        raise HTTPException(status_code=404, detail=f"no probe {probe_id}")
    revoke_probe(session, probe, f"user:{user.username}")
    return RedirectResponse("/admin", status_code=303)
