"""probes.ssdp against recorded SSDP replies and descriptions served on 127.0.4.x.

The replies and description were recorded from the simulated lab's Xiongmai camera with
UPnP on (``camlab-...`` fixtures); ``$ip`` stands for the address they are served on.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import cast

from aiohttp import web

from probes.ssdp import MAX_DESCRIPTION, SSDP_PORT, parse_reply, probe_ssdp, same_host_url

FIX = Path(__file__).resolve().parents[1] / "fixtures"
DEV = "camlab-xiongmai-generic-v5.00.r02"


def _replies(ip: str, location_ip: str | None = None) -> list[bytes]:
    raw = (FIX / "ssdp" / f"{DEV}-msearch.txt").read_bytes().replace(b"$ip", ip.encode())
    if location_ip:
        raw = raw.replace(f"http://{ip}:".encode(), f"http://{location_ip}:".encode())
    return [r for r in raw.split(b"\x00") if r.strip()]


class _Responder(asyncio.DatagramProtocol):
    def __init__(self, replies: list[bytes]) -> None:
        self.replies = replies
        self.searches: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.searches.append(data)
        for r in self.replies:
            assert self.transport is not None
            self.transport.sendto(r, addr)


@asynccontextmanager
async def _device(
    ip: str, replies: list[bytes], page: bytes | None
) -> AsyncIterator[tuple[_Responder, list[str]]]:
    """A UDP 1900 responder and an HTTP server on port 80 of ``ip`` (page at any path)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((ip, SSDP_PORT))
    transport, proto = await loop.create_datagram_endpoint(lambda: _Responder(replies), sock=sock)
    hits: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=page or b"", content_type="text/xml")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    await web.TCPSite(runner, ip, 80).start()
    try:
        yield proto, hits
    finally:
        transport.close()
        await runner.cleanup()


def _desc() -> bytes:
    return (FIX / "ssdp" / f"{DEV}-device.xml").read_bytes()


async def test_reply_and_same_host_description() -> None:
    ip = "127.0.4.10"
    async with _device(ip, _replies(ip), _desc()) as (proto, hits):
        (obs,) = await probe_ssdp(ip, timeout=2.0)
    assert (
        b'MAN: "ssdp:discover"' in proto.searches[0]
        and f"HOST: {ip}:1900".encode() in (proto.searches[0])
    )
    d = obs.data
    assert len(d["responses"]) == 3 and "upnp:rootdevice" in d["search_targets"]
    assert d["description"]["serial"] == "a7cc5a5791e24619" and hits == ["/upnp/device.xml"]
    assert d["description"]["manufacturer"] == "Generic"


async def test_location_on_another_host_is_never_fetched() -> None:
    ip, other = "127.0.4.11", "127.0.4.12"
    async with (
        _device(ip, _replies(ip, location_ip=other), _desc()) as (_p, hits),
        _device(other, [], _desc()) as (_q, other_hits),
    ):
        (obs,) = await probe_ssdp(ip, timeout=2.0)
    assert obs.data["description"] is None and obs.data["location_elsewhere"]
    assert hits == [] and other_hits == []


async def test_hostile_or_oversized_description_is_an_error_not_a_crash() -> None:
    bomb = (FIX / "onvif" / "hostile-billion-laughs-GetDeviceInformation.xml").read_bytes()
    for n, (page, needle) in enumerate(
        [(bomb, "malformed"), (b"<root>" + b"x" * (MAX_DESCRIPTION + 10), "larger than")]
    ):
        ip = f"127.0.4.{20 + n}"
        async with _device(ip, _replies(ip), page):
            (obs,) = await probe_ssdp(ip, timeout=2.0)
        assert obs.data["description"] is None and needle in obs.data["description_error"]


async def test_silent_and_closed_hosts_give_nothing_within_the_bound() -> None:
    ip = "127.0.4.30"
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind((ip, SSDP_PORT))  # receives, never answers
    try:
        t0 = time.monotonic()
        assert await probe_ssdp(ip, timeout=1.0) == []
        assert time.monotonic() - t0 < 1.5
    finally:
        silent.close()
    t0 = time.monotonic()
    assert await probe_ssdp("127.0.4.31", timeout=2.0) == []  # ICMP unreachable: at once
    assert time.monotonic() - t0 < 1.0


def test_parsing_helpers() -> None:
    check: Callable[[str], str | None] = lambda loc: same_host_url(loc, "127.0.4.10")  # noqa: E731
    assert check("http://127.0.4.10:49152/desc.xml") == "http://127.0.4.10:49152/desc.xml"
    assert check("http://127.0.4.99/desc.xml") is None  # another host
    assert check("http://camera.local/desc.xml") is None  # a name could resolve anywhere
    assert check("https://127.0.4.10/desc.xml") is None and check("http://127.0.4.10:x/") is None
    assert parse_reply(b"NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\n\r\n") is None
    assert parse_reply(b"HTTP/1.1 200 OK\nST: a\nLocation: b\n\n") == {"st": "a", "location": "b"}
