"""Regression tests for what the hostile lab found in the probes (one per fix).

- WS-Discovery: a device answering every Probe with thousands of ProbeMatches filled the
  scanner's socket buffer, hid a well-behaved camera's reply, and turned each advertised
  XAddr into an ONVIF connection: endpoints per host are capped, the flood is recorded,
  the flooder is not asked again, rounds are spread so the others are re-asked.
- HTTP: a redirect loop was followed silently; it is now an ``error``.
- HTTP: a device answering 200 to every path "had" Dahua's CGI endpoints and got an
  NDAA finding; the probe now asks a made-up path too and equal answers prove nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from camlab.generate import generate
from camlab.services import DeviceServer
from camlab.spec import LabDevice

from auditor.classify import classify
from auditor.model import Observation
from probes import engine, http, wsdiscovery

NET = ipaddress.IPv4Network("127.0.6.0/24")
Serve = Callable[[LabDevice, str], Awaitable[DeviceServer]]


def _hostile(behaviour: str) -> LabDevice:
    return next(d for d in generate(1, 3, hostile=6) if behaviour in d.hostile)


def _camera(profile: str) -> LabDevice:
    dev = next(d for d in generate(30, 2026) if d.profile == profile)
    dev.quirks, dev.rtsp, dev.vendor_ports = [], None, []  # WS-Discovery and HTTP only
    return dev


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Serve]:
    servers: list[DeviceServer] = []

    async def start(dev: LabDevice, ip: str) -> DeviceServer:
        server = DeviceServer(dev, tmp_path, bind_ip=ip)
        server.bind()
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


async def test_wsd_flood_is_capped_recorded_and_does_not_hide_others(serve: Serve) -> None:
    flooder = await serve(_hostile("wsd_flood"), "127.0.6.100")
    await serve(_camera("hikvision-ds2cd2"), "127.0.6.101")
    obs = await wsdiscovery.discover(["127.0.6.100", "127.0.6.101"], [NET], timeout=1.0)
    flood = [o for o in obs if o.ip == "127.0.6.100"]
    assert len([o for o in flood if o.error is None]) == wsdiscovery.MAX_ENDPOINTS_PER_HOST
    assert any("too many WS-Discovery endpoints" in (o.error or "") for o in flood)
    assert any(o.ip == "127.0.6.101" and o.error is None for o in obs)  # not drowned
    assert flooder.hostile is not None
    # asked at most once per probe type: the flooder is not asked again once it floods
    assert flooder.hostile.stats["datagrams_sent"] <= 2 * 2000


async def test_onvif_targets_per_host_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    advertised = [f"http://127.0.6.102:{1024 + n}/onvif/device_service" for n in range(500)]
    ran: list[int] = []

    async def xaddrs() -> list[str]:
        return advertised

    async def onvif_stand_in(ip: str, port: int, **_: object) -> Observation:
        ran.append(port)  # records which endpoints the engine would contact
        return Observation("onvif", ip, port=port, error="connection refused")

    monkeypatch.setattr(engine, "_lazy_probe", lambda module, name: onvif_stand_in)
    opts = engine.ScanOptions(http=False, rtsp=False, vendor_tcp=False, timeout=0.5)
    jobs = engine._identify_jobs("127.0.6.102", [80], xaddrs, opts, {"127.0.6.102"})
    for _name, _port, make in jobs:
        await make()
    assert ran == [1024 + n for n in range(engine.MAX_ONVIF_TARGETS)]


async def test_redirect_loop_is_an_error(serve: Serve) -> None:
    await serve(_hostile("http_redirect_loop"), "127.0.6.103")
    obs = await http.grab("127.0.6.103", 80, timeout=1.0, paths=())
    assert obs.error and obs.error.startswith("redirect loop")
    assert obs.data["redirects"]  # what was seen is kept beside the error


async def test_yes_to_any_path_proves_no_vendor(serve: Serve) -> None:
    await serve(_hostile("http_xml_bomb"), "127.0.6.104")  # GET of any path: 200
    obs = await http.grab("127.0.6.104", 80, timeout=1.0)
    assert obs.data["bogus_path_status"] == 200
    assert obs.data["paths"]["/cgi-bin/magicBox.cgi?action=getSystemInfo"] == 200
    (dev,) = classify([obs])
    assert dev.oem is None, [e.detail for e in dev.evidence]
    # the same paths from a device that does say 404 to nonsense still count
    real = Observation(
        "http", "127.0.6.105", port=80,
        data={**obs.data, "bogus_path_status": 404},
    )  # fmt: skip
    (dahua,) = classify([real])
    assert dahua.oem == "Dahua"
