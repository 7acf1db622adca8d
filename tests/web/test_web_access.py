"""Every route asks for the right role: enumerated from app.routes, not listed by hand."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import pytest
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute
from webenv import PASSWORDS, Env

PUBLIC = {"/healthz", "/login"}
ADMIN_ONLY = re.compile(
    r"^(/admin|/api/admin|/metrics|(/api)?/findings/\{[^}]+\}/accept|(/api)?/schedules)"
)
TOKEN_ONLY = {"/api/ingest", "/api/jobs/next", "/api/jobs/{job_id}/done"}


def _api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        # FastAPI >= 0.16x keeps included routers as nodes (no prefixes are used here).
        elif hasattr(route, "original_router"):
            yield from _api_routes(route.original_router.routes)


def _routes(env: Env) -> list[tuple[str, str]]:
    out = [
        (m, r.path) for r in _api_routes(env.app.routes) for m in sorted(r.methods) if m != "HEAD"
    ]
    assert len(out) > 25, out  # the enumeration must see the real app
    assert ("GET", "/docs") in out and ("POST", "/api/ingest") in out
    return out


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path) + ("?a=1&b=1" if path.endswith("/diff") else "")


def _wants_json(path: str) -> bool:
    return path.startswith("/api/") or path in ("/metrics", "/openapi.json")


def test_the_enumeration_covers_reports_exports_and_jobs(env: Env) -> None:
    paths = {p for _, p in _routes(env)}
    assert {"/reports/audit.html", "/reports/audit.pdf", "/exports/devices.csv",
            "/exports/findings.csv", "/exports/scan/{scan_id}.json", "/schedules",
            "/api/jobs/next", "/api/jobs/{job_id}/done"} <= paths  # fmt: skip


def test_anonymous_is_refused_everywhere_but_public_routes(env: Env) -> None:
    client, csrf = env.login(None)
    for method, path in _routes(env):
        if path in PUBLIC:
            continue
        r = client.request(
            method, _url(path), headers={"x-csrf-token": csrf}, follow_redirects=False
        )
        if _wants_json(path):
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.json()["detail"]
        else:
            assert r.status_code == 303, (method, path, r.status_code)
            assert r.headers["location"].startswith("/login?next=")


def test_auditor_cannot_do_admin_things(env: Env) -> None:
    client, csrf = env.login("auditor")
    for method, path in _routes(env):
        if path == "/logout":
            continue  # would end the session for the routes after it
        r = client.request(
            method, _url(path), headers={"x-csrf-token": csrf}, follow_redirects=False
        )
        if ADMIN_ONLY.match(path):
            assert r.status_code == 403, (method, path, r.status_code)
        elif path in TOKEN_ONLY:
            assert r.status_code == 401, (method, path)  # a session is not a probe token
        else:
            assert r.status_code not in (401, 403), (method, path, r.status_code)


def test_admin_reaches_everything_but_probe_routes(env: Env) -> None:
    client, csrf = env.login("admin")
    for method, path in _routes(env):
        if path == "/logout":
            continue  # would end the session for the routes after it
        r = client.request(
            method, _url(path), headers={"x-csrf-token": csrf}, follow_redirects=False
        )
        expected_401 = path in TOKEN_ONLY
        assert (r.status_code == 401) == expected_401, (method, path, r.status_code)
        assert r.status_code != 403, (method, path)


def test_public_routes(env: Env) -> None:
    c = env.client()
    assert c.get("/healthz").json() == {"status": "ok", "database": "ok"}
    assert c.get("/login").status_code == 200
    assert c.get("/static/style.css").status_code == 200
    assert c.get("/static/swagger/swagger-ui-bundle.js").status_code == 200


def test_metrics_with_token(settings: object, env: Env) -> None:
    env.settings.metrics_token = "m" * 40
    c = env.client()
    assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = c.get("/metrics", headers={"Authorization": "Bearer " + "m" * 40})
    assert r.status_code == 200 and "camaudit_scans_total 0" in r.text


def test_wrong_password_fails(env: Env) -> None:
    c, csrf = env.login(None)
    r = c.post(
        "/login",
        data={"username": "admin", "password": "not-it", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 401 and "Wrong username or password" in r.text
    assert c.get("/api/me").status_code == 401
    r = c.post(
        "/login",
        data={"username": "nobody", "password": "x", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 401


def test_login_sets_a_hardened_cookie_and_logout_ends_it(env: Env) -> None:
    c, csrf = env.login(None)
    r = c.post(
        "/login",
        data={
            "username": "admin",
            "password": PASSWORDS["admin"],
            "csrf_token": csrf,
            "next": "//evil",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/"  # no open redirect
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert c.get("/api/me").json()["username"] == "admin"
    token = c.get("/").text.split('name="csrf_token" value="')[1].split('"')[0]
    assert c.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert c.get("/api/me").status_code == 401


def test_cookie_is_secure_over_https(env: Env) -> None:
    from fastapi.testclient import TestClient

    c = TestClient(env.app, base_url="https://127.0.0.1")
    r = c.get("/login")
    assert "secure" in r.headers["set-cookie"].lower()


@pytest.mark.parametrize("csrf", [None, "forged"])
def test_post_without_valid_csrf_is_403(env: Env, csrf: str | None) -> None:
    client, _ = env.login("admin")
    headers = {"x-csrf-token": csrf} if csrf else {}
    assert client.post("/admin/sites", data={"name": "x"}, headers=headers).status_code == 403
    assert client.post("/api/findings/1/acknowledge", headers=headers).status_code == 403
    anon, _ = env.login(None)
    r = anon.post(
        "/login", data={"username": "admin", "password": PASSWORDS["admin"]}, headers=headers
    )
    assert r.status_code == 403
