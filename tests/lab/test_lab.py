"""End-to-end: the lab's network, fake internet and CLI against real namespaces."""

from __future__ import annotations

import json
import os
import socket
import struct
import time
from typing import Any

import pytest
from camlab import control
from camlab.errors import LabError
from camlab.netns import inside
from camlab.spec import INET_NS, PROBE_IP, LabDevice, cloud_address
from typer.testing import CliRunner

pytestmark = [pytest.mark.needs_root, pytest.mark.lab, pytest.mark.usefixtures("clean_slate")]


def _devices() -> list[LabDevice]:
    return [LabDevice.from_dict(d) for d in control.status()["devices"]]


def _wait_for(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    return check()


def _ping(ip: str, timeout: float = 2.0) -> bool:
    """One ICMP echo from the host (raw socket: we are root); True on a matching reply."""
    ident = os.getpid() & 0xFFFF
    payload = b"camlab-test"
    header = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
    data = header + payload
    padded = data + b"\0" * (len(data) % 2)
    s = sum(struct.unpack(f"!{len(padded) // 2}H", padded))
    s = (s >> 16) + (s & 0xFFFF)
    csum = ~(s + (s >> 16)) & 0xFFFF
    packet = struct.pack("!BBHHH", 8, 0, csum, ident, 1) + payload
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, (ip, 0))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                reply, src = sock.recvfrom(2048)
            except TimeoutError:
                return False
            ihl = (reply[0] & 0xF) * 4
            rtype, _code, _ck, rid, _seq = struct.unpack("!BBHHH", reply[ihl : ihl + 8])
            if src[0] == ip and rtype == 0 and rid == ident:
                return True
    return False


def _tcp_roundtrip(dev: LabDevice, port: int = 47001) -> str:
    """Listen inside the device's namespace, connect from the host, return the peer seen."""
    with inside(dev.netns):
        server = socket.create_server(("0.0.0.0", port))
    server.settimeout(3)
    try:
        with socket.create_connection((dev.ip, port), timeout=3) as client:
            conn, peer = server.accept()
            conn.sendall(b"hi")
            assert client.recv(2) == b"hi"
            conn.close()
    finally:
        server.close()
    return str(peer[0])


def test_status_json_shape(lab: dict[str, Any]) -> None:
    st = control.status()
    for key in (
        "up", "subnet", "probe_ip", "routed_subnets", "internet", "site_dns", "site_ntp",
        "devices", "daemon_pid", "daemon_alive",
    ):  # fmt: skip
        assert key in st, key
    assert st["up"] and st["daemon_alive"]
    assert st["probe_ip"] == "198.18.0.1" and st["routed_subnets"] == ["198.18.8.0/24"]
    assert len(st["devices"]) == lab["devices"] == 10
    dev = st["devices"][0]
    assert {"name", "ip", "mac", "vendor", "oem", "services", "routed", "phone_home"} <= set(dev)
    assert "password" not in dev
    assert sum(d["routed"] for d in st["devices"]) == 2
    # the CLI prints exactly status() (daemon counters move, so compare the stable parts)
    out = CliRunner().invoke(_cli(), ["lab", "status", "--json"])
    assert out.exit_code == 0, out.output
    printed = json.loads(out.output)
    assert printed["devices"] == st["devices"] and set(printed) == set(st)


def test_local_device_reachable_by_ping_and_tcp(lab: dict[str, Any]) -> None:
    dev = next(d for d in _devices() if not d.routed)
    assert _ping(dev.ip)
    assert _tcp_roundtrip(dev) == PROBE_IP  # same segment: no router in between


def test_routed_device_reachable_through_router(lab: dict[str, Any]) -> None:
    dev = next(d for d in _devices() if d.routed)
    assert dev.ip.startswith("198.18.8.")
    assert _ping(dev.ip)
    assert _tcp_roundtrip(dev) == PROBE_IP  # routed, not NATed: the camera sees the probe


def test_device_has_its_mac(lab: dict[str, Any]) -> None:
    dev = _devices()[0]
    with inside(dev.netns):
        import fcntl

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            info = fcntl.ioctl(s.fileno(), 0x8927, struct.pack("256s", b"eth0"))  # SIOCGIFHWADDR
    assert ":".join(f"{b:02x}" for b in info[18:24]) == dev.mac


