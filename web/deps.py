"""Request dependencies as ``Annotated`` aliases: ``SessionDep``, ``CurrentUser``, ...

Authentication failures raise :class:`NotAuthenticated`; the app turns it into a 401
JSON error for API paths and a redirect to ``/login`` for pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlmodel import Session, select

from web.models import Probe, User
from web.security import hash_token, new_csrf_token, same_token
from web.settings import Settings

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class NotAuthenticated(Exception):
    """No valid session (or token) for a route that needs one."""

    def __init__(self, detail: str = "authentication required") -> None:
        super().__init__(detail)
        self.detail = detail


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def optional_user(request: Request, session: SessionDep) -> User | None:
    uid = request.session.get("uid")
    if not isinstance(uid, int):
        return None
    user = session.get(User, uid)
    if user is None or user.disabled:
        request.session.clear()
        return None
    return user


def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise NotAuthenticated()
    return user


CurrentUser = Annotated[User, Depends(current_user)]
MaybeUser = Annotated[User | None, Depends(optional_user)]


def require_admin(user: CurrentUser) -> User:
    if user.role != "admin":
        raise HTTPException(status_code=403, detail="admin role required")
    return user


AdminUser = Annotated[User, Depends(require_admin)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def probe_auth(request: Request, session: SessionDep) -> Probe:
    """Return the probe whose token is in ``Authorization: Bearer``; 401 otherwise."""
    token = bearer_token(request)
    if token is None:
        raise NotAuthenticated("missing probe token (Authorization: Bearer <token>)")
    probe = session.exec(select(Probe).where(Probe.token_hash == hash_token(token))).first()
    if probe is None:
        raise NotAuthenticated("unknown probe token")
    if probe.revoked:
        raise NotAuthenticated(f"probe {probe.name!r} has been revoked")
    return probe


ProbeAuth = Annotated[Probe, Depends(probe_auth)]


def limited_probe(request: Request, probe: ProbeAuth, session: SessionDep) -> Probe:
    """The authenticated probe, unless its token is over its per-minute budget (429).

    Each request within budget is also a contact: its health headers are recorded
    (``web.probe_health``). Over-budget requests write nothing, so a flood costs no I/O.
    """
    from web.probe_health import record_contact
    from web.ratelimit import too_many

    wait = request.app.state.probe_limiter.hit(probe.token_hash)
    if wait is not None:
        raise too_many(wait, f"requests from probe {probe.name!r}")
    record_contact(session, probe, request.headers, request.client.host if request.client else None)
    return probe


LimitedProbe = Annotated[Probe, Depends(limited_probe)]


def csrf_token(request: Request) -> str:
    """Return this session's CSRF token, creating it on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = new_csrf_token()
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """Reject a state-changing request whose CSRF token (form field or header) is wrong."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not same_token(sent, request.session.get("csrf")):
        raise HTTPException(status_code=403, detail="missing or invalid CSRF token")


CsrfChecked = Depends(check_csrf)
