"""The scan engine end to end on 127.0.2.x: discovery, identification, progress, limits."""

from __future__ import annotations

import ipaddress
import logging
import time

import pytest
from camreplay import Device, fixture, wsd_device

from auditor.errors import TargetError
from auditor.model import Observation
from probes import engine
from probes.netinfo import Interface

HIK = "hikvision-ds2cd2143g0i-v5.5.82"
DAHUA = "dahua-ipc-hfw2431s-v2.800"
LO = Interface(
    name="lo", index=1, address=ipaddress.IPv4Address("127.0.0.1"),
    network=ipaddress.IPv4Network("127.0.0.0/8"), flags=frozenset({"UP", "LOOPBACK"}),
    link_type="loopback",
)  # fmt: skip
WSD_PORT = 23702


async def test_scan_identifies_and_survives_bad_devices() -> None:
    notfound = fixture("http", "notfound.txt")
    devs = [
        Device(
            "127.0.2.70",
            80,
            routes={
                "/": fixture("http", f"{HIK}-login.txt"),
                "/ISAPI/System/deviceInfo": fixture("http", f"{HIK}-isapi.txt"),
            },
            default=notfound,
        ),
        Device("127.0.2.70", 8000, mode="silent"),
        Device("127.0.2.71", 80, default=fixture("http", f"{DAHUA}-root.txt")),
        Device("127.0.2.72", 8080, mode="slow"),  # one byte a second
        Device("127.0.2.73", 80, mode="silent"),  # accepts, never answers
    ]
    for d in devs:
        await d.start()
    wsd_t, _ = await wsd_device("127.0.2.70", WSD_PORT, fixture("wsdiscovery", f"{HIK}.xml"))
    calls: list[tuple[str, int, int]] = []
    opts = engine.ScanOptions(
        ports=(80, 554, 8000, 8080, 37777),
        timeout=1.0,
        discovery_timeout=0.8,
        interfaces=[LO],
        wsd_port=WSD_PORT,
        rtsp=False,
        onvif=False,
    )
    t0 = time.monotonic()
    try:
        obs = await engine.run_scan(
            [f"127.0.2.{i}" for i in range(70, 80)],
            [ipaddress.IPv4Network("127.0.2.64/27")],
            opts,
            lambda s, d, t: calls.append((s, d, t)),
        )
    finally:
        wsd_t.close()
        for d in devs:
            await d.stop()
    took = time.monotonic() - t0
    assert took < 6.0, took
    key = {(o.probe, o.ip, o.port): o for o in obs}
    ps = key[("portscan", "127.0.2.70", None)]
    assert ps.data["tcp_open"] == [80, 8000]
    assert key[("wsdiscovery", "127.0.2.70", WSD_PORT)].data["endpoint"].startswith("urn:uuid:")
    hik = key[("http", "127.0.2.70", 80)]
    assert (
        hik.data["server"] == "App-webs/" and hik.data["paths"]["/ISAPI/System/deviceInfo"] == 401
    )
    assert key[("vendor_port", "127.0.2.70", 8000)].data["service"] == "hikvision-sdk"
    assert key[("http", "127.0.2.71", 80)].data["title"] == "WEB SERVICE"
    assert "timeout" in (key[("http", "127.0.2.72", 8080)].error or "")
    assert "timeout" in (key[("http", "127.0.2.73", 80)].error or "")
    # on loopback every address answers with an RST: alive, nothing open, nothing identified
    assert [o.probe for o in obs if o.ip == "127.0.2.79"] == ["portscan"]
    assert key[("portscan", "127.0.2.79", None)].data["tcp_open"] == []
    stages = {s for s, _d, _t in calls}
    assert stages == {"discover", "ports", "identify"}
    last = {s: (d, t) for s, d, t in calls}
    assert all(d == t for d, t in last.values()), last
    assert last["identify"][1] == 5  # http on .70/.71/.72/.73, vendor_port on .70:8000
    assert last["discover"][1] == 10  # one tick per target address (ARP or TCP ping)
    assert last["ports"][1] == 10  # every loopback address answers the ping: all scanned


