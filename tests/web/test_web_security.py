"""Security headers, login and probe-token rate limits, no secrets in logs or errors."""

from __future__ import annotations

import logging

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from scanfactory import make_scan
from webenv import PASSWORDS, Env

from web.ratelimit import SlidingWindow


def _assert_headers(r: object) -> None:
    h = r.headers  # type: ignore[attr-defined]
    assert "default-src 'self'" in h["content-security-policy"]
    assert "frame-ancestors 'none'" in h["content-security-policy"]
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "same-origin"
    assert h["x-frame-options"] == "DENY"


def test_security_headers_on_every_kind_of_response(env: Env) -> None:
    c, _ = env.login("auditor")
    for path in ("/", "/login", "/api/devices", "/static/style.css", "/healthz", "/nope",
                 "/api/devices/999", "/docs"):  # fmt: skip
        _assert_headers(c.get(path))
    _assert_headers(env.client().get("/api/devices"))  # 401
    docs = c.get("/docs").text
    assert "<script>" not in docs  # the CSP forbids inline scripts; Swagger starts from a file


def _fail(c: TestClient, csrf: str, user: str = "admin") -> int:
    r = c.post("/login", data={"username": user, "password": "wrong-password",
                               "csrf_token": csrf}, follow_redirects=False)  # fmt: skip
    return r.status_code


def test_login_is_rate_limited_per_address_and_username(env: Env) -> None:
    c, csrf = env.login(None)
    assert [_fail(c, csrf) for _ in range(5)] == [401] * 5
    r = c.post("/login", data={"username": "admin", "password": PASSWORDS["admin"],
                               "csrf_token": csrf}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 429  # even the right password waits: no oracle for a guesser
    assert 1 <= int(r.headers["retry-after"]) <= 60 and "Too many failed logins" in r.text
    assert _fail(c, csrf, "auditor") == 401  # another username is not locked out
    ok = c.post("/login", data={"username": "auditor", "password": PASSWORDS["auditor"],
                                "csrf_token": csrf}, follow_redirects=False)  # fmt: skip
    assert ok.status_code == 303


def test_sliding_window_forgets_after_the_window() -> None:
    now = [100.0]
    w = SlidingWindow(2, 60.0, clock=lambda: now[0])
    assert w.hit("k") is None and w.hit("k") is None
    assert w.hit("k") == 60
    now[0] += 30
    assert w.hit("k") == 30
    now[0] += 30.5
    assert w.hit("k") is None


def test_probe_token_use_is_rate_limited(env: Env) -> None:
    env.app.state.probe_limiter = SlidingWindow(3, 60.0)
    c = env.client()
    auth = {"Authorization": f"Bearer {env.token}"}
    assert c.post("/api/ingest", json=make_scan("a", n_devices=1), headers=auth).status_code == 201
    assert c.get("/api/jobs/next", headers=auth).status_code == 200
    assert c.get("/api/jobs/next", headers=auth).status_code == 200
    r = c.post("/api/ingest", json=make_scan("b", n_devices=1), headers=auth)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert "too many requests" in r.json()["detail"]


def test_no_secrets_in_logs_or_error_pages(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    boom = APIRouter()

    @boom.get("/api/boom")
    def _boom() -> None:
        raise RuntimeError("secret-in-exception " + env.token)

    env.app.include_router(boom)
    caplog.set_level(logging.DEBUG)
    c, csrf = env.login(None)
    password = "hunter2-very-secret-password"
    r = c.post("/login", data={"username": "admin", "password": password, "csrf_token": csrf})
    assert password not in r.text
    wrong = "cat_" + "x" * 43
    r = c.post("/api/ingest", json={"scan": {}}, headers={"Authorization": f"Bearer {wrong}"})
    assert r.status_code == 401 and wrong not in r.text
    r = c.post("/api/ingest", json={"scan": {"id": "x"}},
               headers={"Authorization": f"Bearer {env.token}"})  # fmt: skip
    assert r.status_code == 422 and env.token not in r.text
    admin, _ = env.login("admin")
    r = TestClient(env.app, raise_server_exceptions=False, cookies=admin.cookies).get("/api/boom")
    assert r.status_code == 500 and "Traceback" not in r.text and env.token not in r.text
    assert r.json()["detail"].startswith("internal error")
    _assert_headers(r)
    logged = caplog.text
    assert password not in logged and wrong not in logged
    assert PASSWORDS["admin"] not in logged
