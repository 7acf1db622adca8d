"""Run simulated devices on loopback 127.0.1.0/24 (this suite's range) in the root namespace."""

from __future__ import annotations

import copy
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from camlab.generate import generate
from camlab.media import ensure_clip
from camlab.services import DeviceServer, start_glib_thread, stop_glib_thread
from camlab.spec import LabDevice

_addresses = itertools.count(20)
Start = Callable[..., Awaitable[tuple[LabDevice, str]]]


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("camlab-media")
    ensure_clip(run_dir)
    return run_dir


@pytest.fixture(scope="session")
def devices() -> list[LabDevice]:
    return generate(60, 2026)


def pick(devices: list[LabDevice], profile: str) -> LabDevice:
    """A fresh copy of the first device of ``profile`` with no quirks (tests add their own)."""
    dev = copy.deepcopy(next(d for d in devices if d.profile == profile))
    dev.quirks, dev.clock_skew_s = [], 0.0
    if dev.rtsp:
        dev.rtsp["engine"] = "gstreamer"
    return dev


@pytest.fixture
async def serve(media_dir: Path) -> AsyncIterator[Start]:
    """``await serve(device)`` -> (device, loopback ip); everything is stopped afterwards."""
    servers: list[DeviceServer] = []
    glib = False

    async def start(dev: LabDevice) -> tuple[LabDevice, str]:
        nonlocal glib
        if dev.rtsp and dev.rtsp.get("engine") == "gstreamer" and not glib:
            start_glib_thread()
            glib = True
        ip = f"127.0.1.{next(_addresses) % 230 + 20}"
        server = DeviceServer(dev, media_dir, bind_ip=ip)
        server.bind()
        servers.append(server)
        await server.start()
        return dev, ip

    yield start
    for server in servers:
        await server.stop()
    if glib:
        stop_glib_thread()
