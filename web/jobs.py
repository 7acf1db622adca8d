"""Schedules (per site, cron-like) and the jobs probes pull from them (docs/api.md)."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, or_, select

from auditor.errors import ConfigError
from web import cron
from web.crud import audit
from web.models import Job, Probe, Scan, Schedule, ScheduleCreate, SchedulePublic, Site

MAX_TARGETS = 256


class JobOut(BaseModel):
    id: int
    kind: str = "scan"
    schedule_id: int
    targets: list[str]
    options: dict[str, Any]
    due: float


class JobsOut(BaseModel):
    jobs: list[JobOut]


class JobDone(BaseModel):
    scan_id: int | None = None
    error: str | None = None


class JobResult(BaseModel):
    id: int
    status: str
    scan_id: int | None
    finished_at: float | None


class ScheduleRow(SchedulePublic):
    site: str


def _clean_targets(targets: list[str]) -> list[str]:
    out = [t.strip() for t in targets if t.strip()]
    if not out:
        raise ConfigError("a schedule needs at least one target (camaudit never picks its own)")
    if len(out) > MAX_TARGETS or any(len(t) > 200 for t in out):
        raise ConfigError(f"at most {MAX_TARGETS} targets of 200 characters each")
    return out


def create_schedule(
    session: Session, data: ScheduleCreate, actor: str, now: float | None = None
) -> Schedule:
    """Validate the spec and targets and store the schedule; raise ConfigError."""
    spec = cron.parse(data.spec)
    if session.get(Site, data.site_id) is None:
        raise ConfigError(f"no site with id {data.site_id}")
    t = time.time() if now is None else now
    sched = Schedule(
        name=data.name.strip(),
        spec=spec.text,
        targets=_clean_targets(data.targets),
        options=dict(data.options),
        enabled=data.enabled,
        site_id=data.site_id,
        created_at=t,
        next_due=spec.next_after(t),
    )
    session.add(sched)
    audit(session, actor, "schedule.create", f"schedule:{sched.name}", site_id=data.site_id,
          spec=sched.spec, targets=sched.targets)  # fmt: skip
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ConfigError(f"schedule {sched.name!r} already exists at this site") from exc
    session.refresh(sched)
    return sched


def delete_schedule(session: Session, schedule: Schedule, actor: str) -> None:
    """Delete a schedule and its jobs (done ones too: the scans they made stay)."""
    session.exec(delete(Job).where(col(Job.schedule_id) == schedule.id))
    session.delete(schedule)
    audit(session, actor, "schedule.delete", f"schedule:{schedule.name}")
    session.commit()


def list_schedules(session: Session) -> list[ScheduleRow]:
    rows = session.exec(
        select(Schedule, Site.name)
        .join(Site, col(Site.id) == Schedule.site_id)
        .order_by(Site.name, Schedule.name)
    ).all()
    return [ScheduleRow.model_validate({**s.model_dump(), "site": n}) for s, n in rows]


def next_jobs(session: Session, probe: Probe, now: float | None = None) -> JobsOut:
    """Turn the site's due schedules into jobs and return this probe's pending ones.

    Missed fire times are coalesced into one job. A pending job belongs to the probe
    that first received it and is returned again until reported done.
    """
    t = time.time() if now is None else now
    due = session.exec(
        select(Schedule).where(
            Schedule.site_id == probe.site_id, col(Schedule.enabled), Schedule.next_due <= t
        )
    ).all()
    for sched in due:
        session.add(Job(schedule_id=sched.id, site_id=sched.site_id, due=sched.next_due))  # type: ignore[arg-type]
        sched.next_due = cron.parse(sched.spec).next_after(t)
        session.add(sched)
    rows = session.exec(
        select(Job, Schedule)
        .join(Schedule, col(Schedule.id) == Job.schedule_id)
        .where(
            Job.site_id == probe.site_id,
            Job.status == "pending",
            or_(col(Job.probe_id).is_(None), Job.probe_id == probe.id),
        )
        .order_by(col(Job.due), col(Job.id))
    ).all()
    out: list[JobOut] = []
    for job, _sched in rows:
        if job.probe_id is None:
            job.probe_id, job.claimed_at = probe.id, t
            session.add(job)
    session.flush()
    for job, sched in rows:
        assert job.id is not None
        out.append(
            JobOut(
                id=job.id,
                schedule_id=sched.id or 0,
                targets=list(sched.targets),
                options=dict(sched.options),
                due=job.due,
            )
        )
    session.commit()
    return JobsOut(jobs=out)


class JobError(Exception):
    """A job report the server refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def finish_job(session: Session, probe: Probe, job_id: int, body: JobDone) -> JobResult:
    """Record that ``probe`` finished job ``job_id``; raise JobError (404/409/422)."""
    job = session.get(Job, job_id)
    if job is None or job.probe_id != probe.id:
        raise JobError(404, f"no job {job_id} for probe {probe.name!r}")
    if job.status != "pending":
        raise JobError(409, f"job {job_id} was already reported {job.status}")
    if body.scan_id is not None:
        scan = session.get(Scan, body.scan_id)
        if scan is None or scan.probe_id != probe.id:
            raise JobError(422, f"scan {body.scan_id} was not sent by probe {probe.name!r}")
    job.status = "done" if body.scan_id is not None else "failed"
    job.scan_id, job.finished_at = body.scan_id, time.time()
    job.error = (body.error or "")[:2000] or None
    session.add(job)
    audit(session, f"probe:{probe.name}", f"job.{job.status}", f"job:{job_id}",
          scan_id=body.scan_id)  # fmt: skip
    session.commit()
    return JobResult(id=job_id, status=job.status, scan_id=job.scan_id, finished_at=job.finished_at)
