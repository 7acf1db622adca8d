"""Schedules (admin) and the job API probes pull from (probe token; docs/api.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlmodel import select
from starlette.responses import Response

from auditor.errors import ConfigError
from web import jobs
from web.deps import AdminUser, CsrfChecked, LimitedProbe, SessionDep, require_admin
from web.jobs import JobDone, JobError, JobResult, JobsOut, ScheduleRow
from web.models import Schedule, ScheduleCreate, SchedulePublic, Site
from web.templating import render

admin_router = APIRouter(dependencies=[Depends(require_admin)], tags=["schedules"])
probe_router = APIRouter(tags=["jobs"])


def _page(request: Request, session: SessionDep, user: AdminUser, error: str | None = None,
          status: int = 200) -> Response:  # fmt: skip
    ctx = {
        "schedules": jobs.list_schedules(session),
        "sites": list(session.exec(select(Site).order_by(Site.name))),
        "user": user,
        "error": error,
    }
    return render(request, "schedules.html", ctx, status_code=status)


@admin_router.get("/schedules", include_in_schema=False)
def schedules_page(request: Request, session: SessionDep, user: AdminUser) -> Response:
    return _page(request, session, user)


@admin_router.get("/api/schedules")
def schedules_api(session: SessionDep) -> list[ScheduleRow]:
    """Every schedule with its site and next due time (admin)."""
    return jobs.list_schedules(session)


@admin_router.post("/schedules", include_in_schema=False, dependencies=[CsrfChecked])
def add_schedule_form(
    request: Request, session: SessionDep, user: AdminUser,
    name: Annotated[str, Form(max_length=100)],
    site_id: Annotated[int, Form()],
    spec: Annotated[str, Form(max_length=100)],
    targets: Annotated[str, Form(max_length=20000)],
) -> Response:  # fmt: skip
    try:
        data = ScheduleCreate(
            name=name, site_id=site_id, spec=spec, targets=targets.replace(",", " ").split()
        )
        jobs.create_schedule(session, data, f"user:{user.username}")
    except (ConfigError, ValidationError) as exc:
        return _page(request, session, user, error=str(exc), status=400)
    return RedirectResponse("/schedules", status_code=303)


@admin_router.post("/api/schedules", status_code=201, dependencies=[CsrfChecked])
def add_schedule_api(session: SessionDep, user: AdminUser, body: ScheduleCreate) -> SchedulePublic:
    """Create a schedule: ``spec`` is @hourly/@daily/@weekly/@monthly or 5 cron fields (UTC)."""
    try:
        sched = jobs.create_schedule(session, body, f"user:{user.username}")
    except ConfigError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    return SchedulePublic.model_validate(sched)


def _schedule(session: SessionDep, schedule_id: int) -> Schedule:
    sched = session.get(Schedule, schedule_id)
    if sched is None:
        raise HTTPException(status_code=404, detail=f"no schedule {schedule_id}")
    return sched


@admin_router.post(
    "/schedules/{schedule_id}/delete", include_in_schema=False, dependencies=[CsrfChecked]
)
def delete_schedule_form(session: SessionDep, user: AdminUser, schedule_id: int) -> Response:
    jobs.delete_schedule(session, _schedule(session, schedule_id), f"user:{user.username}")
    return RedirectResponse("/schedules", status_code=303)


@admin_router.delete("/api/schedules/{schedule_id}", status_code=204, dependencies=[CsrfChecked])
def delete_schedule_api(session: SessionDep, user: AdminUser, schedule_id: int) -> Response:
    """Delete a schedule and its jobs (the scans they produced stay)."""
    jobs.delete_schedule(session, _schedule(session, schedule_id), f"user:{user.username}")
    return Response(status_code=204)


@probe_router.get("/api/jobs/next")
def jobs_next(session: SessionDep, probe: LimitedProbe) -> JobsOut:
    """The scans this probe should run now (its site's due schedules); see docs/api.md."""
    return jobs.next_jobs(session, probe)


@probe_router.post("/api/jobs/{job_id}/done")
def job_done(session: SessionDep, probe: LimitedProbe, job_id: int, body: JobDone) -> JobResult:
    """Report a job finished with the ``scan_id`` the ingest answer gave (or an error)."""
    try:
        return jobs.finish_job(session, probe, job_id, body)
    except JobError as exc:
        raise HTTPException(status_code=exc.status, detail=exc.detail) from exc
