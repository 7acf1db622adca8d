"""The probe daemon against the real dashboard (uvicorn on loopback): outages, lost
answers, refused tokens and rejected scans lose nothing and store nothing twice; jobs
are pulled, run, refused when out of bounds, and reported.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from appliance_env import FakeCamera, LiveServer, LossyProxy, make_scan
from sqlmodel import Session, select

from auditor.cli.probe_agent import make_scanner
from auditor.errors import ConfigError
from auditor.targets import Targets
from probes.agent.config import ProbeConfig, load_config
from probes.agent.daemon import Agent
from web.crud import probe_by_name, revoke_probe
from web.db import open_db
from web.jobs import create_schedule
from web.models import Job, ScheduleCreate
from web.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.t = time.time()

    def __call__(self) -> float:
        return self.t


def _due_once_spec() -> str:
    """A daily spec whose fire time was an hour ago: due now and not again for 23 hours.
    (@hourly fired a second job when a run crossed the top of the hour.)"""
    t = time.gmtime(time.time() - 3600)
    return f"{t.tm_min} {t.tm_hour} * * *"


def _config(tmp_path: Path, server: str | None, token: str | None, **extra: Any) -> ProbeConfig:
    lines = [
        'name = "pi-north"',
        'site = "north"',
        'allowed_targets = ["127.0.0.1/32"]',
        f'data_dir = "{tmp_path / "probe"}"',
        "poll_interval = 5",
        "max_backoff = 30",
    ]
    if server:
        lines.append(f'server = "{server}"')
    if token:
        (tmp_path / "token").write_text(token + "\n")
        (tmp_path / "token").chmod(0o600)
        lines.append(f'token_file = "{tmp_path / "token"}"')
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in extra.items()]
    path = tmp_path / "probe.toml"
    path.write_text("\n".join(lines) + "\n")
    return load_config(path, env={})


@pytest.fixture(autouse=True)
def _close_agents(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Close every Agent a test made (their HTTP connections) when the test ends."""
    made: list[Agent] = []
    orig = Agent.__init__

    def init(self: Agent, *a: Any, **kw: Any) -> None:
        orig(self, *a, **kw)
        made.append(self)

    monkeypatch.setattr(Agent, "__init__", init)
    yield
    for agent in made:
        agent.close()


def _no_scan(_t: Targets, _o: dict[str, Any]) -> dict[str, Any]:
    raise AssertionError("these tests deliver saved scans; nothing is scanned")


def _drain(agent: Agent, clock: Clock, limit: int = 30) -> None:
    """Flush, jumping the clock past each backoff, until the outbox is empty."""
    for _ in range(limit):
        agent.flush()
        if not len(agent.outbox):
            return
        clock.t = max(clock.t, agent.next_send) + 0.01
    raise AssertionError(f"outbox not empty after {limit} tries: {agent.last_error}")


def test_outage_then_recovery_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, server: LiveServer
) -> None:
    clock = Clock()
    cfg = _config(tmp_path, server.url, server.token)
    agent = Agent(cfg, _no_scan, clock=clock)
    sent = [make_scan() for _ in range(4)]
    server.stop()  # the server goes away before anything is sent
    for scan in sent:
        agent.save(scan, None)
    assert agent.flush() == 0
    assert len(agent.outbox) == 4 and "cannot reach" in (agent.last_error or "")
    assert agent.health()["X-Camaudit-Outbox-Depth"] == "4"
    first_wait = agent.next_send - clock.t
    assert 0.5 <= first_wait <= 1.0
    clock.t += first_wait / 2
    assert agent.flush() == 0  # still backing off: no request before the delay
    clock.t = agent.next_send
    agent.flush()
    assert agent.next_send - clock.t > first_wait / 2  # the second wait is longer (1-2 s)

    # The probe restarts while the server is still down: the files are still there.
    agent = Agent(cfg, _no_scan, clock=clock)
    assert len(agent.outbox) == 4
    server.start()
    _drain(agent, clock)
    assert sorted(server.scan_uids()) == sorted(s["scan"]["id"] for s in sent)
    assert agent.last_error is None and agent.send_backoff.failures == 0


def test_lost_answers_are_resent_and_stored_once(tmp_path: Path, server: LiveServer) -> None:
    proxy = LossyProxy(server.url, drop=3)  # the server stores, the probe never hears
    try:
        clock = Clock()
        agent = Agent(_config(tmp_path, proxy.url, server.token), _no_scan, clock=clock)
        ids = [agent.save(make_scan(), None) for _ in range(3)]
        _drain(agent, clock)
        posts = [f for f in proxy.forwarded if f.startswith("POST /api/ingest")]
        assert len(posts) == 6, proxy.forwarded  # each scan stored, answer lost, resent
        assert sorted(server.scan_uids()) == sorted(i.scan_id for i in ids if i)
    finally:
        proxy.stop()


