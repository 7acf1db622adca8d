"""The lab's mirror port (``camlab.mirror``) on our own namespaces, not the shared lab.

A miniature of the lab's router: namespace ``camlab-t6-r<tag>`` with a camera leg
``lan0`` (to a camera namespace), a district bridge ``tbr1`` (with a second camera
behind it) and an uplink to a fake internet namespace; the probe's end of the mirror
sits in ``camlab-t6-p<tag>``. Addresses are in 198.18.200.0/21. Cameras send UDP to the
fake internet and to the router itself; the capture on the mirror must see each
datagram exactly once, both directions, and the mirror port must transmit nothing.
Everything is deleted in a ``finally``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time

import pytest
from camlab import mirror
from camlab.netns import inside, ip_batch

pytestmark = pytest.mark.needs_root


def test_tc_lines_copy_both_directions_of_every_leg() -> None:
    lines = mirror.router_tc_lines(["lan0", "camlab1"])
    assert "qdisc add dev lan0 clsact" in lines and "qdisc add dev camlab1 clsact" in lines
    for dev in ("lan0", "camlab1"):
        for hook in ("ingress", "egress"):
            assert any(
                ln.startswith(f"filter add dev {dev} {hook} ")
                and ln.endswith(f"action mirred egress mirror dev {mirror.MIRROR_PEER}")
                for ln in lines
            )
    sink = mirror.sink_tc_lines()
    assert sink[1].endswith(f"ingress pref 49000 {mirror.DROP_ALL}")
    assert sink[2].endswith(f"egress pref 49000 {mirror.DROP_ALL}")


def _tx_packets(ns: str, dev: str) -> int:
    # /sys/class/net shows the mount's namespace, not the thread's: ask ip
    out = subprocess.run(
        ["ip", "-n", ns, "-s", "-j", "link", "show", dev], capture_output=True, text=True
    ).stdout
    return int(json.loads(out)[0]["stats64"]["tx"]["packets"])


def test_mirror_sees_every_camera_packet_once_and_sends_nothing() -> None:
    if os.geteuid() != 0:
        pytest.fail("needs root (CI runs as root)")
    from auditor.traffic import DEFAULT_LOCAL
    from probes.capture import open_packet_socket, run_capture
    from probes.flows import FlowTable

    tag = f"{os.getpid() % 10000}"
    rtr, probe, inet = f"camlab-t6-r{tag}", f"camlab-t6-p{tag}", f"camlab-t6-i{tag}"
    cam1, cam2 = f"camlab-t6-c{tag}", f"camlab-t6-d{tag}"
    spaces = [rtr, probe, inet, cam1, cam2]
    mir = f"t6mir{tag}"
    sent = 200
    try:
        for ns in spaces:
            subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True)
        ip_batch(
            [
                f"link add lan0 type veth peer name eth0 netns {cam1}",
                f"link add wan0 type veth peer name up0 netns {inet}",
                "link add tbr1 type bridge",
                f"link add d1 type veth peer name eth0 netns {cam2}",
                "link set d1 master tbr1 up",
                "addr add 198.18.200.1/24 dev lan0",
                "addr add 198.18.201.1/24 dev tbr1",
                "addr add 198.18.202.1/30 dev wan0",
                "link set lo up",
                "link set lan0 up",
                "link set tbr1 up",
                "link set wan0 up",
                "route add 198.18.204.0/24 via 198.18.202.2",
            ],
            rtr,
        )
        for ns, addr, gw in ((cam1, "198.18.200.10/24", "198.18.200.1"),
                             (cam2, "198.18.201.10/24", "198.18.201.1")):  # fmt: skip
            ip_batch(
                ["link set lo up", f"addr add {addr} dev eth0", "link set eth0 up",
                 f"route add default via {gw}"],
                ns,
            )  # fmt: skip
        ip_batch(
            ["link set lo up", "addr add 198.18202.2/30 dev up0".replace("18202", "18.202"),
             "link set up0 up", "route add local 198.18.204.0/24 dev lo",
             "route add 198.18.200.0/21 via 198.18.202.1"],
            inet,
        )  # fmt: skip
        macs = {
            cam: json.loads(
                subprocess.run(["ip", "-n", ns, "-j", "link", "show", "eth0"],
                               capture_output=True, text=True).stdout
            )[0]["address"]
            for cam, ns in (("198.18.200.10", cam1), ("198.18.201.10", cam2))
        }  # fmt: skip
        with inside(rtr), open("/proc/sys/net/ipv4/ip_forward", "w") as fh:
            fh.write("1")
        name = mirror.setup(rtr, ["lan0", "tbr1"], host_ns=probe, host_if=mir)
        assert name == mir
        addrs = subprocess.run(
            ["ip", "-n", probe, "addr", "show", mir], capture_output=True, text=True
        ).stdout
        assert "inet" not in addrs  # neither IPv4 nor IPv6: the port only listens
        tx_before = _tx_packets(probe, mir)
        with inside(probe):
            sock = open_packet_socket(mir)
        # answers from the fake internet and from the router itself
        servers = []
        for ns, bind in ((inet, ("198.18.204.7", 32100)), (rtr, ("198.18.200.1", 53))):
            with inside(ns):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(bind)
            s.settimeout(3.0)  # outlives the pauses between warm-up and the counted burst
            servers.append(s)

        def echo(s: socket.socket) -> None:
            for _ in range(4 * sent):
                try:
                    data, peer = s.recvfrom(2048)
                except TimeoutError:
                    return
                s.sendto(data, peer)

        echoers = [threading.Thread(target=echo, args=(s,), daemon=True) for s in servers]
        table = FlowTable()
        result = []
        worker = threading.Thread(
            target=lambda: result.append(run_capture(sock, mir, 4.0, table)), daemon=True
        )
        clients = []
        for ns in (cam1, cam2):
            with inside(ns):
                clients.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        try:
            for t in echoers:
                t.start()
            worker.start()
            time.sleep(0.3)
            for c in clients:
                for dest in (("198.18.204.7", 32100), ("198.18.200.1", 53)):
                    c.sendto(b"warm-up", dest)  # ARP on both legs before counting
            time.sleep(0.5)
            for i in range(sent):
                for c in clients:
                    c.sendto(b"\xf1\x00\x00\x04" + i.to_bytes(4, "big"), ("198.18.204.7", 32100))
                    c.sendto(b"dns?" + i.to_bytes(4, "big"), ("198.18.200.1", 53))
                if i % 50 == 49:
                    time.sleep(0.01)  # let the echo threads keep up: no socket overflow
            worker.join(10)
        finally:
            for s in servers + clients:
                s.close()
            sock.close()
        stats = result[0]
        assert stats.kernel_drops == 0 and stats.other_interface == 0
        assert _tx_packets(probe, mir) == tx_before == 0
        nets = [*DEFAULT_LOCAL, "198.18.200.0/21"]
        obs = {o.ip: o for o in table.observations("live:mirror", nets)}
        for cam in ("198.18.200.10", "198.18.201.10"):
            flows = {(f["peer"], f["peer_port"]): f for f in obs[cam].data["flows"]}
            p2p = flows[("198.18.204.7", 32100)]
            dns = flows[("198.18.200.1", 53)]
            # exactly once each way: the warm-up plus the counted datagrams
            assert p2p["packets_out"] == p2p["packets_in"] == sent + 1, (cam, p2p)
            assert dns["packets_out"] == dns["packets_in"] == sent + 1, (cam, dns)
            assert obs[cam].mac == macs[cam]  # the camera's own frames, not the router's
    finally:
        for ns in spaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(ns in listed for ns in spaces)
