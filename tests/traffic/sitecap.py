"""A small camera site as a capture: one camera that phones home every way camaudit
knows, one that only uses the site's DNS, NTP and VMS (shared by the rule and CLI tests)."""

from __future__ import annotations

from pathlib import Path

import pcapbuild as pb
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

SITE_DNS = "198.18.200.1"
SITE_NTP = "198.18.200.1"
VMS = "198.18.200.5"
CAM = "198.18.200.12"  # phones home
GOOD = "198.18.200.13"  # only talks to the site
CAM_MAC, GOOD_MAC, GW = "bc:ad:28:00:00:0c", "bc:ad:28:00:00:0d", "02:00:00:00:00:01"
LOCAL = ["198.18.200.0/24"]


def _eth(pkt: object, src: str, dst: str = GW) -> bytes:
    return bytes(Ether(src=src, dst=dst) / pkt)  # type: ignore[operator]


def _dns(client: str, mac: str, server: str, name: str, answer: str, sport: int) -> list[bytes]:
    q = IP(src=client, dst=server) / UDP(sport=sport, dport=53) / DNS(id=1, qd=DNSQR(qname=name))
    a = (
        IP(src=server, dst=client)
        / UDP(sport=53, dport=sport)
        / DNS(id=1, qr=1, qd=DNSQR(qname=name), an=[DNSRR(rrname=name, rdata=answer)])
    )
    return [_eth(q, mac), _eth(a, GW, mac)]


SOAP = (
    b"POST /ctl HTTP/1.1\r\nHost: 198.18.200.1:5000\r\n\r\n<u:AddPortMapping>"
    b"<NewRemoteHost></NewRemoteHost><NewExternalPort>8000</NewExternalPort>"
    b"<NewProtocol>TCP</NewProtocol><NewInternalPort>8000</NewInternalPort>"
    b"<NewInternalClient>198.18.200.12</NewInternalClient></u:AddPortMapping>"
)


def site_capture(tmp_path: Path) -> Path:
    """A camera that does everything wrong, and one that only uses site services."""
    f: list[bytes] = []
    # bad camera: site DNS for the P2P name, hard-coded 8.8.8.8 (lab: 198.19.8.8) for xmeye
    f += _dns(CAM, CAM_MAC, SITE_DNS, "p2p.easy4ipcloud.com", "198.19.1.1", 40001)
    f += _dns(CAM, CAM_MAC, "198.19.8.8", "xmeye.net", "198.19.1.2", 40002)
    f += [_eth(IP(src=CAM, dst="198.19.1.1") / UDP(sport=5000, dport=8800) / Raw(b"hi"), CAM_MAC)]
    cs2 = IP(src=CAM, dst="198.19.1.3") / UDP(sport=5001, dport=32100) / Raw(b"\xf1\x00\x00\x00")
    stun = IP(src=CAM, dst="198.19.1.4") / UDP(sport=5002, dport=3478)
    stun = stun / Raw(bytes.fromhex("000100002112a442") + bytes(12))
    ntp = IP(src=CAM, dst="198.19.1.5") / UDP(sport=123, dport=123) / Raw(bytes(48))
    soap = IP(src=CAM, dst=SITE_DNS) / TCP(sport=42000, dport=5000, flags="PA") / Raw(SOAP)
    cloud = IP(src=CAM, dst="198.19.1.6") / TCP(sport=42001, dport=443, flags="PA")
    cloud = cloud / Raw(pb.client_hello("www.amcrestcloud.com"))
    f += [_eth(p, CAM_MAC) for p in (cs2, stun, ntp, soap, cloud)]
    # good camera: site DNS, site NTP, RTSP to the VMS
    f += _dns(GOOD, GOOD_MAC, SITE_DNS, "ntp.city.example", SITE_NTP, 40003)
    good_ntp = IP(src=GOOD, dst=SITE_NTP) / UDP(sport=123, dport=123) / Raw(bytes(48))
    rtsp = IP(src=VMS, dst=GOOD) / TCP(sport=50000, dport=554, flags="S")
    f += [_eth(good_ntp, GOOD_MAC), _eth(rtsp, "02:00:00:00:00:05", GOOD_MAC)]
    path = tmp_path / "site.pcap"
    path.write_bytes(pb.pcap([(1_700_000_000.0 + i, fr) for i, fr in enumerate(f)]))
    return path