def test_revoked_token_keeps_results_and_says_so(
    tmp_path: Path, server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    engine = open_db(Settings(data_dir=server.data_dir, env="test"))
    with Session(engine) as s:
        revoke_probe(s, probe_by_name(s, server.probe), "test")
    engine.dispose()
    agent = Agent(_config(tmp_path, server.url, server.token), _no_scan)
    agent.save(make_scan("kept-1"), None)
    with caplog.at_level(logging.ERROR):
        assert agent.flush() == 0
    assert "refused this probe's token" in caplog.text and "stay in the outbox" in caplog.text
    assert [i.scan_id for i in agent.outbox] == ["kept-1"]
    assert server.scan_count() == 0


def test_wrong_server_url_gives_a_clear_error(tmp_path: Path, camera: FakeCamera) -> None:
    with pytest.raises(ConfigError, match="must be an http:// or https:// URL"):
        _config(tmp_path, "ftp://camaudit.example", "cat_x")
    with pytest.raises(ConfigError, match="no token"):
        _config(tmp_path, "http://127.0.0.1:9", None)
    # A web server that is not camaudit (here: the camera's own page).
    agent = Agent(_config(tmp_path, f"http://127.0.0.1:{camera.port}", "cat_x"), _no_scan)
    agent.save(make_scan("kept-2"), None)
    assert agent.flush() == 0
    assert "answered 501" in (agent.last_error or "")
    assert len(agent.outbox) == 1


def test_rejected_scan_is_set_aside_and_the_rest_delivered(
    tmp_path: Path, server: LiveServer
) -> None:
    agent = Agent(_config(tmp_path, server.url, server.token), _no_scan)
    bad = make_scan("bad-severity")
    bad["devices"][0]["services"][0]["port"] = 70000  # the server's schema refuses it
    agent.save(bad, None)
    agent.save(make_scan("good"), None)
    assert agent.flush() == 1
    assert server.scan_uids() == ["good"]
    assert [p.name for p in agent.outbox.quarantined()] == ["000000000001-bad-severity.json"]
    assert agent.health()["X-Camaudit-Quarantined"] == "1"


def _schedule(server: LiveServer, name: str, targets: list[str], options: dict[str, Any]) -> None:
    engine = open_db(Settings(data_dir=server.data_dir, env="test"))
    with Session(engine) as s:
        site = probe_by_name(s, server.probe).site_id
        data = ScheduleCreate(
            name=name, spec=_due_once_spec(), targets=targets, options=options, site_id=site
        )
        # Created "two hours ago", so it is due now.
        create_schedule(s, data, "test", now=time.time() - 7200)
    engine.dispose()


def _jobs(server: LiveServer) -> list[Job]:
    engine = open_db(Settings(data_dir=server.data_dir, env="test"))
    with Session(engine) as s:
        rows = list(s.exec(select(Job).order_by(Job.id)).all())  # type: ignore[arg-type]
    engine.dispose()
    return rows


def test_pulled_job_is_scanned_delivered_and_reported(
    tmp_path: Path, server: LiveServer, camera: FakeCamera
) -> None:
    opts = {"ports": str(camera.port), "arp": False, "multicast": False, "frame": False,
            "onvif": False, "timeout": 1.0, "fail_on": "high"}  # fmt: skip
    _schedule(server, "camera", ["127.0.0.1"], opts)
    _schedule(server, "elsewhere", ["198.18.201.0/24"], opts)  # outside allowed_targets
    cfg = _config(tmp_path, server.url, server.token)
    agent = Agent(cfg, make_scanner(cfg))
    agent.run(threading.Event(), once=True)
    jobs = {j.schedule_id: j for j in _jobs(server)}
    assert len(jobs) == 2
    done, refused = sorted(jobs.values(), key=lambda j: j.status)
    assert done.status == "done" and done.scan_id is not None
    assert refused.status == "failed" and refused.scan_id is None
    assert "outside this probe's allowed ranges" in (refused.error or "")
    assert server.scan_count() == 1 and not len(agent.outbox)
    # The done job is not handed out again (a restarted probe finds no work).
    again = Agent(cfg, _fail_if_called)
    again.pull()
    assert again.pending == {} and not again.no_jobs_api


def test_restart_after_ingest_owes_only_the_job_report(
    tmp_path: Path, server: LiveServer, camera: FakeCamera
) -> None:
    opts = {"ports": str(camera.port), "arp": False, "multicast": False, "frame": False,
            "onvif": False, "timeout": 1.0}  # fmt: skip
    _schedule(server, "camera", ["127.0.0.1"], opts)
    cfg = _config(tmp_path, server.url, server.token)
    real = make_scanner(cfg)
    agent = Agent(cfg, real)
    agent.pull()
    (job,) = agent.pending.values()
    item = agent.run_job(job)
    assert item is not None
    # The scan reaches the server but the probe dies before it reports the job.
    ack = agent.client.ingest(item.body())  # type: ignore[union-attr]
    agent.outbox.mark_ingested(item, ack["scan_id"])
    restarted = Agent(cfg, _fail_if_called)
    restarted.run(threading.Event(), once=True)  # pulls the same job: must not rescan
    (stored,) = _jobs(server)
    assert stored.status == "done" and stored.scan_id == ack["scan_id"]
    assert server.scan_count() == 1 and not len(restarted.outbox)


def _fail_if_called(_t: Targets, _o: dict[str, Any]) -> dict[str, Any]:
    raise AssertionError("a job whose result is in the outbox must not be scanned again")
