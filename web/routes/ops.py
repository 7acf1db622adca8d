"""Health, Prometheus metrics, and the API docs (served offline, behind login)."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, func, select
from starlette.responses import Response

from web import probe_health
from web.deps import (
    MaybeUser,
    NotAuthenticated,
    SessionDep,
    SettingsDep,
    bearer_token,
    current_user,
)
from web.models import Device, Finding, Probe, Scan, Site
from web.queries import SEVERITIES, effective_status

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz(session: SessionDep) -> JSONResponse:
    """Liveness and database reachability; no authentication."""
    try:
        session.exec(select(text("1"))).one()
    except SQLAlchemyError:
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


def metrics_auth(request: Request, user: MaybeUser, settings: SettingsDep) -> None:
    """Admin session, or ``Authorization: Bearer $CAMAUDIT_METRICS_TOKEN``."""
    token = bearer_token(request)
    if token is not None and settings.metrics_token:
        if hmac.compare_digest(token, settings.metrics_token):
            return
        raise NotAuthenticated("invalid metrics token")
    if user is None:
        raise NotAuthenticated()
    if user.role != "admin":
        raise HTTPException(status_code=403, detail="admin role or metrics token required")


def _line(name: str, value: float, **labels: Any) -> str:
    if labels:
        esc = ",".join(
            f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
            for k, v in labels.items()
        )
        return f"{name}{{{esc}}} {value}"
    return f"{name} {value}"


@router.get("/metrics", dependencies=[Depends(metrics_auth)], response_class=PlainTextResponse)
def metrics(session: SessionDep, settings: SettingsDep) -> PlainTextResponse:
    """Prometheus text format: devices per site, findings by severity and status, scans,
    and per-probe health (silent, last contact, outbox depth, quarantined files)."""
    out = ["# HELP camaudit_devices Devices known, per site.", "# TYPE camaudit_devices gauge"]
    for site, n in session.exec(
        select(Site.name, func.count(col(Device.id)))
        .outerjoin(Device, col(Device.site_id) == Site.id)
        .group_by(Site.name)
    ).all():
        out.append(_line("camaudit_devices", n, site=site))
    out += ["# HELP camaudit_findings Findings by severity and status.",
            "# TYPE camaudit_findings gauge"]  # fmt: skip
    eff = effective_status()
    counts = {
        (s, st): n
        for s, st, n in session.exec(
            select(Finding.severity, eff, func.count())
            .join(Device, col(Device.id) == Finding.device_id)
            .group_by(Finding.severity, eff)
        ).all()
    }
    for sev in SEVERITIES:
        for status in ("open", "acknowledged", "accepted", "resolved"):
            out.append(
                _line(
                    "camaudit_findings", counts.get((sev, status), 0), severity=sev, status=status
                )
            )
    out += ["# HELP camaudit_scans_total Scans received.", "# TYPE camaudit_scans_total counter"]
    out.append(
        _line("camaudit_scans_total", session.exec(select(func.count()).select_from(Scan)).one())
    )
    out += ["# HELP camaudit_last_scan_timestamp_seconds Finish time of the latest scan, per site.",
            "# TYPE camaudit_last_scan_timestamp_seconds gauge"]  # fmt: skip
    for site, last in session.exec(
        select(Site.name, func.max(Scan.finished))
        .join(Scan, col(Scan.site_id) == Site.id)
        .group_by(Site.name)
    ).all():
        out.append(_line("camaudit_last_scan_timestamp_seconds", last or 0, site=site))
    out += ["# HELP camaudit_probes Probes by state.", "# TYPE camaudit_probes gauge"]
    for revoked, n in session.exec(
        select(Probe.revoked, func.count()).group_by(col(Probe.revoked))
    ).all():
        out.append(_line("camaudit_probes", n, state="revoked" if revoked else "active"))
    out += _probe_health_lines(session, settings)
    return PlainTextResponse("\n".join(out) + "\n", media_type="text/plain; version=0.0.4")


def _probe_health_lines(session: SessionDep, settings: SettingsDep) -> list[str]:
    probe_health.sweep_quietly(session, settings)
    rows = [p for p in probe_health.probe_health(session, settings) if not p.revoked]
    gauges = [
        ("camaudit_probe_silent",
         "1 when an active probe has not called in for longer than CAMAUDIT_PROBE_SILENT_AFTER_S.",
         lambda p: 1 if p.state == "silent" else 0),
        ("camaudit_probe_last_contact_timestamp_seconds",
         "Last request from the probe (0: never).", lambda p: p.last_contact or 0),
        ("camaudit_probe_outbox_depth", "Results waiting in the probe's outbox, as it last said.",
         lambda p: p.outbox_depth),
        ("camaudit_probe_quarantined", "Outbox files the probe set aside (corrupt or refused).",
         lambda p: p.quarantined),
    ]  # fmt: skip
    out: list[str] = []
    for name, help_text, value in gauges:
        out += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        for p in rows:
            v = value(p)
            if v is not None:  # a value the probe never reported is absent, not 0
                out.append(_line(name, v, probe=p.name, site=p.site))
    return out


@router.get("/openapi.json", include_in_schema=False, dependencies=[Depends(current_user)])
def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", include_in_schema=False, dependencies=[Depends(current_user)])
def docs() -> Response:
    # Swagger UI's assets come from the swagger-ui-bundle wheel (no CDN on an isolated
    # VLAN) and its start-up script is a static file, so the CSP needs no inline script.
    return HTMLResponse(DOCS_HTML)


DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>camaudit API</title>
<link rel="stylesheet" href="/static/swagger/swagger-ui.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml"></head>
<body><div id="swagger-ui" data-openapi-url="/openapi.json"></div>
<script src="/static/swagger/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script></body></html>
"""
