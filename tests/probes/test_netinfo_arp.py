"""Which interface faces the targets, and ARP frames / neighbour table parsing."""

from __future__ import annotations

import ipaddress

import pytest
from camreplay import fixture

from auditor.errors import TargetError
from probes import arp, netinfo

IFACES = netinfo.parse_ip_addr(fixture("netinfo", "ip-addr-camvlan.json").decode())
BY_NAME = {i.name: i for i in IFACES}
N = ipaddress.IPv4Network


def test_parse_ip_addr() -> None:
    assert sorted(BY_NAME) == ["camlab0", "down0", "eth0", "lo", "wg0"]
    cam = BY_NAME["camlab0"]
    assert cam.network == N("198.18.0.0/22") and str(cam.address) == "198.18.0.1"
    assert cam.can_arp and cam.can_multicast and not cam.loopback
    assert not BY_NAME["wg0"].can_arp and not BY_NAME["lo"].can_multicast


def test_facing_interface_is_the_connected_one_only() -> None:
    assert netinfo.facing_interface(N("198.18.0.0/24"), IFACES) is BY_NAME["camlab0"]
    # routed district: reached via a router, not on-link; down0 holds it but is down
    assert netinfo.facing_interface(N("198.18.8.0/24"), IFACES) is None
    # something only reachable via the default route on eth0: no interface faces it
    assert netinfo.facing_interface(N("10.20.0.0/24"), IFACES) is None
    # a target wider than the subnet is narrowed to the on-link part
    fm = netinfo.facing_map([N("198.18.0.0/16")], IFACES)
    assert fm == {BY_NAME["camlab0"]: [N("198.18.0.0/22")]}


def test_require_facing_refuses_other_interfaces() -> None:
    with pytest.raises(TargetError, match="does not face"):
        netinfo.require_facing(BY_NAME["eth0"], ["198.18.0.10"], [N("198.18.0.0/24")])
    hosts = ["198.18.0.10", "198.18.8.20", "192.0.2.9"]
    nets = [N("198.18.0.0/24"), N("198.18.8.0/24")]
    assert netinfo.require_facing(BY_NAME["camlab0"], hosts, nets) == ["198.18.0.10"]


async def test_arp_sweep_refuses_before_opening_a_socket() -> None:
    with pytest.raises(TargetError):
        await arp.sweep(BY_NAME["eth0"], ["198.18.0.10"], [N("198.18.0.0/24")], timeout=0.1)


def test_arp_frames_round_trip() -> None:
    req = arp.build_request("0a:5e:00:00:00:01", "198.18.0.1", "198.18.0.10")
    assert len(req) == 60 and req[:6] == b"\xff" * 6 and req[12:14] == b"\x08\x06"
    assert arp.parse_reply(req) is None  # a request is not a reply
    reply = bytearray(req)
    reply[20:22] = b"\x00\x02"
    reply[22:28] = bytes.fromhex("4419b6a1b2c3")
    reply[28:32] = bytes([198, 18, 0, 10])
    assert arp.parse_reply(bytes(reply)) == ("198.18.0.10", "44:19:b6:a1:b2:c3")
    assert arp.parse_reply(b"\x00" * 10) is None


def test_neighbour_table_fallback() -> None:
    text = fixture("netinfo", "ip-neigh.json").decode()
    obs = arp.neighbours(["198.18.0.10", "198.18.0.11", "198.18.0.12"], text)
    assert [(o.ip, o.mac, o.data["method"]) for o in obs] == [
        ("198.18.0.10", "44:19:b6:a1:b2:c3", "neighbour"),
        ("198.18.0.11", "3c:e3:6b:0a:0b:0c", "neighbour"),
    ]  # .12 FAILED and 192.0.2.1 (not asked) are left out
    assert arp.neighbours(["198.18.0.10"], "not json") == []
