"""The flow table: link types, naming, signatures, UPnP, and bad packets counted."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pcapbuild as pb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Raw

from auditor.model import Observation
from probes.flows import FlowTable, read_files

CAM = "198.18.200.12"
CAM_MAC = "bc:ad:28:00:00:0c"
GW_MAC = "02:00:00:00:00:01"
DNS_SITE = "198.18.200.1"
CLOUD = "198.19.8.1"
LOCAL = ["198.18.200.0/24"]


def eth(pkt: Any, src: str = CAM_MAC, dst: str = GW_MAC) -> bytes:
    return bytes(Ether(src=src, dst=dst) / pkt)


def back(pkt: Any) -> bytes:
    return eth(pkt, src=GW_MAC, dst=CAM_MAC)


def dns_pair(name: str, answer: str, server: str = DNS_SITE, sport: int = 40000) -> list[bytes]:
    q = IP(src=CAM, dst=server) / UDP(sport=sport, dport=53) / DNS(id=7, rd=1, qd=DNSQR(qname=name))
    a = (
        IP(src=server, dst=CAM)
        / UDP(sport=53, dport=sport)
        / DNS(
            id=7,
            qr=1,
            qd=DNSQR(qname=name),
            an=[
                DNSRR(rrname=name, type="CNAME", rdata="edge." + name),
                DNSRR(rrname="edge." + name, type="A", rdata=answer),
            ],
        )
    )
    return [eth(q), back(a)]


def run(
    tmp_path: Path, frames: list[bytes], linktype: int = 1, **kw: Any
) -> tuple[FlowTable, list[Observation]]:
    path = tmp_path / "t.pcap"
    path.write_bytes(pb.pcap([(1700000000.0 + i, f) for i, f in enumerate(frames)], linktype, **kw))
    table, stats = read_files([str(path)])
    assert not stats.errors
    return table, table.observations("pcap:t.pcap", LOCAL, stats)


def device(obs: list[Observation], ip: str = CAM) -> Observation:
    return next(o for o in obs if o.ip == ip)


def flow_to(o: Observation, peer: str, port: int) -> dict[str, Any]:
    return next(f for f in o.data["flows"] if f["peer"] == peer and f["peer_port"] == port)


def test_dns_names_the_flow_and_both_directions_pair(tmp_path: Path) -> None:
    p2p = IP(src=CAM, dst=CLOUD) / UDP(sport=5000, dport=8800) / Raw(b"\x00\x01registration")
    reply = IP(src=CLOUD, dst=CAM) / UDP(sport=8800, dport=5000) / Raw(b"ok")
    frames = [*dns_pair("p2p.easy4ipcloud.com", CLOUD), eth(p2p), eth(p2p), back(reply)]
    _table, obs = run(tmp_path, frames)
    cam = device(obs)
    assert cam.mac == CAM_MAC
    f = flow_to(cam, CLOUD, 8800)
    assert f["direction"] == "out" and f["proto"] == "udp"
    assert f["names"] == ["edge.p2p.easy4ipcloud.com", "p2p.easy4ipcloud.com"]
    assert (f["packets_out"], f["packets_in"]) == (2, 1)
    assert f["bytes_out"] == 2 * len(eth(p2p))
    assert f["first_seen"] == pytest.approx(1700000002.0)
    assert f["last_seen"] == pytest.approx(1700000003.0)
    assert f["payload_hex_out"] == (b"\x00\x01registration"[:16]).hex()
    q = cam.data["dns_queries"][0]
    assert (q["server"], q["name"], q["queries"], q["answers"]) == (
        DNS_SITE,
        "p2p.easy4ipcloud.com",
        1,
        1,
    )
    assert q["addresses"] == [CLOUD]
    summary = obs[-1]
    assert summary.ip == "*" and summary.data["kind"] == "summary"
    assert summary.data["router_macs"] == [GW_MAC]


def test_tls_sni_http_host_and_tcp_flags(tmp_path: Path) -> None:
    syn = IP(src=CAM, dst=CLOUD) / TCP(sport=41000, dport=443, flags="S")
    synack = IP(src=CLOUD, dst=CAM) / TCP(sport=443, dport=41000, flags="SA")
    hello = (
        IP(src=CAM, dst=CLOUD)
        / TCP(sport=41000, dport=443, flags="PA")
        / Raw(pb.client_hello("dev.hik-connect.com"))
    )
    get = (
        IP(src=CAM, dst="198.19.9.9")
        / TCP(sport=41001, dport=80, flags="PA")
        / Raw(b"GET /fw.bin HTTP/1.1\r\nHost: Update.Example.Net\r\n\r\n")
    )
    _t, obs = run(tmp_path, [eth(syn), back(synack), eth(hello), eth(get)])
    cam = device(obs)
    tls = flow_to(cam, CLOUD, 443)
    assert tls["sni"] == "dev.hik-connect.com" and tls["names"] == ["dev.hik-connect.com"]
    assert tls["tcp_flags"] == "SAP"
    assert flow_to(cam, "198.19.9.9", 80)["http_host"] == "update.example.net"


def test_cs2_and_stun_signatures_kept(tmp_path: Path) -> None:
    cs2 = IP(src=CAM, dst=CLOUD) / UDP(sport=6000, dport=32100) / Raw(b"\xf1\x00\x00\x00")
    stun = (
        IP(src=CAM, dst=CLOUD)
        / UDP(sport=6001, dport=3478)
        / Raw(bytes.fromhex("000100002112a442") + bytes(12))
    )
    _t, obs = run(tmp_path, [eth(cs2), eth(stun)])
    cam = device(obs)
    assert flow_to(cam, CLOUD, 32100)["payload_hex_out"] == "f1000000"
    assert flow_to(cam, CLOUD, 3478)["payload_hex_out"].startswith("000100002112a442")


SOAP_BODY = (
    b'<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
    b'<s:Body><u:AddPortMapping xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1">'
    b"<NewRemoteHost></NewRemoteHost><NewExternalPort>8080</NewExternalPort>"
    b"<NewProtocol>TCP</NewProtocol><NewInternalPort>80</NewInternalPort>"
    b"<NewInternalClient>198.18.200.12</NewInternalClient><NewEnabled>1</NewEnabled>"
    b"<NewPortMappingDescription>IPC-bcad28</NewPortMappingDescription>"
    b"<NewLeaseDuration>0</NewLeaseDuration></u:AddPortMapping></s:Body></s:Envelope>"
)


def test_upnp_msearch_and_add_port_mapping_split_across_segments(tmp_path: Path) -> None:
    gw = "198.18.200.1"
    search = (
        IP(src=CAM, dst="239.255.255.250")
        / UDP(sport=1901, dport=1900)
        / Raw(
            b'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\n'
            b"MX: 1\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\r\n"
        )
    )
    header = (
        b"POST /ctl/IPConn HTTP/1.1\r\nHost: 198.18.200.1:5000\r\n"
        b'SOAPACTION: "urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping"\r\n'
        b"Content-Length: %d\r\n\r\n" % len(SOAP_BODY)
    )
    seg1 = IP(src=CAM, dst=gw) / TCP(sport=42000, dport=5000, flags="PA") / Raw(header)
    seg2 = IP(src=CAM, dst=gw) / TCP(sport=42000, dport=5000, flags="PA") / Raw(SOAP_BODY)
    _t, obs = run(tmp_path, [eth(search), eth(seg1), eth(seg2)])
    events = device(obs).data["upnp"]
    assert events[0]["kind"] == "m-search"
    assert "InternetGatewayDevice" in events[0]["st"]
    mapping = events[1]
    assert mapping["kind"] == "add-port-mapping"
    assert (mapping["external_port"], mapping["protocol"], mapping["internal_port"]) == (
        8080,
        "TCP",
        80,
    )
    assert mapping["internal_client"] == CAM and mapping["server"] == gw
    assert mapping["description"] == "IPC-bcad28"


def test_vlan_ipv6_sll_sll2_and_raw(tmp_path: Path) -> None:
    u = UDP(sport=7000, dport=123) / Raw(bytes(48))
    tagged = bytes(
        Ether(src=CAM_MAC, dst=GW_MAC)
        / Dot1Q(vlan=20)
        / Dot1Q(vlan=30)
        / IP(src=CAM, dst=CLOUD)
        / u
    )
    v6 = eth(IPv6(src="fd00::12", dst="2001:db8::1") / UDP(sport=7001, dport=443) / Raw(b"x"))
    _t, obs = run(tmp_path, [tagged, v6])
    assert flow_to(device(obs), CLOUD, 123)["packets_out"] == 1
    assert flow_to(device(obs, "fd00::12"), "2001:db8::1", 443)["proto"] == "udp"

    ip = bytes(IP(src=CAM, dst=CLOUD) / u)
    mac = bytes.fromhex(CAM_MAC.replace(":", ""))
    sll = struct.pack("!HHH8sH", 4, 1, 6, mac + b"\0\0", 0x0800) + ip
    _t, obs = run(tmp_path, [sll], linktype=113)
    assert device(obs).mac == CAM_MAC
    sll2 = struct.pack("!HHIHBB8s", 0x0800, 0, 3, 1, 4, 6, mac + b"\0\0") + ip
    _t, obs = run(tmp_path, [sll2], linktype=276)
    assert device(obs).mac == CAM_MAC and flow_to(device(obs), CLOUD, 123)
    _t, obs = run(tmp_path, [ip], linktype=101)
    assert device(obs).mac is None and flow_to(device(obs), CLOUD, 123)


def test_bad_packets_are_counted_by_reason(tmp_path: Path) -> None:
    good = eth(IP(src=CAM, dst=CLOUD) / UDP(sport=1, dport=2) / Raw(b"hello"))
    frags = [
        eth(f)
        for f in (IP(src=CAM, dst=CLOUD, id=9) / UDP(sport=1, dport=2) / Raw(bytes(3000))).fragment(
            1400
        )
    ]
    short = good[:20]  # cut inside the IP header
    bad_version = bytearray(good)
    bad_version[14] = 0x65
    lie = bytearray(good)
    struct.pack_into("!H", lie, 16, 1400)  # IP total length beyond the frame
    arp = bytes.fromhex("ffffffffffff" + CAM_MAC.replace(":", "") + "0806") + bytes(28)
    table, obs = run(tmp_path, [good, *frags, short, bytes(bad_version), bytes(lie), arp])
    s = obs[-1].data
    assert s["skipped"] == {"truncated": 1, "unknown_linktype": 0, "fragment": 3, "malformed": 2}
    assert s["non_ip"] == 1
    assert table.packets == 8
    assert flow_to(device(obs), CLOUD, 2)["packets_out"] == 1


def test_snaplen_cut_packets_count_with_wire_length(tmp_path: Path) -> None:
    full = eth(IP(src=CAM, dst=CLOUD) / UDP(sport=1, dport=2) / Raw(bytes(1000)))
    cut = full[:64]
    _t, obs = run(tmp_path, [cut, cut], wirelen_extra=len(full) - 64)
    f = flow_to(device(obs), CLOUD, 2)
    assert f["packets_out"] == 2 and f["bytes_out"] == 2 * len(full)
    assert obs[-1].data["snaplen_cut"] == 2
    cut_in_header = full[:30]
    _t, obs = run(tmp_path, [cut_in_header], wirelen_extra=len(full) - 30)
    assert obs[-1].data["skipped"]["truncated"] == 1


def test_unknown_linktype_counted(tmp_path: Path) -> None:
    _t, obs = run(tmp_path, [b"\x00" * 40, b"\x00" * 40], linktype=147)
    assert obs[-1].data["skipped"]["unknown_linktype"] == 2
    assert obs[-1].data["unknown_linktypes"] == {"147": 2}


def test_eviction_is_counted_never_silent() -> None:
    table = FlowTable(max_flows=16)
    frames = [
        eth(IP(src=CAM, dst=CLOUD) / UDP(sport=1000 + i, dport=53) / Raw(b"q")) for i in range(40)
    ]
    for i, f in enumerate(frames):
        table.add(1, float(i), len(f), len(f), f, 0)
    assert len(table.flows) <= 16
    kept = sum(r[0] for r in table.flows.values())
    assert table.evicted[0] + len(table.flows) == 40
    assert table.evicted[1] + kept == 40
    obs = table.observations("t", LOCAL)
    assert device(obs).data["evicted"]["flows"] == table.evicted[0]
    assert obs[-1].data["evicted"]["packets"] == table.evicted[1]


LINKTYPES = st.sampled_from([0, 1, 101, 113, 228, 229, 276, 147])


@settings(max_examples=400, deadline=None)
@given(lt=LINKTYPES, data=st.binary(max_size=200), wire_extra=st.integers(0, 3000))
def test_fuzz_flow_table_never_raises(lt: int, data: bytes, wire_extra: int) -> None:
    table = FlowTable(max_flows=8)
    table.add(lt, 1.0, len(data), len(data) + wire_extra, data, 0)
    table.add(lt, 2.0, len(data), len(data) + wire_extra, data, 0)
    obs = table.observations("fuzz")
    assert obs[-1].data["packets"] == 2


@settings(max_examples=200, deadline=None)
@given(
    payload=st.binary(max_size=300),
    sport=st.sampled_from([53, 1900, 443, 80, 5000]),
    proto=st.sampled_from(["udp", "tcp"]),
)
def test_fuzz_payload_parsers_via_flows(payload: bytes, sport: int, proto: str) -> None:
    l4 = (
        UDP(sport=sport, dport=sport)
        if proto == "udp"
        else TCP(sport=sport, dport=sport, flags="PA")
    )
    frame = (
        eth(IP(src=CAM, dst=CLOUD) / l4 / Raw(payload))
        if payload
        else eth(IP(src=CAM, dst=CLOUD) / l4)
    )
    table = FlowTable()
    for i in range(3):
        table.add(1, float(i), len(frame), len(frame), frame, 0)
    assert sum(r[0] for r in table.flows.values()) == 3
