"""Camera passwords never reach a log line or a report.

A scan with a credentials file against two loopback cameras (WS-Security digest and RTSP
Digest on one, RTSP Basic on the other) that really accept the password, every logger
at DEBUG; then every log record and every output format (JSON, HTML, SARIF, JUnit, CSV)
is searched for the password, its Basic-auth base64 form and its URL-encoded form.
(The dashboard's error pages and logs are covered by tests/web/test_web_security.py.)
"""

from __future__ import annotations

import asyncio
import base64
import copy
import logging
import threading
from pathlib import Path
from urllib.parse import quote

import pytest
from camlab.generate import generate
from camlab.media import ensure_clip
from camlab.services import DeviceServer, start_glib_thread, stop_glib_thread
from camlab.spec import LabDevice
from figures import report
from rich.console import Console

from auditor.cli.scan import build_options, perform_scan, write_outputs
from auditor.targets import parse_targets

PASSWORD = "Redact-Me-7q#Kx!"
USER = "auditor"
IPS = ("127.0.6.60", "127.0.6.61")


def _cameras() -> list[LabDevice]:
    devs = generate(30, 2026)
    hik = copy.deepcopy(next(d for d in devs if d.profile == "hikvision-ds2cd2"))
    axis = copy.deepcopy(next(d for d in devs if d.profile == "axis"))
    for dev in (hik, axis):
        dev.quirks, dev.clock_skew_s = [], 0.0
        dev.username, dev.password = USER, PASSWORD
        assert dev.rtsp is not None
        dev.rtsp["engine"] = "gstreamer"
    assert axis.rtsp is not None
    axis.rtsp["auth"] = "basic"
    return [hik, axis]


def test_no_camera_password_in_logs_or_reports(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every logger speaks at DEBUG and reaches caplog, whatever an earlier test (or the
    # CLI's own logging set-up) did to levels and propagation
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            monkeypatch.setattr(logger, "level", logging.NOTSET)
            monkeypatch.setattr(logger, "propagate", True)
            monkeypatch.setattr(logger, "disabled", False)
    logging.disable(logging.NOTSET)
    creds = tmp_path / "creds.toml"
    creds.write_text(
        f'[[credential]]\nusername = "{USER}"\npassword = "{PASSWORD}"\n', encoding="utf-8"
    )
    creds.chmod(0o600)
    media = tmp_path / "media"
    media.mkdir()
    ensure_clip(media)
    caplog.set_level(logging.DEBUG)
    opts = build_options(
        ports="80,554", timeout=2.0, concurrency=64, arp=False, multicast=False,
        vendor_udp=False, frame=True, all_frames=True, onvif=True, credentials=creds,
        warn=lambda _w: None,
    )  # fmt: skip

    # perform_scan runs its own event loop (asyncio.run): the cameras get a thread's loop
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    servers: list[DeviceServer] = []

    async def serve() -> None:
        for dev, ip in zip(_cameras(), IPS, strict=True):
            server = DeviceServer(dev, media, bind_ip=ip)
            server.bind()
            servers.append(server)
            await server.start()

    async def stop() -> None:
        for server in servers:
            await server.stop()

    start_glib_thread()
    try:
        asyncio.run_coroutine_threadsafe(serve(), loop).result(30)
        result = perform_scan(
            parse_targets(list(IPS)), options=opts, console=Console(quiet=True),
            progress_enabled=False,
        )  # fmt: skip
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        stop_glib_thread()

    rtsp = [o for o in result.observations if o.probe == "rtsp" and o.error is None]
    onvif = [o for o in result.observations if o.probe == "onvif"]
    # the password really was used and accepted, so there was something to leak
    assert rtsp and all(o.data.get("authenticated") for o in rtsp), [o.data for o in rtsp]
    assert any(o.data.get("credential_index") == 0 for o in onvif), [o.data for o in onvif]

    out = tmp_path / "out"
    paths = write_outputs(
        result, out / "scan.json", out / "scan.html", sarif_path=out / "scan.sarif",
        junit_path=out / "scan.xml", csv_path=out / "scan.csv",
    )  # fmt: skip
    forms = {
        "plain": PASSWORD,
        "basic": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
        "url": quote(PASSWORD, safe=""),
    }
    records = [r.getMessage() for r in caplog.records] + [str(r.args) for r in caplog.records]
    for name, form in forms.items():
        assert not any(form in text for text in records), name
        for path in paths:
            assert form not in path.read_text(encoding="utf-8"), (name, path.name)
    # logging reached caplog (zeep's WSDL load adds ~2000 DEBUG records when it happens
    # in this process, so the count depends on what ran before)
    assert any(r.name.startswith("probes.") for r in caplog.records)
    report(
        "redaction",
        {
            "log_records_checked": len(caplog.records),
            "outputs_checked": sorted(p.suffix for p in paths),
            "password_forms": sorted(forms),
            "authenticated_rtsp_streams": len(rtsp),
            "leaks": 0,
        },
    )
