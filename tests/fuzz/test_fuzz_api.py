"""schemathesis against the dashboard's own OpenAPI (whatever routes exist when it runs).

The app is ``web.app.create_app`` on a temp data dir with one ingested scan, called in
process (ASGI). Every operation gets up to ``API_EXAMPLES`` generated requests, valid
and invalid, as a signed-in admin (CSRF header included) or, on the probe routes, with
a probe token. Checks: no 5xx, and responses conform to the documented schema and
content type.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fuzzset
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from fuzzset import fuzz, ran
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)
from schemathesis.core.failures import FailureGroup
from sqlmodel import Session

from auditor.model import Device, Evidence, Finding, Observation, ScanResult, Service, Severity
from web.app import create_app
from web.crud import create_probe, create_site, create_user
from web.models import ProbeCreate, SiteCreate, UserCreate
from web.settings import Settings

API_EXAMPLES = 25
SLOW = {"GET /reports/audit.pdf": 4, "GET /reports/audit.html": 8}  # WeasyPrint renders
PROBE_ROUTES = re.compile(r"^/api/(ingest|jobs/)")
ADMIN_PASSWORD = "fuzz-admin-password-1"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
NONCONFORMING: dict[str, set[str]] = {}  # operation -> "status failure" seen
#: Known gaps between what the dashboard answers and what its OpenAPI documents
#: (reported in docs/reliability.md): errors on report/export routes are rendered as an
#: HTML page (documented: JSON), and two routes raise a 422 with a string ``detail``
#: (documented: FastAPI's list of validation errors). A new kind fails the test.
KNOWN_NONCONFORMING: dict[str, set[str]] = {
    r"^GET /(reports|exports)/": {"422 Undocumented Content-Type"},
    r"^POST /api/(findings/\{finding_id\}/accept|schedules)$": {"422 Response violates schema"},
}
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def _scan() -> dict[str, Any]:
    dev = Device(
        "198.18.0.9", mac="44:19:b6:00:00:01", vendor="Hikvision", oem="Hikvision",
        model="DS-2CD2143G0-I", firmware="V5.5.82", serial="DS1", device_type="camera",
        services=[Service(80, "tcp", "http", banner="App-webs/")],
        findings=[Finding("CAM-EXP-HTTP-CLEARTEXT", Severity.MEDIUM, "cleartext admin",
                          [Evidence("http:80", "plain HTTP")])],
    )  # fmt: skip
    obs = [Observation("http", "198.18.0.9", {"server": "App-webs/"}, port=80, at=1.7e9)]
    return ScanResult("fuzz-scan-1", ["198.18.0.0/24"], 1.7e9, 1.7e9 + 5, [dev], obs).to_dict()


class Api:
    def __init__(self, app: FastAPI, token: str) -> None:
        self.app = app
        self.token = token
        self.admin = TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)
        page = self.admin.get("/login")
        csrf = CSRF_RE.search(page.text)
        assert csrf
        r = self.admin.post(
            "/login",
            data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": csrf.group(1)},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        token_match = CSRF_RE.search(self.admin.get("/").text)
        assert token_match
        self.csrf = token_match.group(1)
        self.probe = TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)
        r = self.probe.post(
            "/api/ingest", json=_scan(), headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code in (200, 201), r.text


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data = tmp_path_factory.mktemp("api") / "data"
    # probe token use is rate-limited per minute: generous here, the limiter has its own test
    settings = Settings(data_dir=data, env="test", probe_rate_per_minute=100_000)
    app = create_app(settings)
    with Session(app.state.engine) as s:
        site_id = create_site(s, SiteCreate(name="north"), "fuzz").id
        assert site_id is not None
        _, token = create_probe(s, ProbeCreate(name="pi-north", site_id=site_id), "fuzz")
        create_user(s, UserCreate(username="admin", password=ADMIN_PASSWORD, role="admin"), "f")
    yield Api(app, token)
    app.state.engine.dispose()


def _operations() -> list[str]:
    app = create_app(Settings(data_dir=Path("/nonexistent-camaudit-schema-only"), env="test"))
    try:
        labels = [r.ok().label for r in schemathesis.openapi.from_dict(app.openapi())
                  .get_all_operations()]  # fmt: skip
    finally:
        app.state.engine.dispose()
    return labels


def test_schema_lists_the_api(api: Api) -> None:
    labels = set(_operations())
    assert {"POST /api/ingest", "GET /api/devices", "GET /api/findings"} <= labels


@pytest.mark.parametrize("label", _operations())
def test_operation_never_fails_and_matches_its_schema(api: Api, label: str) -> None:
    schema = schemathesis.openapi.from_dict(api.app.openapi())
    op = next(r.ok() for r in schema.get_all_operations() if r.ok().label == label)
    cases = op.as_strategy(GenerationMode.POSITIVE) | op.as_strategy(GenerationMode.NEGATIVE)
    probe_route = bool(PROBE_ROUTES.match(op.path))

    @fuzz(SLOW.get(label, API_EXAMPLES))
    @given(cases, st.booleans())
    def run(case: Any, anonymous: bool) -> None:
        ran("api-cases")
        kwargs = case.as_transport_kwargs(base_url="http://127.0.0.1")
        headers = dict(kwargs.pop("headers") or {})
        if probe_route:
            headers["Authorization"] = f"Bearer {api.token}"
        else:
            headers["x-csrf-token"] = api.csrf
        client = api.probe if probe_route or anonymous else api.admin
        kwargs.pop("cookies", None)
        if isinstance(kwargs.get("data"), bytes | str):  # raw bodies go as content (httpx)
            kwargs["content"] = kwargs.pop("data")
        response = client.request(headers=headers, follow_redirects=False, **kwargs)
        assert response.status_code < 500, (label, kwargs, response.text[:300])
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as exc:
            for failure in exc.exceptions:
                kind = f"{response.status_code} {getattr(failure, 'title', type(failure).__name__)}"
                NONCONFORMING.setdefault(label, set()).add(kind)

    run()
    allowed = set().union(
        *(kinds for pattern, kinds in KNOWN_NONCONFORMING.items() if re.match(pattern, label))
    )
    seen = NONCONFORMING.get(label, set())
    fuzzset.NOTES.setdefault("api_operations", 0)
    fuzzset.NOTES["api_operations"] += 1
    if seen:
        fuzzset.NOTES.setdefault("api_known_nonconforming", {})[label] = sorted(seen)
    assert seen <= allowed, (label, seen - allowed)


@pytest.mark.parametrize(
    "path", ["/api/devices/9223372036854775808", "/api/scans/99999999999999999999"]
)
def test_ids_beyond_64_bits_are_not_found(api: Api, path: str) -> None:
    # found by schemathesis: SQLite raised OverflowError, the dashboard answered 500
    r = api.admin.get(path)
    assert r.status_code == 404 and r.json() == {"detail": "not found"}
