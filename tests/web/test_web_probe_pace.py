"""Each probe's own silence threshold: the poll interval and schedule period a probe
reports (X-Camaudit-Poll-Interval, X-Camaudit-Schedule-Period) are shown on /probes and
/api/probes, and the server waits max(CAMAUDIT_PROBE_SILENT_AFTER_S, 3 x the probe's
poll interval) before it calls the probe silent."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, select
from webenv import Env

from web import migrate
from web.db import make_engine
from web.models import ProbeAlert, ProbeStatus
from web.probe_health import probe_health, silent_after, sweep
from web.settings import Settings

SILENT_AFTER = 1.0  # the server-wide threshold here: the real clock runs past it


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", env="test", probe_silent_after_s=SILENT_AFTER,
                    probe_sweep_interval_s=0)  # fmt: skip


def _pull(env: Env, **headers: str) -> None:
    r = env.client().get(
        "/api/jobs/next", headers={"Authorization": f"Bearer {env.token}", **headers}
    )
    assert r.status_code == 200, r.text


def _row(client: TestClient) -> dict[str, object]:
    body = client.get("/api/probes").json()
    row: dict[str, object] = next(p for p in body["probes"] if p["name"] == "pi-north")
    return row


def test_threshold_is_the_default_or_three_polls_whichever_is_longer() -> None:
    assert silent_after(7200, None) == 7200  # an older probe reports no interval
    assert silent_after(7200, 60) == 7200
    assert silent_after(300, 600) == 1800  # polls every 10 min: not silent after 5
    assert silent_after(7200, 3600) == 10800


def test_a_probe_polling_slower_than_the_default_is_not_called_silent(env: Env) -> None:
    auditor, _ = env.login("auditor")
    assert _row(auditor)["silent_after_s"] == SILENT_AFTER  # never contacted: the default
    _pull(env, **{"X-Camaudit-Poll-Interval": "2", "X-Camaudit-Schedule-Period": "86400"})
    time.sleep(SILENT_AFTER + 0.2)  # past the server-wide threshold, well within 3 polls
    row = _row(auditor)
    assert row["state"] == "ok", row
    assert (row["poll_interval_s"], row["schedule_period_s"]) == (2.0, 86400.0)
    assert row["silent_after_s"] == 6.0
    body = auditor.get("/api/probes").json()
    assert body["silent_after_s"] == SILENT_AFTER and body["alerts"] == []
    page = auditor.get("/probes").text
    assert "Polls every" in page and "schedule 24.0 h" in page

    # Three polls missed: silent, and the alert records the threshold it was raised at.
    assert isinstance(row["last_contact"], float)
    late = row["last_contact"] + 6.1
    with env.session() as s:
        (alert,) = sweep(s, env.settings, now=late)
        assert alert.threshold_s == 6.0
        assert probe_health(s, env.settings, now=late)[0].state == "silent"


def test_the_next_contact_sets_the_pace_again(env: Env) -> None:
    """Health is the probe's current state: a probe that stops reporting its interval
    (downgraded, or reconfigured) is back on the server-wide threshold."""
    auditor, _ = env.login("auditor")
    _pull(env, **{"X-Camaudit-Poll-Interval": "600"})
    assert _row(auditor)["silent_after_s"] == 1800
    _pull(env)
    row = _row(auditor)
    assert (row["poll_interval_s"], row["schedule_period_s"]) == (None, None)
    assert row["silent_after_s"] == SILENT_AFTER


@pytest.mark.parametrize(
    "value", ["0", "-60", "1e9", "nan", "inf", "60s", "", "604801", "99999999", "1.23456"]
)
def test_a_bad_interval_is_refused_and_the_default_applies(env: Env, value: str) -> None:
    auditor, _ = env.login("auditor")
    _pull(env, **{"X-Camaudit-Poll-Interval": value, "X-Camaudit-Schedule-Period": value})
    row = _row(auditor)
    assert isinstance(row["last_contact"], float)  # the contact itself counts...
    with env.session() as s:  # ...and is judged on the default threshold (not the clock)
        assert probe_health(s, env.settings, now=row["last_contact"])[0].state == "ok"
        late = row["last_contact"] + SILENT_AFTER + 0.1
        assert probe_health(s, env.settings, now=late)[0].state == "silent"
    assert (row["poll_interval_s"], row["schedule_period_s"]) == (None, None)
    assert row["silent_after_s"] == SILENT_AFTER


def test_a_week_is_the_longest_interval_taken(env: Env) -> None:
    auditor, _ = env.login("auditor")
    _pull(env, **{"X-Camaudit-Poll-Interval": "604800"})
    assert _row(auditor)["silent_after_s"] == 3 * 604800


def test_upgrade_keeps_probe_status_and_old_probes_get_the_default(tmp_path: Path) -> None:
    engine = make_engine(Settings(data_dir=tmp_path))
    try:
        migrate.upgrade(engine, "0005")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO site (id, name, description, created_at) "
                              "VALUES (1, 'old', '', 1)"))  # fmt: skip
            conn.execute(text("INSERT INTO probe (id, name, site_id, token_hash, revoked, "
                              "created_at) VALUES (1, 'p', 1, 'a', 0, 1)"))  # fmt: skip
            conn.execute(text("INSERT INTO probestatus (probe_id, last_contact, version) "
                              "VALUES (1, 1700000000, '0.1.0')"))  # fmt: skip
        migrate.upgrade(engine)
        assert migrate.schema_diff(engine) == []
        settings = Settings(data_dir=tmp_path, probe_silent_after_s=7200)
        with Session(engine) as s:
            (status,) = s.exec(select(ProbeStatus)).all()
            assert (status.version, status.poll_interval_s, status.schedule_period_s) == (
                "0.1.0", None, None
            )  # fmt: skip
            assert probe_health(s, settings, now=1700000000 + 7201)[0].state == "silent"
            assert s.exec(select(ProbeAlert)).all() == []
        migrate.upgrade(engine, "0005")  # and back down: the columns go, the rows stay
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version FROM probestatus")).scalar_one() == "0.1.0"
    finally:
        engine.dispose()
