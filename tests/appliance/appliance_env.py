"""Helpers for the appliance tests: a real server, a loopback camera, a lossy proxy."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from web.app import create_app
from web.crud import create_probe, create_site
from web.db import open_db
from web.models import ProbeCreate, Scan, SiteCreate
from web.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, limit: float = 15.0) -> None:
    deadline = time.monotonic() + limit
    while True:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {limit} s")
        time.sleep(0.05)


@dataclass
class LiveServer:
    """The real dashboard (uvicorn) on 127.0.0.1; ``restart`` keeps the port and data."""

    data_dir: Path
    port: int
    token: str = ""
    probe: str = "pi-north"
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _engine: Engine | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        app = create_app(Settings(data_dir=self.data_dir, env="test"))
        self._engine = app.state.engine
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        wait_http(f"{self.url}/healthz")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._engine is not None:
            self._engine.dispose()
        self._server = self._thread = self._engine = None

    def scan_uids(self) -> list[str]:
        """Every scan id stored, with repeats if any (there must be none)."""
        engine = open_db(Settings(data_dir=self.data_dir, env="test"))
        try:
            with Session(engine) as s:
                return [r for r in s.exec(select(Scan.scan_uid)).all()]
        finally:
            engine.dispose()

    def scan_count(self) -> int:
        engine = open_db(Settings(data_dir=self.data_dir, env="test"))
        try:
            with Session(engine) as s:
                return int(s.exec(select(func.count()).select_from(Scan)).one())
        finally:
            engine.dispose()


def register_probe(data_dir: Path, site: str = "north", probe: str = "pi-north") -> str:
    """Create a site and a probe in the server's database; return the probe token."""
    engine = open_db(Settings(data_dir=data_dir, env="test"))
    try:
        with Session(engine) as s:
            site_id = create_site(s, SiteCreate(name=site), "test").id
            assert site_id is not None
            _, token = create_probe(s, ProbeCreate(name=probe, site_id=site_id), "test")
    finally:
        engine.dispose()
    return token


def start_server(data_dir: Path, port: int | None = None) -> LiveServer:
    token = register_probe(data_dir)
    srv = LiveServer(data_dir=data_dir, port=port or free_port(), token=token)
    srv.start()
    return srv


def make_scan(uid: str | None = None, devices: int = 2) -> dict[str, Any]:
    """A scan JSON in the ``--json`` shape (what the outbox stores and ingest takes)."""
    now = time.time()
    return {
        "scan": {
            "id": uid or str(uuid.uuid4()),
            "targets": ["198.18.201.0/24"],
            "started": now - 1,
            "finished": now,
            "camaudit_version": "0.1.0",
            "stats": {"devices": devices},
        },
        "devices": [
            {
                "ip": f"198.18.201.{10 + i}",
                "mac": f"02:00:00:00:00:{10 + i:02x}",
                "vendor": "Hikvision",
                "oem": "Hikvision",
                "device_type": "camera",
                "services": [{"port": 80, "proto": "tcp", "name": "http", "banner": "App-webs/"}],
                "findings": [],
            }
            for i in range(devices)
        ],
        "observations": [
            {"probe": "portscan", "ip": f"198.18.201.{10 + i}", "port": 80, "data": {}, "at": now}
            for i in range(devices)
        ],
    }


class _CameraHandler(BaseHTTPRequestHandler):
    # Headers in the shape KNOWLEDGE.md records for a Hikvision web server.
    server_version = "App-webs/"
    sys_version = ""

    def do_GET(self) -> None:
        body = b"<html><head><title>Hikvision</title></head><body>login</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # stdlib's parameter name
        return


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # the port scan connects and resets: expected, not worth a traceback


class FakeCamera:
    """An HTTP server on 127.0.0.1 that answers like a camera's web page."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.httpd = _QuietServer((host, 0), _CameraHandler)
        self.host, self.port = host, int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class LossyProxy:
    """Forwards HTTP to a real server but, for the first ``drop`` requests, hangs up
    after the server answered: the server stored the scan, the probe never heard so.
    """

    target: str
    drop: int
    forwarded: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _relay(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "content-length", "connection")
                }
                r = httpx.request(
                    self.command, proxy.target + self.path, content=body, headers=headers
                )
                proxy.forwarded.append(f"{self.command} {self.path} {r.status_code}")
                if proxy.drop > 0:
                    proxy.drop -= 1
                    self.close_connection = True
                    return  # no status line at all: the answer is lost
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            do_GET = do_POST = _relay

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
