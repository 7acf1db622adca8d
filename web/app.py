"""The app factory: ``create_app(settings)`` builds engine, middleware and routes.

Nothing is created at import time, so tests (and ``camaudit serve``) pass their own
:class:`~web.settings.Settings`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from auditor import __version__
from auditor.errors import StorageError
from web.db import open_db
from web.deps import NotAuthenticated
from web.headers import SecurityHeadersMiddleware
from web.probe_health import sweep_forever
from web.ratelimit import SlidingWindow
from web.routes import (
    admin,
    auth,
    findings,
    ingest,
    inventory,
    ops,
    probes,
    reports,
    scans,
    schedules,
)
from web.sessions import SchemeAwareSessionMiddleware
from web.settings import Settings, resolve_secret_key
from web.templating import WEB_DIR, make_templates, render

log = logging.getLogger(__name__)


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return (
        path.startswith("/api/")
        or path in ("/metrics", "/openapi.json")
        or (
            "application/json" in request.headers.get("accept", "")
            and "text/html" not in request.headers.get("accept", "")
        )
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticated)
    async def _unauthenticated(request: Request, exc: NotAuthenticated) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"detail": exc.detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        ctx = {"status": exc.status_code, "detail": exc.detail, "user": None}
        return render(request, "error.html", ctx, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [{k: e[k] for k in ("loc", "msg", "type") if k in e} for e in exc.errors()]
        if _wants_json(request):
            return JSONResponse({"detail": errors}, status_code=422)
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        return render(request, "error.html", {"status": 422, "detail": detail, "user": None}, 422)

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> Response:
        # An id beyond the database's 64-bit integers (found by schemathesis): nothing
        # can have it, so it is "not found", not a server error.
        return await _http_error(request, HTTPException(404, "not found"))

    @app.exception_handler(StorageError)
    async def _storage(request: Request, exc: StorageError) -> Response:
        log.error("storage error on %s: %s", request.url.path, exc)
        return JSONResponse({"detail": "the database refused the operation"}, status_code=503)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Return a ready dashboard app for ``settings`` (from the environment when None).

    Raises :class:`~auditor.errors.ConfigError` for a placeholder secret in production
    and :class:`~auditor.errors.StorageError` when the database cannot be prepared.
    """
    settings = settings or Settings()
    secret = resolve_secret_key(settings)
    engine = open_db(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Silent probes are noticed even when nobody opens a page (web.probe_health).
        sweeper = None
        if settings.probe_sweep_interval_s > 0:
            sweeper = asyncio.create_task(sweep_forever(engine, settings))
        yield
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        engine.dispose()

    app = FastAPI(
        title="camaudit",
        version=__version__,
        description="Privacy audit dashboard for municipal IP camera networks.",
        docs_url=None,  # served by web.routes.ops behind login, with bundled assets
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.templates = make_templates()
    app.state.login_limiter = SlidingWindow(settings.login_max_failures, settings.login_window_s)
    app.state.probe_limiter = SlidingWindow(settings.probe_rate_per_minute, 60.0)
    app.add_middleware(
        SchemeAwareSessionMiddleware, secret_key=secret, max_age=settings.session_max_age
    )
    # Added last, so outermost: its headers reach every response, errors included.
    app.add_middleware(SecurityHeadersMiddleware)
    _install_error_handlers(app)
    for module in (ops, auth, inventory, findings, scans, ingest, admin, reports, probes):
        app.include_router(module.router)
    app.include_router(schedules.admin_router)
    app.include_router(schedules.probe_router)
    swagger = _swagger_dir()
    if swagger is not None:  # before /static, which would otherwise swallow its paths
        app.mount("/static/swagger", StaticFiles(directory=swagger), name="swagger")
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    return app


def _swagger_dir() -> Path | None:
    try:
        import swagger_ui_bundle
    except ImportError:  # optional: /docs then renders without its scripts
        return None
    return Path(swagger_ui_bundle.swagger_ui_path)