async def test_discover_only_lists_live_hosts_and_asks_nothing_else() -> None:
    """`camaudit scan --discover-only` (nmap -sn): the ping answer is the record; no
    WS-Discovery probe, no port scan, no identification request reaches a device."""
    web = await Device("127.0.2.100", 80, default=fixture("http", f"{DAHUA}-root.txt")).start()
    wsd_t, wsd = await wsd_device("127.0.2.100", WSD_PORT, fixture("wsdiscovery", f"{HIK}.xml"))
    calls: list[tuple[str, int, int]] = []
    opts = engine.ScanOptions(
        interfaces=[LO], wsd_port=WSD_PORT, discover_only=True, discovery_timeout=0.5
    )
    try:
        obs = await engine.run_scan(
            ["127.0.2.100", "127.0.2.101"], [ipaddress.IPv4Network("127.0.2.96/28")],
            opts, lambda s, d, t: calls.append((s, d, t)),
        )  # fmt: skip
    finally:
        wsd_t.close()
        await web.stop()
    assert {o.probe for o in obs} == {"portscan"}  # loopback: both answer (open or RST)
    assert {o.ip for o in obs} == {"127.0.2.100", "127.0.2.101"}
    live = next(o for o in obs if o.ip == "127.0.2.100")
    assert live.data["tcp_open"] == [80] and live.data["scanned"] == len(engine.PING_PORTS)
    assert wsd.probes == []  # WS-Discovery was not asked
    assert not any(web.requests)  # nor was the web server (the ping only connects)
    assert {s for s, _d, _t in calls} == {"discover"}


async def test_deadline_bounds_the_whole_scan() -> None:
    slow = await Device("127.0.2.80", 8080, mode="slow").start()
    opts = engine.ScanOptions(
        ports=(8080,), timeout=5.0, discovery_timeout=0.3, deadline=1.5, interfaces=[LO],
        wsd_port=WSD_PORT, rtsp=False, onvif=False,
    )  # fmt: skip
    t0 = time.monotonic()
    try:
        obs = await engine.run_scan(["127.0.2.80"], [ipaddress.IPv4Network("127.0.2.80/32")], opts)
    finally:
        await slow.stop()
    assert time.monotonic() - t0 < 2.5
    (h,) = [o for o in obs if o.probe == "http"]
    assert h.error and "timeout" in h.error


async def test_hosts_outside_the_named_networks_are_refused() -> None:
    with pytest.raises(TargetError):
        await engine.run_scan(
            ["127.0.2.90", "192.0.2.1"], [ipaddress.IPv4Network("127.0.2.0/24")],
            engine.ScanOptions(interfaces=[LO]),
        )  # fmt: skip


async def test_onvif_jobs_stay_on_the_host_and_missing_modules_are_skipped(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, int, str | None]] = []

    async def onvif_seen(ip: str, port: int, *, xaddr: str | None, **_kw: object) -> Observation:
        asked.append((ip, port, xaddr))  # which endpoint the engine sends ONVIF to
        return Observation("onvif", ip, {}, port=port)

    real = engine._lazy_probe
    monkeypatch.setattr(
        engine, "_lazy_probe", lambda m, n: onvif_seen if m == "onvif" else real(m, n)
    )

    async def xaddrs() -> list[str]:
        return ["http://127.0.2.91:8080/onvif/device_service",
                "http://198.51.100.9/onvif/device_service"]  # fmt: skip

    opts = engine.ScanOptions(http=False, rtsp=False, vendor_tcp=False)
    jobs = engine._identify_jobs("127.0.2.91", [80, 8080], xaddrs, opts, {"127.0.2.91"})
    assert [p for p, _port, _f in jobs] == ["onvif"]
    await jobs[0][2]()
    # the advertised address on another host is ignored; the host's own port is used
    assert asked == [("127.0.2.91", 8080, "http://127.0.2.91:8080/onvif/device_service")]
    with caplog.at_level(logging.WARNING):
        assert real("no_such_probe_module", "probe") is None
    assert "unavailable" in caplog.text
    with pytest.raises(TargetError):
        engine._identify_jobs("127.0.2.92", [80], xaddrs, opts, {"127.0.2.91"})
