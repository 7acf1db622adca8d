"""Live capture: refusals without root, and a real capture on our own veth pair.

The root test builds two network namespaces named ``camlab-t6-*`` joined by a veth pair
in 198.18.200.0/24, sends known UDP datagrams from one, captures on the other's end, and
removes everything in a ``finally``. No host interface is touched.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time

import pytest

from auditor.errors import TargetError
from probes.capture import (
    CaptureStats,
    compile_bpf,
    open_packet_socket,
    parse_duration,
    run_capture,
)
from probes.flows import FlowTable


@pytest.mark.parametrize("name", ["", "any", "*"])
def test_refuses_unnamed_interface(name: str) -> None:
    with pytest.raises(TargetError, match="name the interface"):
        open_packet_socket(name)


def test_refuses_unknown_interface() -> None:
    with pytest.raises(TargetError, match="no interface named"):
        open_packet_socket("camt6-nosuch0")


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90.0), ("30s", 30.0), ("10m", 600.0), ("1h", 3600.0)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "ten", "-5s", "9999h"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(TargetError):
        parse_duration(text)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@pytest.mark.needs_root
def test_live_capture_on_own_veth_counts_every_packet_and_no_drops() -> None:
    if os.geteuid() != 0:
        pytest.fail("needs root (CI runs as root)")
    from camlab.netns import inside

    tag = f"{os.getpid() % 100000}"
    ns_a, ns_b = f"camlab-t6-a{tag}", f"camlab-t6-b{tag}"
    veth_a, veth_b = f"t6a{tag}", f"t6b{tag}"
    sent, port = 300, 9999
    try:
        _ip("netns", "add", ns_a)
        _ip("netns", "add", ns_b)
        _ip(
            "-n", ns_a, "link", "add", veth_a, "type", "veth", "peer", "name", veth_b, "netns", ns_b
        )
        _ip("-n", ns_a, "addr", "add", "198.18.200.1/24", "dev", veth_a)
        _ip("-n", ns_b, "addr", "add", "198.18.200.2/24", "dev", veth_b)
        _ip("-n", ns_a, "link", "set", veth_a, "up")
        _ip("-n", ns_b, "link", "set", veth_b, "up")
        bpf = compile_bpf(f"udp and port {port}")
        with inside(ns_b):
            sock = open_packet_socket(veth_b, bpf)
        with inside(ns_a):
            tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        table = FlowTable()
        result: list[CaptureStats] = []
        worker = threading.Thread(
            target=lambda: result.append(run_capture(sock, veth_b, 4.0, table)), daemon=True
        )
        try:
            worker.start()
            time.sleep(0.3)
            tx.bind(("198.18.200.1", 40000))
            tx.sendto(b"warm-up: resolves ARP", ("198.18.200.2", port))
            time.sleep(0.3)
            for i in range(sent):
                tx.sendto(b"\xf1\x00\x00\x04" + i.to_bytes(4, "big"), ("198.18.200.2", port))
            worker.join(10)
        finally:
            tx.close()
            sock.close()
        stats = result[0]
        assert stats.kernel_drops == 0 and stats.other_interface == 0
        assert stats.packets == sent + 1  # the filter let only our datagrams through
        obs = table.observations(f"live:{veth_b}", ["198.18.200.0/24"])
        cam = next(o for o in obs if o.ip == "198.18.200.1")
        flow = next(f for f in cam.data["flows"] if f["peer_port"] == port)
        assert flow["packets_out"] == sent + 1 and flow["direction"] == "out"
        assert flow["payload_hex_out"] == b"warm-up: resolves ARP"[:16].hex()
        assert obs[-1].data["drops"]["kernel_drops"] == 0
        assert obs[-1].data["non_ip"] == 0
    finally:
        subprocess.run(["ip", "netns", "del", ns_a], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns_b], capture_output=True)
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert ns_a not in listed and ns_b not in listed
