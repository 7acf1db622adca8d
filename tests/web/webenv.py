"""Test helpers for the dashboard: an app on a temp SQLite file, signed-in clients."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from web.settings import Settings

PASSWORDS = {"admin": "admin-password-1", "auditor": "auditor-password-1"}
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Env:
    app: FastAPI
    settings: Settings
    token: str  # probe "pi-north" at site "north"
    site_id: int

    def session(self) -> Session:
        return Session(self.app.state.engine)

    def client(self) -> TestClient:
        return TestClient(self.app, base_url="http://127.0.0.1")

    def login(self, role: str | None) -> tuple[TestClient, str]:
        """Return a client signed in as ``role`` (None: anonymous) and its CSRF token."""
        c = self.client()
        page = c.get("/login")
        csrf = CSRF_RE.search(page.text)
        assert csrf, page.text
        if role is None:
            return c, csrf.group(1)
        r = c.post(
            "/login",
            data={"username": role, "password": PASSWORDS[role], "csrf_token": csrf.group(1)},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        token = CSRF_RE.search(c.get("/").text)
        assert token
        return c, token.group(1)

    def ingest(self, scan: dict[str, object], token: str | None = None) -> dict[str, object]:
        r = self.client().post(
            "/api/ingest", json=scan, headers={"Authorization": f"Bearer {token or self.token}"}
        )
        assert r.status_code in (200, 201), r.text
        body: dict[str, object] = r.json()
        return body
