"""Signed-cookie sessions whose ``Secure`` flag follows the request's scheme.

Starlette's SessionMiddleware fixes ``https_only`` at start-up; a dashboard reached over
plain HTTP on a lab VLAN and over HTTPS behind a proxy needs both, so this keeps two
instances and picks by ``scope["scheme"]`` (uvicorn sets it from X-Forwarded-Proto when
the proxy is trusted).
"""

from __future__ import annotations

from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "camaudit_session"


class SchemeAwareSessionMiddleware:
    def __init__(self, app: ASGIApp, secret_key: str, max_age: int) -> None:
        common = {"secret_key": secret_key, "session_cookie": COOKIE, "max_age": max_age}
        self._plain = SessionMiddleware(app, same_site="lax", https_only=False, **common)  # type: ignore[arg-type]
        self._secure = SessionMiddleware(app, same_site="lax", https_only=True, **common)  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        inner = self._secure if scope.get("scheme") in ("https", "wss") else self._plain
        await inner(scope, receive, send)
