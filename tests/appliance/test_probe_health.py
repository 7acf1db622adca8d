"""The real probe daemon reports its health to the real dashboard (uvicorn on loopback):
version, outbox depth, quarantined files and its last error reach the probes page data."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from appliance_env import LiveServer, make_scan
from sqlmodel import Session

from auditor import __version__
from auditor.targets import Targets
from probes.agent.config import load_config
from probes.agent.daemon import Agent
from web.db import open_db
from web.probe_health import ProbeHealth, probe_health
from web.settings import Settings


def _no_scan(_t: Targets, _o: dict[str, Any]) -> dict[str, Any]:
    raise AssertionError("nothing is scanned here")


def _health(server: LiveServer) -> ProbeHealth:
    settings = Settings(data_dir=server.data_dir, env="test")
    engine = open_db(settings)
    try:
        with Session(engine) as s:
            return next(p for p in probe_health(s, settings) if p.name == server.probe)
    finally:
        engine.dispose()


class Clock:
    def __init__(self) -> None:
        self.t = time.time()

    def __call__(self) -> float:
        return self.t


def test_probe_health_reaches_the_dashboard(tmp_path: Path, server: LiveServer) -> None:
    (tmp_path / "token").write_text(server.token + "\n")
    (tmp_path / "token").chmod(0o600)
    cfg_file = tmp_path / "probe.toml"
    cfg_file.write_text(
        f'name = "pi-north"\nsite = "north"\nallowed_targets = ["127.0.0.1/32"]\n'
        f'data_dir = "{tmp_path / "probe"}"\nserver = "{server.url}"\n'
        f'token_file = "{tmp_path / "token"}"\npoll_interval = 5\n'
    )
    clock = Clock()
    with Agent(load_config(cfg_file, env={}), _no_scan, clock=clock) as agent:
        assert _health(server).state == "never"
        bad = make_scan("refused")
        bad["devices"][0]["services"][0]["port"] = 70000  # the server's schema refuses it
        agent.save(bad, None)
        agent.save(make_scan("good"), None)
        assert agent.flush() == 1
        h = _health(server)
        assert (h.state, h.version, h.quarantined) == ("ok", __version__, 1)
        assert h.address == "127.0.0.1"

        server.stop()  # the server goes away; a result waits in the outbox
        agent.save(make_scan("waiting"), None)
        assert agent.flush() == 0
        server.start()
        clock.t += 10  # past the poll interval: the next pull carries the news
        agent.pull()
        h = _health(server)
        assert h.outbox_depth == 1
        assert h.last_error is not None and "cannot reach" in h.last_error
