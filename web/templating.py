"""Jinja environment (templates ship as package data) and the page renderer."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from web import charts
from web.deps import csrf_token

WEB_DIR = Path(__file__).resolve().parent
SEVERITY_NAMES = {0: "info", 1: "low", 2: "medium", 3: "high", 4: "critical"}


def _ts(value: float | None) -> str:
    if not value:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(value))


def _duration(seconds: float | None) -> str:
    """``95`` -> ``"1 min"``, ``7300`` -> ``"2.0 h"``, ``200000`` -> ``"2.3 days"``."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _qs(request: Request, **changes: Any) -> str:
    """The current query string with ``changes`` applied (None removes a key)."""
    params = dict(request.query_params)
    for k, v in changes.items():
        if v is None:
            params.pop(k, None)
        else:
            params[k] = str(v)
    return "?" + urlencode(params)


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
    env = templates.env
    env.filters["ts"] = _ts
    env.filters["duration"] = _duration
    env.filters["sevname"] = lambda rank: SEVERITY_NAMES.get(rank, "") if rank is not None else ""
    env.globals["qs"] = _qs
    env.globals["bar_chart"] = charts.bar_chart
    env.globals["severity_chart"] = charts.severity_chart
    env.globals["trend_chart"] = charts.trend_chart
    env.globals["pairs"] = lambda rows: [(c.name, c.count) for c in rows]
    env.globals["trend_points"] = lambda pts: [(p.started, p.devices, p.findings) for p in pts]
    return templates


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    ctx = {"csrf": csrf_token(request), "user": getattr(request.state, "user", None)}
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