def test_multicast_reaches_local_devices_but_not_routed(lab: dict[str, Any]) -> None:
    group, port = "239.255.255.250", 47002
    devs = _devices()
    local = next(d for d in devs if not d.routed)
    routed = next(d for d in devs if d.routed)
    receivers = {}
    for dev in (local, routed):
        with inside(dev.netns):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", port))
            mreq = socket.inet_aton(group) + socket.inet_aton(dev.ip)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        s.settimeout(1.0)
        receivers[dev.name] = s
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            # the probe names its interface: multicast must never leave through eth0
            tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(PROBE_IP))
            tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 8)  # TTL is not why
            for _ in range(3):
                tx.sendto(b"probe", (group, port))
        assert receivers[local.name].recvfrom(100)[0] == b"probe"
        with pytest.raises(TimeoutError):
            receivers[routed.name].recvfrom(100)
    finally:
        for s in receivers.values():
            s.close()


def _daemon() -> dict[str, Any]:
    return dict(control.status()["daemon"])


def test_phone_home_reaches_the_fake_internet(lab: dict[str, Any]) -> None:
    devs = _devices()
    routed = next(d for d in devs if d.routed)

    def seen() -> bool:
        inet = _daemon().get("traffic", {}).get("internet", {})
        src = inet.get("by_source", {}).get(routed.ip, {})
        return bool(src.get("udp/32100") and src.get("tcp/7660") and src.get("ntp"))

    assert _wait_for(seen), _daemon().get("devices", {}).get(routed.name)
    traffic = _daemon()["traffic"]
    # the hard-coded "public" resolver 114.114.114.114 is answered as 198.19.114.114
    assert traffic["internet"]["dns_by_server"].get("198.19.114.114", 0) >= 1
    assert traffic["internet"]["dns_queries"].get("p2p.easy4ip.com", 0) >= 1
    # well-configured lookups go to the site resolver on the router
    assert traffic["site"]["dns_queries"].get("dev.hik-connect.com", 0) >= 1
    assert traffic["site"]["ntp_replies"] >= 1
    assert traffic["zone"]["dev.hik-connect.com"] == cloud_address("dev.hik-connect.com")


def test_upnp_port_mappings_are_recorded(lab: dict[str, Any]) -> None:
    path = control._run_dir() / "upnp.jsonl"

    def mapped() -> set[str]:
        if not path.exists():
            return set()
        return {json.loads(line)["from"] for line in path.read_text().splitlines()}

    ips = {d.ip for d in _devices()}
    assert _wait_for(lambda: mapped() >= ips), mapped() ^ ips
    record = json.loads(path.read_text().splitlines()[0])
    assert record["NewExternalPort"] == "8000" and record["NewInternalClient"] in ips


def test_fake_internet_dns_answers_and_nxdomain(lab: dict[str, Any]) -> None:
    from camlab import wire

    dev = _devices()[0]
    with inside(dev.netns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with s:
        s.settimeout(2)
        for server in ("198.19.0.53", "198.19.8.8"):
            q = wire.dns_query("dev.hik-connect.com", txid=0x1234)
            s.sendto(q, (server, 53))
            data, src = s.recvfrom(512)
            assert src[0] == server  # answered from the address asked (IP_PKTINFO)
            assert wire.dns_parse_a(data, 0x1234) == (0, [cloud_address("dev.hik-connect.com")])
        s.sendto(wire.dns_query("example.org", txid=0x4321), ("198.19.0.53", 53))
        assert wire.dns_parse_a(s.recvfrom(512)[0], 0x4321)[0] == 3
    # and nothing in the fake internet can reach the host's own networks
    with inside(INET_NS), open("/proc/thread-self/net/route") as fh:
        routes = fh.read()
    assert "00000000" not in [line.split()[1] for line in routes.splitlines()[1:]]


def test_up_twice_is_a_clear_error(lab: dict[str, Any]) -> None:
    with pytest.raises(LabError, match="already up"):
        control.up(3, 1)
    out = CliRunner().invoke(_cli(), ["lab", "up", "--cameras", "3"])
    assert out.exit_code == 2
    assert "already up" in out.output
    assert control.status()["up"]  # the refusal did not touch the running lab


def _cli() -> Any:
    from auditor.cli import app

    return app
