"""Opt-in default-credential check: attempt limits, lockout stop, no password stored.

Runs against a real simulated camera (``camlab.services.DeviceServer``) and a small
lockout-prone HTTP device, both on loopback 127.0.5.x.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from camlab.generate import LAB_PASSWORD, generate
from camlab.services import DeviceServer

from auditor.defaultcreds import MAX_ATTEMPTS, DefaultCredential, candidates, load_defaults
from auditor.model import Observation
from probes.defaultcreds import check_default_creds
from probes.http import grab
from probes.onvif import probe_onvif


def test_candidates_follow_the_maker_and_are_capped() -> None:
    assert [c.id for c in candidates("Hikvision", "Annke")] == ["hikvision-admin-12345"]
    assert [c.id for c in candidates("Dahua", "Amcrest")] == ["dahua-admin-admin"]
    assert candidates(None, None) == [] and candidates("Nobody", None) == []
    assert len(candidates("Hikvision", None, limit=99)) <= MAX_ATTEMPTS
    assert all(e.note for e in load_defaults())  # every entry says where it comes from


@pytest.fixture
async def lab_hik() -> AsyncIterator[tuple[str, DeviceServer]]:
    dev = copy.deepcopy(next(d for d in generate(20, 7) if d.profile == "hikvision-ds2cd2"))
    dev.quirks, dev.clock_skew_s, dev.rtsp = [], 0.0, None
    server = DeviceServer(dev, Path("/nonexistent"), bind_ip="127.0.5.10")
    server.bind()
    await server.start()
    try:
        yield "127.0.5.10", server
    finally:
        await server.stop()


@pytest.mark.parametrize(("password", "accepted"), [("12345", True), (LAB_PASSWORD, False)])
async def test_onvif_default_password_on_a_lab_camera(
    lab_hik: tuple[str, DeviceServer], password: str, accepted: bool
) -> None:
    ip, server = lab_hik
    server.device.password = password
    port = int(server.device.http.get("port", 80))
    seen = await probe_onvif(ip, port, xaddr=None, timeout=3.0, credentials=[])
    assert seen.data["auth"] == "required"
    banner = await grab(ip, port, timeout=3.0)  # names the maker: App-webs/, realm
    got = await check_default_creds(ip, [seen, banner], timeout=3.0)
    assert got.data["accepted"] is accepted
    assert got.data["via"] == "onvif" and got.data["attempts"] == 1
    assert got.data["tried"] == ["hikvision-admin-12345"]
    assert "12345" not in json.dumps(got.to_dict()).replace("hikvision-admin-12345", "")
    if accepted:
        assert got.data["user"] == "admin" and got.data["entry"] == "hikvision-admin-12345"


def _hik_obs(ip: str, port: int) -> list[Observation]:
    http = Observation(
        "http",
        ip,
        {
            "scheme": "http",
            "status": 401,
            "first_status": 401,
            "server": "App-webs/",
            "auth_schemes": ["digest"],
            "realm": "IP Camera(AB123)",
            "paths": {},
        },
        port=port,
    )
    return [http]


class _LockingDevice:
    """HTTP Digest device that counts attempts and locks the account after ``lock_after``."""

    def __init__(self, lock_after: int, status: int = 401) -> None:
        self.attempts = 0
        self.lock_after = lock_after
        self.status = status

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if b"authorization:" in head.lower():
            self.attempts += 1
        if self.attempts > self.lock_after:
            body = (
                b"<userCheck><statusValue>401</statusValue><lockStatus>lock</lockStatus>"
                b"<statusString>userLocked</statusString></userCheck>"
            )
            status = self.status
        else:
            body, status = b"Unauthorized", 401
        reason = {401: "Unauthorized", 423: "Locked", 429: "Too Many Requests"}[status]
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\n"
            'WWW-Authenticate: Digest realm="IP Camera(AB123)", nonce="abc", qop="auth"\r\n'
            "Connection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()


@pytest.mark.parametrize("status", [401, 423, 429])
async def test_http_check_stops_at_lockout(status: int) -> None:
    fake = _LockingDevice(lock_after=0, status=status)
    server = await asyncio.start_server(fake.handle, "127.0.5.11", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        got = await check_default_creds("127.0.5.11", _hik_obs("127.0.5.11", port), timeout=2.0)
    finally:
        server.close()
        await server.wait_closed()
    assert got.data["via"] == "http" and not got.data["accepted"]
    assert got.data["stopped"].startswith("lockout")
    assert fake.attempts == 1


async def test_never_more_than_three_attempts() -> None:
    calls: list[str] = []

    async def refuse(entry: DefaultCredential) -> str:
        calls.append(entry.id)
        return "auth"

    dahua = Observation(
        "onvif",
        "127.0.5.12",
        {
            "auth": "required",
            "device_info": {
                "manufacturer": "Dahua",
                "model": "IPC-HFW2431S",
                "firmware": None,
                "serial": None,
                "hardware_id": None,
            },
        },
        port=80,
    )
    got = await check_default_creds("127.0.5.12", [dahua], attempt=refuse, max_attempts=50)
    assert len(calls) == got.data["attempts"] <= MAX_ATTEMPTS
    assert not got.data["accepted"] and got.data["stopped"] is None
