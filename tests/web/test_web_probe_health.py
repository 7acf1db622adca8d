"""Probe health on the dashboard: the X-Camaudit-* headers a probe sends are recorded and
shown (/probes, /api/probes), and a probe that stops calling in raises an alert that
auditors see (probes page, overview, audit log) and Prometheus scrapes (/metrics)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, select
from webenv import Env

from web import migrate
from web.app import create_app
from web.db import make_engine
from web.models import ProbeAlert, ProbeStatus
from web.settings import Settings

SILENT_AFTER = 1.5  # seconds: the real clock runs past it; wide enough for a loaded CI box


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # No background sweep here: these tests show the sweep a page read triggers.
    return Settings(
        data_dir=tmp_path / "data",
        env="test",
        probe_silent_after_s=SILENT_AFTER,
        probe_sweep_interval_s=0,
    )


def _pull(env: Env, **headers: str) -> None:
    r = env.client().get(
        "/api/jobs/next", headers={"Authorization": f"Bearer {env.token}", **headers}
    )
    assert r.status_code == 200, r.text


def _probe(client: TestClient) -> dict[str, object]:
    body = client.get("/api/probes").json()
    row: dict[str, object] = next(p for p in body["probes"] if p["name"] == "pi-north")
    return row


HEALTHY = {
    "X-Camaudit-Probe-Version": "0.1.0",
    "X-Camaudit-Outbox-Depth": "3",
    "X-Camaudit-Quarantined": "1",
    "X-Camaudit-Last-Error": "http://srv/api/ingest answered 503: database locked",
}


def test_health_headers_are_recorded_and_shown_to_auditors(env: Env) -> None:
    auditor, _ = env.login("auditor")
    assert _probe(auditor)["state"] == "never"  # created, never called in
    before = time.time()
    _pull(env, **HEALTHY)
    row = _probe(auditor)
    assert row["state"] == "ok"
    assert isinstance(row["last_contact"], float) and row["last_contact"] >= before
    assert (row["version"], row["outbox_depth"], row["quarantined"]) == ("0.1.0", 3, 1)
    assert row["last_error"] == HEALTHY["X-Camaudit-Last-Error"]
    assert row["address"] == "testclient"
    page = auditor.get("/probes")
    assert page.status_code == 200
    for shown in ("pi-north", "0.1.0", "database locked", "north"):
        assert shown in page.text

    # Health is the probe's current state: a later request without an error clears it.
    _pull(env, **{k: v for k, v in HEALTHY.items() if k != "X-Camaudit-Last-Error"})
    assert _probe(auditor)["last_error"] is None


def test_bad_header_values_are_dropped_and_never_block_delivery(env: Env) -> None:
    auditor, _ = env.login("auditor")
    _pull(
        env,
        **{
            "X-Camaudit-Probe-Version": "1.0 <script>",
            "X-Camaudit-Outbox-Depth": "-4",
            "X-Camaudit-Quarantined": "99999999999999",
            "X-Camaudit-Last-Error": "x" * 5000 + "\x7f",
        },
    )
    row = _probe(auditor)
    assert row["state"] == "ok"  # the contact itself counts
    assert (row["version"], row["outbox_depth"], row["quarantined"]) == (None, None, None)
    assert row["last_error"] == "x" * 500


def _audit_actions(admin: TestClient) -> list[str]:
    return [a["action"] for a in admin.get("/api/admin").json()["audit"]]


def test_a_silent_probe_raises_one_alert_until_it_calls_in_again(env: Env) -> None:
    admin, _ = env.login("admin")
    auditor, _ = env.login("auditor")
    _pull(env, **HEALTHY)
    assert 'camaudit_probe_silent{probe="pi-north",site="north"} 0' in admin.get("/metrics").text
    time.sleep(SILENT_AFTER + 0.2)

    row = _probe(auditor)
    assert row["state"] == "silent" and isinstance(row["silent_for_s"], float)
    alerts = auditor.get("/api/probes").json()["alerts"]
    assert len(alerts) == 1 and alerts[0]["resolved_at"] is None
    assert re.fullmatch(r"probe pi-north silent since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC",
                        alerts[0]["message"]), alerts[0]  # fmt: skip
    assert alerts[0]["since"] == row["last_contact"] and alerts[0]["site"] == "north"
    overview = auditor.get("/api/overview").json()
    assert [a["probe"] for a in overview["probe_alerts"]] == ["pi-north"]
    assert "probe pi-north silent since" in auditor.get("/").text
    metrics = admin.get("/metrics").text
    assert 'camaudit_probe_silent{probe="pi-north",site="north"} 1' in metrics
    assert 'camaudit_probe_outbox_depth{probe="pi-north",site="north"} 3' in metrics
    # Every read sweeps again; the silence is still one alert and one audit entry.
    assert _audit_actions(admin).count("probe.silent") == 1
    with env.session() as s:
        assert len(s.exec(select(ProbeAlert)).all()) == 1

    _pull(env, **HEALTHY)  # it is back
    assert _probe(auditor)["state"] == "ok"
    alerts = auditor.get("/api/probes").json()["alerts"]
    assert len(alerts) == 1 and alerts[0]["resolved_at"] is not None
    assert "(back " in alerts[0]["message"]
    assert auditor.get("/api/overview").json()["probe_alerts"] == []
    assert "probe.contact_resumed" in _audit_actions(admin)
    assert 'camaudit_probe_silent{probe="pi-north",site="north"} 0' in admin.get("/metrics").text


def test_revoked_and_never_seen_probes_raise_nothing(env: Env) -> None:
    admin, csrf = env.login("admin")
    _pull(env)
    time.sleep(SILENT_AFTER + 0.2)
    assert _probe(admin)["state"] == "silent"
    with env.session() as s:
        probe_id = s.exec(text("SELECT id FROM probe WHERE name = 'pi-north'")).one()[0]
    r = admin.post(f"/admin/probes/{probe_id}/revoke", data={"csrf_token": csrf},
                   follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    body = admin.get("/api/probes").json()
    assert body["probes"][0]["state"] == "revoked"
    assert all(a["resolved_at"] is not None for a in body["alerts"])  # closed on revoke
    assert "probe.alert_closed" in _audit_actions(admin)
    assert "camaudit_probe_silent{" not in admin.get("/metrics").text


def test_the_server_notices_silence_without_anyone_reading_a_page(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, env="test", probe_silent_after_s=0.2,
                        probe_sweep_interval_s=0.05)  # fmt: skip
    from web.crud import create_probe, create_site
    from web.models import ProbeCreate, SiteCreate

    app = create_app(settings)
    with Session(app.state.engine) as s:
        site_id = create_site(s, SiteCreate(name="south"), "test").id
        assert site_id is not None
        _, token = create_probe(s, ProbeCreate(name="pi-south", site_id=site_id), "test")
    with TestClient(app, base_url="http://127.0.0.1") as client:  # runs the lifespan
        r = client.get("/api/jobs/next", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        deadline = time.monotonic() + 5
        while True:
            with Session(app.state.engine) as s:
                alert = s.exec(select(ProbeAlert)).first()
            if alert is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert alert is not None and alert.resolved_at is None
        assert alert.threshold_s == 0.2


def test_upgrade_starts_old_probes_from_their_last_scan(tmp_path: Path) -> None:
    engine = make_engine(Settings(data_dir=tmp_path))
    try:
        migrate.upgrade(engine, "0004")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO site (id, name, description, created_at) "
                              "VALUES (1, 'old', '', 1)"))  # fmt: skip
            conn.execute(
                text(
                    "INSERT INTO probe (name, site_id, token_hash, revoked, created_at, "
                    "last_seen_at) VALUES ('seen', 1, 'a', 0, 1, 1700000000), "
                    "('unseen', 1, 'b', 0, 1, NULL)"
                )
            )
        migrate.upgrade(engine)
        assert migrate.schema_diff(engine) == []
        with Session(engine) as s:
            rows = s.exec(select(ProbeStatus)).all()
        assert [(r.probe_id, r.last_contact) for r in rows] == [(1, 1700000000.0)]
    finally:
        engine.dispose()
