"""``/probes`` and ``/api/probes``: each probe's last contact, version, outbox and errors.

Admins and auditors read it; reading it also checks for silent probes (web.probe_health).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from web.deps import CurrentUser, SessionDep, SettingsDep, current_user
from web.probe_health import ProbesState, probes_state
from web.templating import render

router = APIRouter(dependencies=[Depends(current_user)], tags=["probes"])


@router.get("/probes", include_in_schema=False)
def probes_page(
    request: Request, session: SessionDep, settings: SettingsDep, user: CurrentUser
) -> Response:
    return render(request, "probes.html", {"p": probes_state(session, settings), "user": user})


@router.get("/api/probes")
def probes_api(session: SessionDep, settings: SettingsDep) -> ProbesState:
    """Every probe's health (state ok / silent / never / revoked) and the probe alerts."""
    return probes_state(session, settings)
