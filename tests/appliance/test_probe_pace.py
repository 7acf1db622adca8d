"""A probe's own pace sets when it counts as silent: the real daemon reports its poll
interval and schedule period to the real dashboard (uvicorn on loopback), and the server
waits for three missed polls, or its server-wide threshold when that is longer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from appliance_env import LiveServer
from sqlmodel import Session

from auditor.targets import Targets
from probes.agent.config import load_config
from probes.agent.daemon import Agent
from web.db import open_db
from web.probe_health import parse_health, probe_health, sweep
from web.settings import Settings

DEFAULT_SILENT_AFTER = 7200.0  # the server's default, CAMAUDIT_PROBE_SILENT_AFTER_S


def _no_scan(_t: Targets, _o: dict[str, Any]) -> dict[str, Any]:
    raise AssertionError("nothing is scanned here")


def _agent(tmp_path: Path, server: LiveServer, poll_interval: float) -> Agent:
    (tmp_path / "token").write_text(server.token + "\n")
    (tmp_path / "token").chmod(0o600)
    cfg_file = tmp_path / "probe.toml"
    cfg_file.write_text(
        f'name = "pi-north"\nsite = "north"\nallowed_targets = ["127.0.0.1/32"]\n'
        f'data_dir = "{tmp_path / "probe"}"\nserver = "{server.url}"\n'
        f'token_file = "{tmp_path / "token"}"\npoll_interval = {poll_interval}\n'
        # Local schedules: the shortest one is the period the probe reports.
        '[[schedule]]\nname = "nightly"\ntargets = ["127.0.0.1"]\nevery = 86400\n'
        '[[schedule]]\nname = "hourly"\ntargets = ["127.0.0.1"]\nevery = 3600.5\n'
    )
    return Agent(load_config(cfg_file, env={}), _no_scan)


def test_the_daemon_reports_its_pace_in_the_documented_form(
    tmp_path: Path, server: LiveServer
) -> None:
    with _agent(tmp_path, server, poll_interval=600) as agent:
        headers = agent.health()
    assert headers["X-Camaudit-Poll-Interval"] == "600"
    assert headers["X-Camaudit-Schedule-Period"] == "3600.5"
    health = parse_health({k.lower(): v for k, v in headers.items()})
    assert (health.poll_interval_s, health.schedule_period_s, health.invalid) == (
        600.0, 3600.5, ()
    )  # fmt: skip


def test_a_slow_polling_probe_is_silent_after_three_missed_polls(
    tmp_path: Path, server: LiveServer
) -> None:
    """Polling hourly, the probe is still fine past the server's 2 h default; it is
    silent only when a third poll is overdue (3 h)."""
    with _agent(tmp_path, server, poll_interval=3600) as agent:
        agent.pull()  # one real request: GET /api/jobs/next with the health headers
        assert agent.last_error is None
    settings = Settings(data_dir=server.data_dir, env="test")
    assert settings.probe_silent_after_s == DEFAULT_SILENT_AFTER
    engine = open_db(settings)
    try:
        with Session(engine) as s:
            (row,) = probe_health(s, settings)
            assert (row.poll_interval_s, row.schedule_period_s) == (3600.0, 3600.5)
            assert row.silent_after_s == 3 * 3600.0
            assert row.last_contact is not None
            seen = row.last_contact

            later = seen + DEFAULT_SILENT_AFTER + 60  # past the default: not silent yet
            assert sweep(s, settings, now=later) == []
            assert probe_health(s, settings, now=later)[0].state == "ok"

            late = seen + 3 * 3600 + 1  # three polls missed
            (alert,) = sweep(s, settings, now=late)
            assert (alert.since, alert.threshold_s) == (seen, 3 * 3600.0)
            row = probe_health(s, settings, now=late)[0]
            assert row.state == "silent" and row.silent_for_s == 3 * 3600 + 1
    finally:
        engine.dispose()


def test_a_fast_polling_probe_keeps_the_server_wide_threshold(
    tmp_path: Path, server: LiveServer
) -> None:
    with _agent(tmp_path, server, poll_interval=60) as agent:
        agent.pull()
    settings = Settings(data_dir=server.data_dir, env="test")
    engine = open_db(settings)
    try:
        with Session(engine) as s:
            (row,) = probe_health(s, settings)
            assert row.poll_interval_s == 60.0 and row.silent_after_s == DEFAULT_SILENT_AFTER
            assert row.last_contact is not None
            (alert,) = sweep(s, settings, now=row.last_contact + DEFAULT_SILENT_AFTER + 1)
            assert alert.threshold_s == DEFAULT_SILENT_AFTER
    finally:
        engine.dispose()
