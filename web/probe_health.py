"""Probe health: record what each probe says about itself, and notice when one goes quiet.

Every request a probe makes (job pull, ingest, job done) carries ``X-Camaudit-*`` headers
(version, outbox depth, quarantined files, last error, poll interval; see docs/api.md).
They are validated and kept in one :class:`~web.models.ProbeStatus` row per probe. A
probe not heard from for its threshold (:func:`silent_after`: the server-wide
``Settings.probe_silent_after_s``, or three of its own reported poll intervals when that
is longer) is *silent*: :func:`sweep` opens a
:class:`~web.models.ProbeAlert` and writes ``probe.silent`` to the audit log; the next
contact closes the alert (``probe.contact_resumed``). Sweeps run in the background and
whenever the probes page, the overview or ``/metrics`` is read.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from web.crud import audit
from web.models import Probe, ProbeAlert, ProbeStatus, Site
from web.settings import Settings

log = logging.getLogger(__name__)

H_VERSION = "x-camaudit-probe-version"
H_DEPTH = "x-camaudit-outbox-depth"
H_QUARANTINED = "x-camaudit-quarantined"
H_ERROR = "x-camaudit-last-error"
H_POLL = "x-camaudit-poll-interval"
H_SCHEDULE = "x-camaudit-schedule-period"

_VERSION_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,49}")
_COUNT_RE = re.compile(r"[0-9]{1,9}")  # a billion queued scans is not a real outbox
# Seconds, as a decimal number. Up to a week: a longer poll interval would let a dead
# probe go unnoticed for weeks, so it is refused (logged) and the server-wide one applies.
_SECONDS_RE = re.compile(r"[0-9]{1,7}(?:\.[0-9]{1,3})?")
MAX_PERIOD_S = 7 * 86400.0
# Missed polls before a probe is silent (when that is longer than the server-wide wait).
MISSED_POLLS = 3
MAX_ERROR = 500
RESOLVED_SHOWN = 50

State = Literal["ok", "silent", "never", "revoked"]


@dataclass(frozen=True)
class Health:
    """The health headers of one request, validated; None: absent or invalid."""

    version: str | None = None
    outbox_depth: int | None = None
    quarantined: int | None = None
    last_error: str | None = None
    poll_interval_s: float | None = None
    schedule_period_s: float | None = None
    invalid: tuple[str, ...] = ()  # names of headers that were sent but refused


def parse_health(headers: Mapping[str, str]) -> Health:
    """Validate the ``X-Camaudit-*`` headers; never raises (bad values become None).

    A probe's health report must never stop it from delivering results, so a bad value
    is dropped (and named in ``invalid``) rather than failing the request.
    """
    invalid: list[str] = []

    def pick(name: str, pattern: re.Pattern[str]) -> str | None:
        raw = headers.get(name)
        if raw is None:
            return None
        value = raw.strip()
        if pattern.fullmatch(value):
            return value
        invalid.append(name)
        return None

    version = pick(H_VERSION, _VERSION_RE)
    depth = pick(H_DEPTH, _COUNT_RE)
    quarantined = pick(H_QUARANTINED, _COUNT_RE)
    poll = _seconds(pick(H_POLL, _SECONDS_RE), H_POLL, invalid)
    schedule = _seconds(pick(H_SCHEDULE, _SECONDS_RE), H_SCHEDULE, invalid)
    error = headers.get(H_ERROR)
    if error is not None:
        # Shown on a page and in JSON: printable ASCII only, bounded.
        error = "".join(c if " " <= c <= "~" else "?" for c in error[:MAX_ERROR]).strip() or None
    return Health(
        version=version,
        outbox_depth=int(depth) if depth is not None else None,
        quarantined=int(quarantined) if quarantined is not None else None,
        last_error=error,
        poll_interval_s=poll,
        schedule_period_s=schedule,
        invalid=tuple(invalid),
    )


def _seconds(value: str | None, name: str, invalid: list[str]) -> float | None:
    """A period the regex let through, or None (and ``name`` in ``invalid``) when it is
    zero or longer than :data:`MAX_PERIOD_S`."""
    if value is None:
        return None
    seconds = float(value)
    if 0 < seconds <= MAX_PERIOD_S:
        return seconds
    invalid.append(name)
    return None


def silent_after(default_s: float, poll_interval_s: float | None) -> float:
    """How long a probe may stay quiet: the server-wide wait, or :data:`MISSED_POLLS` of
    its own poll intervals when those are longer (a probe polling every 10 minutes is
    not silent after 5). A probe that never reported its interval gets the default."""
    if poll_interval_s is None:
        return default_s
    return max(default_s, MISSED_POLLS * poll_interval_s)


def record_contact(
    session: Session,
    probe: Probe,
    headers: Mapping[str, str],
    address: str | None = None,
    now: float | None = None,
) -> ProbeStatus | None:
    """Store this contact and the probe's health; close its open silence alert.

    Commits. Returns the status row, or None when the database refused the write: that
    is logged and swallowed, because delivering results matters more than the health
    display and the request that carried the headers goes on either way.
    """
    now = time.time() if now is None else now
    health = parse_health(headers)
    if health.invalid:
        log.warning("probe %s sent invalid health headers (ignored): %s", probe.name,
                    ", ".join(health.invalid))  # fmt: skip
    assert probe.id is not None
    try:
        status = session.get(ProbeStatus, probe.id) or ProbeStatus(
            probe_id=probe.id, last_contact=now
        )
        status.last_contact = max(status.last_contact, now)
        status.address = (address or "")[:64] or None
        status.version = health.version
        status.outbox_depth = health.outbox_depth
        status.quarantined = health.quarantined
        status.last_error = health.last_error
        status.poll_interval_s = health.poll_interval_s
        status.schedule_period_s = health.schedule_period_s
        session.add(status)
        for alert in _open_alerts_of(session, probe.id):
            alert.resolved_at = now
            session.add(alert)
            audit(session, "server", "probe.contact_resumed", f"probe:{probe.name}",
                  silent_since=alert.since, silent_for_s=round(now - alert.since, 1))  # fmt: skip
            log.info("probe %s is back after %.0f s of silence", probe.name, now - alert.since)
        session.commit()
    except SQLAlchemyError as exc:  # locked or full database, or a concurrent first insert
        session.rollback()
        log.warning("could not record contact from probe %s: %s", probe.name, exc)
        return None
    return status


def _open_alerts_of(session: Session, probe_id: int) -> list[ProbeAlert]:
    return list(
        session.exec(
            select(ProbeAlert).where(
                ProbeAlert.probe_id == probe_id, col(ProbeAlert.resolved_at).is_(None)
            )
        )
    )


def sweep(session: Session, settings: Settings, now: float | None = None) -> list[ProbeAlert]:
    """Open an alert for each active probe silent past its threshold; return the new ones.

    Also closes open alerts of probes that were revoked since (a revoked probe is
    expected to be quiet). Commits; raises SQLAlchemyError when the database refuses.
    """
    now = time.time() if now is None else now
    default = settings.probe_silent_after_s
    # Every probe's threshold is at least the default: the query narrows by that, the
    # loop applies each probe's own.
    rows = session.exec(
        select(Probe, ProbeStatus)
        .join(ProbeStatus, col(ProbeStatus.probe_id) == Probe.id)
        .where(col(Probe.revoked).is_(False), ProbeStatus.last_contact < now - default)
    ).all()
    raised: list[ProbeAlert] = []
    for probe, status in rows:
        assert probe.id is not None
        threshold = silent_after(default, status.poll_interval_s)
        if now - status.last_contact <= threshold or _open_alerts_of(session, probe.id):
            continue
        alert = ProbeAlert(
            probe_id=probe.id,
            site_id=probe.site_id,
            since=status.last_contact,
            raised_at=now,
            threshold_s=threshold,
        )
        session.add(alert)
        audit(session, "server", "probe.silent", f"probe:{probe.name}",
              since=status.last_contact, threshold_s=threshold)  # fmt: skip
        log.warning("probe %s silent since %s", probe.name, _iso(status.last_contact))
        raised.append(alert)
    for alert, probe in session.exec(
        select(ProbeAlert, Probe)
        .join(Probe, col(Probe.id) == ProbeAlert.probe_id)
        .where(col(ProbeAlert.resolved_at).is_(None), col(Probe.revoked).is_(True))
    ).all():
        alert.resolved_at = now
        session.add(alert)
        audit(session, "server", "probe.alert_closed", f"probe:{probe.name}", reason="revoked")
    try:
        session.commit()
    except IntegrityError:
        # Another sweep (a second worker, or the background task) stored the same alert
        # a moment earlier: the unique (probe, kind, since) key kept it to one.
        session.rollback()
        return []
    return raised


def sweep_quietly(session: Session, settings: Settings) -> None:
    """:func:`sweep` for page reads: a refused write is logged, the page still renders."""
    try:
        sweep(session, settings)
    except SQLAlchemyError as exc:  # locked or full database; the next read tries again
        session.rollback()
        log.warning("probe silence check failed: %s", exc)


async def sweep_forever(engine: Engine, settings: Settings) -> None:
    """Run :func:`sweep` every ``probe_sweep_interval_s`` until cancelled."""

    def once() -> None:
        with Session(engine) as session:
            sweep_quietly(session, settings)

    while True:
        await asyncio.sleep(settings.probe_sweep_interval_s)
        await run_in_threadpool(once)


# --- what the probes page shows ----------------------------------------------------------


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


class ProbeHealth(BaseModel):
    id: int
    name: str
    site_id: int
    site: str
    revoked: bool
    created_at: float
    last_seen_at: float | None  # time of the latest scan it delivered
    state: State
    last_contact: float | None = None
    silent_for_s: float | None = None  # set while state == "silent"
    # This probe's own threshold (see silent_after) and the periods it reported.
    silent_after_s: float
    poll_interval_s: float | None = None
    schedule_period_s: float | None = None
    address: str | None = None
    version: str | None = None
    outbox_depth: int | None = None
    quarantined: int | None = None
    last_error: str | None = None


class ProbeAlertRow(BaseModel):
    id: int
    probe_id: int
    probe: str
    site_id: int
    site: str
    kind: str
    severity: str
    since: float
    raised_at: float
    resolved_at: float | None
    threshold_s: float
    message: str


class ProbesState(BaseModel):
    silent_after_s: float
    probes: list[ProbeHealth]
    alerts: list[ProbeAlertRow]  # open ones first, then the latest resolved


def _state(probe: Probe, status: ProbeStatus | None, now: float, threshold: float) -> State:
    if probe.revoked:
        return "revoked"
    if status is None:
        return "never"
    return "silent" if now - status.last_contact > threshold else "ok"


def probe_health(
    session: Session, settings: Settings, now: float | None = None
) -> list[ProbeHealth]:
    """Every probe with its last contact, reported health and state, by name."""
    now = time.time() if now is None else now
    out = []
    for probe, site, status in session.exec(
        select(Probe, Site, ProbeStatus)
        .join(Site, col(Site.id) == Probe.site_id)
        .outerjoin(ProbeStatus, col(ProbeStatus.probe_id) == Probe.id)
        .order_by(Probe.name)
    ).all():
        assert probe.id is not None
        threshold = silent_after(
            settings.probe_silent_after_s, status.poll_interval_s if status else None
        )
        state = _state(probe, status, now, threshold)
        row = ProbeHealth(
            id=probe.id,
            name=probe.name,
            site_id=probe.site_id,
            site=site.name,
            revoked=probe.revoked,
            created_at=probe.created_at,
            last_seen_at=probe.last_seen_at,
            state=state,
            silent_after_s=threshold,
        )
        if status is not None:
            row.last_contact = status.last_contact
            row.address = status.address
            row.version = status.version
            row.outbox_depth = status.outbox_depth
            row.quarantined = status.quarantined
            row.last_error = status.last_error
            row.poll_interval_s = status.poll_interval_s
            row.schedule_period_s = status.schedule_period_s
            if state == "silent":
                row.silent_for_s = round(now - status.last_contact, 1)
        out.append(row)
    return out


def alerts(session: Session, open_only: bool = False) -> list[ProbeAlertRow]:
    """Open probe alerts (oldest silence first), then the latest resolved ones."""
    base = (
        select(ProbeAlert, Probe.name, Site.name)
        .join(Probe, col(Probe.id) == ProbeAlert.probe_id)
        .join(Site, col(Site.id) == ProbeAlert.site_id)
    )
    rows = list(
        session.exec(
            base.where(col(ProbeAlert.resolved_at).is_(None)).order_by(col(ProbeAlert.since))
        ).all()
    )
    if not open_only:
        rows += session.exec(
            base.where(col(ProbeAlert.resolved_at).is_not(None))
            .order_by(col(ProbeAlert.resolved_at).desc())
            .limit(RESOLVED_SHOWN)
        ).all()
    out = []
    for a, probe, site in rows:
        assert a.id is not None
        msg = f"probe {probe} silent since {_iso(a.since)}"
        if a.resolved_at is not None:
            msg += f" (back {_iso(a.resolved_at)})"
        out.append(
            ProbeAlertRow(
                id=a.id, probe_id=a.probe_id, probe=probe, site_id=a.site_id, site=site,
                kind=a.kind, severity=a.severity, since=a.since, raised_at=a.raised_at,
                resolved_at=a.resolved_at, threshold_s=a.threshold_s, message=msg,
            )
        )  # fmt: skip
    return out


def probes_state(session: Session, settings: Settings) -> ProbesState:
    """Check for silent probes, then return every probe's health and the alerts."""
    sweep_quietly(session, settings)
    return ProbesState(
        silent_after_s=settings.probe_silent_after_s,
        probes=probe_health(session, settings),
        alerts=alerts(session),
    )
