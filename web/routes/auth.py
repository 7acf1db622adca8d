"""Login and logout (session cookie, argon2, CSRF on the forms)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlmodel import select
from starlette.responses import Response

from web.crud import audit
from web.deps import (
    CsrfChecked,
    CurrentUser,
    MaybeUser,
    SessionDep,
    check_csrf,
    current_user,
)
from web.models import User, UserPublic
from web.ratelimit import SlidingWindow
from web.security import hash_password, new_csrf_token, password_needs_rehash, verify_password
from web.templating import render

router = APIRouter(tags=["auth"])


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths: an open redirect would make a phishing link look real.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login", include_in_schema=False)
def login_form(request: Request, user: MaybeUser, next: str | None = None) -> Response:
    if user is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "login.html", {"next": _safe_next(next), "error": None, "user": None})


@router.post("/login", include_in_schema=False, dependencies=[Depends(check_csrf)])
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    client = request.client.host if request.client else "?"
    limiter: SlidingWindow = request.app.state.login_limiter
    key = f"{client}|{username.strip().lower()}"
    wait = limiter.retry_after(key)
    if wait is not None:
        # Checked before the password: a guesser learns nothing until the window ends.
        ctx = {"next": _safe_next(next), "user": None,
               "error": f"Too many failed logins. Try again in {wait} s."}  # fmt: skip
        resp = render(request, "login.html", ctx, status_code=429)
        resp.headers["Retry-After"] = str(wait)
        return resp
    user = session.exec(select(User).where(User.username == username)).first()
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or user.disabled:
        limiter.add(key)
        audit(session, f"anonymous:{client}", "login.failed", f"user:{username}")
        session.commit()
        ctx = {"next": _safe_next(next), "error": "Wrong username or password.", "user": None}
        return render(request, "login.html", ctx, status_code=401)
    limiter.reset(key)
    if password_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.add(user)
    # A fresh session on login: no fixation of a pre-login session id or CSRF token.
    request.session.clear()
    request.session.update({"uid": user.id, "csrf": new_csrf_token()})
    audit(session, f"user:{user.username}", "login")
    session.commit()
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", include_in_schema=False, dependencies=[Depends(current_user), CsrfChecked])
def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/api/me", response_model=UserPublic)
def me(user: CurrentUser) -> User:
    """The signed-in user."""
    return user
