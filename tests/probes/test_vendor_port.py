"""Vendor SDK ports (TCP) and vendor UDP discovery against recorded replies on 127.0.2.x."""

from __future__ import annotations

import asyncio
import ipaddress
import time

import pytest
from camreplay import Device, fixture

from auditor.errors import TargetError
from probes import vendor_port
from probes.netinfo import Interface

XM = "xiongmai-ipc-hi3518e-v4.02.r11"
NET = [ipaddress.IPv4Network("127.0.2.0/24")]
LO = Interface(
    name="lo", index=1, address=ipaddress.IPv4Address("127.0.0.1"),
    network=ipaddress.IPv4Network("127.0.0.0/8"), flags=frozenset({"UP", "LOOPBACK"}),
    link_type="loopback",
)  # fmt: skip


async def test_xiongmai_netip_sysinfo() -> None:
    dev = await Device(
        "127.0.2.60", port=34567, mode="reply",
        banner=fixture("vendor_port", f"{XM}-netip-sysinfo.bin"),
    ).start()  # fmt: skip
    try:
        obs = await vendor_port.probe_tcp(dev.ip, 34567, timeout=2)
    finally:
        await dev.stop()
    assert obs.error is None
    assert obs.data["service"] == "xiongmai-netip" and obs.data["proto"] == "tcp"
    assert obs.data["fields"]["model"] == "HI3518E_50H10L_S39"
    assert obs.data["fields"]["firmware"].startswith("V4.02.R11")
    assert obs.data["banner_hex"].startswith("ff01")
    assert len(obs.data["banner_hex"]) == 2 * vendor_port.BANNER_HEX
    (req,) = dev.requests
    assert req[0] == 0xFF and req[14:16] == (1020).to_bytes(2, "little")


async def test_silent_sdk_port_and_slow_banner() -> None:
    silent = await Device("127.0.2.61", port=8000, mode="silent").start()
    slow = await Device("127.0.2.62", port=37777, mode="slow", default=b"\x00" * 100).start()
    t0 = time.monotonic()
    try:
        a, b = await asyncio.gather(
            vendor_port.probe_tcp(silent.ip, 8000, timeout=1.0),
            vendor_port.probe_tcp(slow.ip, 37777, timeout=1.0),
        )
    finally:
        await silent.stop()
        await slow.stop()
    assert time.monotonic() - t0 < 2.0
    assert a.data["service"] == "hikvision-sdk" and a.data["banner_hex"] is None
    assert b.data["service"] == "dahua-dvrip"


def test_parsers() -> None:
    f = vendor_port.parse_netip(fixture("vendor_port", f"{XM}-ipsearch.bin"))
    assert f["mac"] == "00:12:41:3a:5b:6c" and f["ip"] == "192.168.0.10"
    assert f["serial"] == "5f3c2b1a0d9e8f7a"
    d = vendor_port.parse_dahua_discovery(
        fixture("vendor_port", "dahua-ipc-hfw2431s-v2.800-dhdiscover.bin")
    )
    assert d["model"] == "IPC-HFW2431S-S-S2" and d["serial"] == "4K0123PAZ12345"
    h = vendor_port.parse_sadp(fixture("vendor_port", "hikvision-ds2cd2143g0i-v5.5.82-sadp.xml"))
    assert h["model"] == "DS-2CD2143G0-I" and h["mac"] == "44-19-b6-a1-b2-c3"
    assert h["firmware"].startswith("V5.5.82")
    assert vendor_port.parse_sadp(fixture("wsdiscovery", "xml-bomb-entities.xml")) == {}
    assert vendor_port.parse_netip(b"garbage") == {}


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, reply: bytes) -> None:
        self.reply, self.got = reply, []  # type: ignore[var-annotated]
        self.t: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.append(data)
        assert self.t is not None
        self.t.sendto(self.reply, addr)


async def test_udp_discovery_unicast_replay() -> None:
    loop = asyncio.get_running_loop()
    replies = {
        37020: fixture("vendor_port", "hikvision-ds2cd2143g0i-v5.5.82-sadp.xml"),
        37810: fixture("vendor_port", "dahua-ipc-hfw2431s-v2.800-dhdiscover.bin"),
        34569: fixture("vendor_port", f"{XM}-ipsearch.bin"),
    }
    eps = [
        await loop.create_datagram_endpoint(lambda r=r: _Udp(r), local_addr=("127.0.2.63", p))
        for p, r in replies.items()
    ]
    try:
        obs = await vendor_port.discover_udp(
            LO, ["127.0.2.63"], NET, timeout=0.3, dest_override="127.0.2.63"
        )
    finally:
        for t, _p in eps:
            t.close()
    by = {o.data["service"]: o for o in obs}
    assert set(by) == {"hikvision-sadp", "dahua-discovery", "xiongmai-discovery"}
    assert by["hikvision-sadp"].data["fields"]["serial"].startswith("DS-2CD2143G0-I")
    assert by["dahua-discovery"].data["fields"]["mac"] == "3c:e3:6b:0a:0b:0c"
    assert by["xiongmai-discovery"].data["proto"] == "udp"
    assert b"<Types>inquiry</Types>" in eps[0][1].got[0]
    assert b"DHDiscover.search" in eps[1][1].got[0]


async def test_udp_discovery_refuses_wrong_interface() -> None:
    eth0 = Interface(
        name="eth0", index=4, address=ipaddress.IPv4Address("192.0.2.2"),
        network=ipaddress.IPv4Network("192.0.2.0/24"), flags=frozenset({"UP", "MULTICAST"}),
    )  # fmt: skip
    with pytest.raises(TargetError):
        await vendor_port.discover_udp(eth0, ["127.0.2.63"], NET, timeout=0.1)
