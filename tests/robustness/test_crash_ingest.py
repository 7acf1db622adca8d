"""kill -9 of the dashboard during a stream of ingests, at several moments: the SQLite
database stays intact and re-sending every scan stores each exactly once.

`camaudit serve` runs as a subprocess on 127.0.0.1 with a temp data dir; four clients
post scans concurrently; the server is SIGKILLed ``KILLS`` times while they do and
restarted each time. (The probe side, outbox and SIGKILL of the probe, is covered by
tests/appliance/.)
"""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from figures import report
from sqlmodel import Session

from web.crud import create_probe, create_site
from web.db import open_db
from web.models import ProbeCreate, SiteCreate
from web.settings import Settings

KILLS = 4
SCANS = 120
CLIENTS = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scan(uid: str, i: int) -> dict[str, Any]:
    now = 1.7e9 + i
    return {
        "scan": {"id": uid, "targets": ["198.18.0.0/24"], "started": now, "finished": now + 2},
        "devices": [
            {"ip": f"198.18.0.{10 + n}", "mac": f"02:00:00:00:{i % 256:02x}:{n:02x}",
             "vendor": "Hikvision", "oem": "Hikvision", "model": "DS-2CD2143G0-I",
             "device_type": "camera", "services": [{"port": 80, "proto": "tcp", "name": "http"}],
             "findings": [{"rule": "CAM-EXP-HTTP-CLEARTEXT", "severity": "medium",
                           "title": "cleartext", "evidence": []}]}
            for n in range(3)
        ],
        "observations": [],
    }  # fmt: skip


class Server:
    def __init__(self, data_dir: Path, log: Path) -> None:
        self.data_dir, self.log, self.port = data_dir, log, _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "auditor.cli", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port), "--data-dir", str(self.data_dir)],
                stdout=out, stderr=subprocess.STDOUT,
                # one probe sending 120 scans at once: above the per-minute token limit,
                # which has its own test (tests/web/test_web_security.py)
                env={**os.environ, "CAMAUDIT_PROBE_RATE_PER_MINUTE": "100000"},
            )  # fmt: skip
        deadline = time.monotonic() + 60  # a loaded 2-core box starts slowly
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass  # not listening yet
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            time.sleep(0.05)
        raise AssertionError(f"server did not come up: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def test_kill_9_during_ingest_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    engine = open_db(Settings(data_dir=data, env="test"))
    with Session(engine) as s:
        site_id = create_site(s, SiteCreate(name="north"), "test").id
        assert site_id is not None
        _, token = create_probe(s, ProbeCreate(name="pi-north", site_id=site_id), "test")
    engine.dispose()
    headers = {"Authorization": f"Bearer {token}"}
    scans = [(str(uuid.uuid4()), i) for i in range(SCANS)]
    server = Server(data, tmp_path / "server.log")
    server.start()
    acked: set[str] = set()  # the server answered 200/201 for these
    in_flight_errors = 0
    lock = threading.Lock()
    todo = list(scans)

    def client() -> None:
        nonlocal in_flight_errors
        with httpx.Client(timeout=5) as c:
            while True:
                with lock:
                    if not todo:
                        return
                    uid, i = todo.pop()
                try:
                    r = c.post(f"{server.url}/api/ingest", json=_scan(uid, i), headers=headers)
                    if r.status_code in (200, 201):
                        with lock:
                            acked.add(uid)
                        continue
                except httpx.HTTPError:
                    with lock:
                        in_flight_errors += 1
                time.sleep(0.05)  # the server is down or restarting: try later
                with lock:
                    todo.insert(0, (uid, i))

    rng = random.Random(10)
    try:
        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        for _ in range(KILLS):
            target = len(acked) + rng.randint(3, SCANS // (KILLS + 2))
            deadline = time.monotonic() + 60
            while len(acked) < min(target, SCANS) and time.monotonic() < deadline:
                time.sleep(0.002)
            server.kill()  # with requests in flight
            time.sleep(0.2)
            server.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads)

        db = data / "camaudit.db"
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            stored = [row[0] for row in conn.execute("SELECT scan_uid FROM scan")]
        # every scan acknowledged is stored exactly once ...
        assert len(stored) == len(set(stored)), "a scan was stored twice"
        assert acked <= set(stored)
        # ... and re-sending everything (a probe that never saw its answers) adds nothing
        with httpx.Client(timeout=10) as c:
            answers = [
                c.post(f"{server.url}/api/ingest", json=_scan(uid, i), headers=headers)
                for uid, i in scans
            ]
        assert all(r.status_code in (200, 201) for r in answers), {r.status_code for r in answers}
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            final = [row[0] for row in conn.execute("SELECT scan_uid FROM scan")]
        assert sorted(final) == sorted(uid for uid, _ in scans)
        duplicates_refused = sum(r.status_code == 200 for r in answers)
    finally:
        server.stop()
    report(
        "crash_ingest",
        {
            "kill_9": KILLS,
            "scans": SCANS,
            "clients": CLIENTS,
            "requests_failed_while_down": in_flight_errors,
            "stored_but_answer_lost": len(set(stored) - acked),
            "integrity_check": "ok",
            "stored_once": len(final),
            "resent_already_stored": duplicates_refused,
            "lost": SCANS - len(set(final)),
        },
    )
