"""WS-Discovery: parser on recorded ProbeMatches, and unicast end to end on 127.0.2.x."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re

import pytest
from camreplay import fixture, wsd_device
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.errors import ParseError, TargetError
from probes import wsdiscovery
from probes.netinfo import Interface

HIK = "hikvision-ds2cd2143g0i-v5.5.82.xml"
DAHUA = "dahua-ipc-hfw2431s-v2.800.xml"
WIN = "windows10-wsdapi.xml"
NET = [ipaddress.IPv4Network("127.0.2.0/24")]
PORT = 13702


def _fill(name: str, ip: str = "127.0.2.20") -> bytes:
    return (
        fixture("wsdiscovery", name)
        .replace(b"{relates_to}", b"urn:uuid:x")
        .replace(b"{ip}", ip.encode())
    )


def test_probe_message_shape() -> None:
    a = wsdiscovery.build_probe("urn:uuid:1", "dn:NetworkVideoTransmitter").decode()
    b = wsdiscovery.build_probe("urn:uuid:2", "tds:Device").decode()
    assert 'xmlns:dn="http://www.onvif.org/ver10/network/wsdl"' in a
    assert "<d:Types>dn:NetworkVideoTransmitter</d:Types>" in a
    assert 'xmlns:tds="http://www.onvif.org/ver10/device/wsdl"' in b
    assert "<a:MessageID>urn:uuid:2</a:MessageID>" in b
    assert "http://www.w3.org/2003/05/soap-envelope" in a  # SOAP 1.2


def test_parse_hikvision_probe_match() -> None:
    msg = wsdiscovery.parse_message(_fill(HIK))
    assert msg.relates_to == "urn:uuid:x"
    assert msg.action and msg.action.endswith("/ProbeMatches")
    (m,) = msg.matches
    assert m.endpoint == "urn:uuid:544f4e56-494b-4f4e-8000-4419b6a1b2c3"
    assert m.types == ["dn:NetworkVideoTransmitter", "tds:Device"]
    assert "onvif://www.onvif.org/hardware/DS-2CD2143G0-I" in m.scopes
    assert m.xaddrs[0] == "http://127.0.2.20/onvif/device_service"
    assert m.metadata_version == 10


def test_parse_windows_computer_is_kept() -> None:
    (m,) = wsdiscovery.parse_message(_fill(WIN)).matches
    assert m.types == ["wsdp:Device", "pub:Computer"]


def test_xml_bomb_and_malformed_are_rejected() -> None:
    with pytest.raises(ParseError, match="forbidden construct"):
        wsdiscovery.parse_message(fixture("wsdiscovery", "xml-bomb-entities.xml"))
    with pytest.raises(ParseError, match="malformed XML"):
        wsdiscovery.parse_message(fixture("wsdiscovery", "malformed-truncated.xml"))
    with pytest.raises(ParseError, match="larger than"):
        wsdiscovery.parse_message(b"<a>" + b"x" * (64 * 1024) + b"</a>")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_parser_only_raises_parse_error_on_bytes(raw: bytes) -> None:
    with contextlib.suppress(ParseError):
        wsdiscovery.parse_message(raw)


_TOKEN = st.text(
    alphabet=st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=20
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_TOKEN, max_size=100), st.lists(_TOKEN, max_size=5), st.integers(0, 10**6))
def test_parser_reads_what_was_written(scopes: list[str], types: list[str], mv: int) -> None:
    doc = (
        _fill(HIK)
        .decode()
        .replace("dn:NetworkVideoTransmitter tds:Device", " ".join(types))
        .replace("<d:MetadataVersion>10", f"<d:MetadataVersion>{mv}")
    )
    doc = re.sub(r"<d:Scopes>.*?</d:Scopes>", f"<d:Scopes>{' '.join(scopes)}</d:Scopes>", doc)
    (m,) = wsdiscovery.parse_message(doc.encode()).matches
    assert m.scopes == scopes[: wsdiscovery.MAX_LIST]
    assert m.types == types
    assert m.metadata_version == mv


async def test_unicast_end_to_end() -> None:
    devs = [
        await wsd_device("127.0.2.20", PORT, fixture("wsdiscovery", HIK)),
        # this Dahua answers only tds:Device probes (real firmware does this)
        await wsd_device(
            "127.0.2.21", PORT, fixture("wsdiscovery", DAHUA), answers=("tds:Device",)
        ),
        await wsd_device("127.0.2.22", PORT, fixture("wsdiscovery", WIN)),
        await wsd_device("127.0.2.23", PORT, fixture("wsdiscovery", "xml-bomb-entities.xml")),
        await wsd_device("127.0.2.24", PORT, fixture("wsdiscovery", "malformed-truncated.xml")),
        # listening but not a target: must never be probed
        await wsd_device("127.0.2.99", PORT, fixture("wsdiscovery", HIK)),
    ]
    hosts = [f"127.0.2.{i}" for i in range(20, 26)]  # .25: nobody home
    try:
        obs = await wsdiscovery.discover(
            hosts, [ipaddress.IPv4Network("127.0.2.16/28")], timeout=1.0, port=PORT
        )
    finally:
        for t, _p in devs:
            t.close()
    by_ip = {o.ip: o for o in obs}
    assert set(by_ip) == {f"127.0.2.{i}" for i in range(20, 25)}
    hik = by_ip["127.0.2.20"]
    assert hik.error is None and hik.port == PORT
    assert sorted(hik.data["probe_types"]) == ["dn:NetworkVideoTransmitter", "tds:Device"]
    assert hik.data["via"] == "unicast" and hik.data["relates_to_known"] is True
    # how long the device took to answer: the engine serves slow devices first
    assert isinstance(hik.data["reply_ms"], int) and 0 <= hik.data["reply_ms"] < 1000
    assert hik.data["xaddrs"][0] == "http://127.0.2.20/onvif/device_service"
    assert by_ip["127.0.2.21"].data["probe_types"] == ["tds:Device"]
    assert "pub:Computer" in by_ip["127.0.2.22"].data["types"]
    assert "forbidden construct" in (by_ip["127.0.2.23"].error or "")
    assert "malformed XML" in (by_ip["127.0.2.24"].error or "")
    assert devs[-1][1].probes == []
    # fresh MessageID on every probe sent
    ids = [re.search(rb"MessageID>([^<]+)<", p).group(1) for p in devs[0][1].probes]  # type: ignore[union-attr]
    assert len(ids) == len(set(ids)) >= 2


async def test_replies_from_non_targets_are_dropped() -> None:
    # a responder at .31 that answers from .98 (spoofed / NAT'd / a second address)
    loop = asyncio.get_running_loop()
    out_t, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.2.98", 0)
    )

    class Relay(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            mid = re.search(rb"MessageID>([^<]+)<", data)
            assert mid
            out_t.sendto(fixture("wsdiscovery", HIK).replace(b"{relates_to}", mid.group(1)), addr)

    in_t, _ = await loop.create_datagram_endpoint(Relay, local_addr=("127.0.2.31", PORT))
    try:
        obs = await wsdiscovery.discover(["127.0.2.31"], NET, timeout=0.6, port=PORT)
    finally:
        in_t.close()
        out_t.close()
    assert obs == []


async def test_multicast_refuses_an_interface_not_facing_targets() -> None:
    eth0 = Interface(
        name="eth0",
        index=4,
        address=ipaddress.IPv4Address("192.0.2.2"),
        network=ipaddress.IPv4Network("192.0.2.0/24"),
        mac="02:fc:00:00:00:01",
        flags=frozenset({"UP", "MULTICAST", "BROADCAST"}),
    )
    t, proto = await wsd_device("127.0.2.40", PORT, fixture("wsdiscovery", HIK))
    try:
        with pytest.raises(TargetError, match="does not face"):
            await wsdiscovery.discover(
                ["127.0.2.40"], NET, multicast_ifaces=[eth0], timeout=0.5, port=PORT
            )
        await asyncio.sleep(0.1)
    finally:
        t.close()
    assert proto.probes == []  # refused before a single datagram left


async def test_hosts_confirmed_later_are_probed_only_once_confirmed() -> None:
    # On-link hosts wait for ARP: unicast to an unconfirmed address would make the kernel
    # resolve it (a /22 of empty addresses overflows the neighbour table).
    devs = [
        await wsd_device("127.0.2.40", PORT, fixture("wsdiscovery", HIK)),
        await wsd_device("127.0.2.41", PORT, fixture("wsdiscovery", DAHUA)),
    ]
    confirmations: asyncio.Queue[str] = asyncio.Queue()
    hosts = ["127.0.2.40", "127.0.2.41"]

    async def confirm_one_later() -> None:
        await asyncio.sleep(0.2)
        confirmations.put_nowait("127.0.2.40")  # .41 is never confirmed (ARP found nobody)

    try:
        feeder = asyncio.create_task(confirm_one_later())
        obs = await wsdiscovery.discover(
            hosts, NET, timeout=0.8, port=PORT,
            confirmed_later=hosts, confirmations=confirmations,
        )  # fmt: skip
        await feeder
    finally:
        for t, _p in devs:
            t.close()
    assert [o.ip for o in obs] == ["127.0.2.40"]
    assert devs[0][1].probes, "the confirmed host was probed"
    assert devs[1][1].probes == [], "an unconfirmed host is never sent to"


async def test_a_burst_of_replies_on_a_busy_loop_is_not_lost() -> None:
    # 150 devices answering at once while other work keeps the loop busy: asyncio's own
    # datagram transport reads one datagram per loop turn, the socket buffer overflows
    # and those devices look silent.
    hosts = [f"127.0.2.{i}" for i in range(100, 250)]
    uuid = b"544f4e56-494b-4f4e-8000-4419b6a1b2c3"  # one endpoint per device, as in life
    devs = [
        await wsd_device(
            h, PORT, fixture("wsdiscovery", HIK).replace(uuid, uuid[:-3] + f"{i:03d}".encode())
        )
        for i, h in enumerate(hosts)
    ]
    stop = asyncio.Event()

    async def busy() -> None:
        while not stop.is_set():
            sum(range(3000))  # some work per loop turn, like a port scan's callbacks
            await asyncio.sleep(0)

    spinners = [asyncio.create_task(busy()) for _ in range(200)]
    try:
        obs = await wsdiscovery.discover(hosts, NET, timeout=1.0, port=PORT)
    finally:
        stop.set()
        await asyncio.gather(*spinners)
        for t, _p in devs:
            t.close()
    assert {o.ip for o in obs if o.error is None} == set(hosts)
