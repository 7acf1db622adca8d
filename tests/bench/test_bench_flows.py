"""Benchmark: a 1M-packet camera-VLAN pcap into camaudit's flow table vs tshark.

The capture is written with struct from per-flow frame templates (scapy per packet
would take minutes): 250 cameras streaming RTP to a VMS, RTSP over TCP with the
recorder's ACKs, DNS to the site resolver and to a hard-coded 8.8.8.8, NTP, HTTPS with
a ClientHello to a vendor cloud, Easy4IP-style UDP 8800 and CS2 UDP 32100 hellos, ARP.
Figures: packets/s in-process (camaudit) and for ``tshark -q -z conv,ip -r FILE``, the
ratio, and peak RSS of each. Targets: >= 400k packets/s and >= 4x tshark.
"""

from __future__ import annotations

import gc
import os
import random
import resource
import shutil
import struct
import time
from pathlib import Path
from typing import Any

import pytest

PACKETS = int(os.environ.get("BENCH_FLOW_PACKETS", "1000000"))
CAMERAS = 250
VMS = bytes([198, 18, 1, 2])
SITE_DNS = bytes([198, 18, 0, 1])
GW_MAC = bytes.fromhex("020000000001")
VMS_MAC = bytes.fromhex("020000000102")


def _eth(dst: bytes, src: bytes, etype: int, payload: bytes) -> bytes:
    return dst + src + struct.pack("!H", etype) + payload


def _ipv4(src: bytes, dst: bytes, proto: int, l4: bytes) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0x4000, 64, proto, 0, src, dst)
    return hdr + l4


def _udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def _tcp(sport: int, dport: int, flags: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 1, 5 << 4, flags, 65535, 0, 0) + payload


def _dns(name: str, answer: bytes | None) -> bytes:
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + b"\0\1\0\1"
    if answer is None:
        return struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + q
    rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + answer
    return struct.pack("!HHHHHH", 0x1234, 0x8180, 1, 1, 0, 0) + q + rr


def _client_hello(sni: str) -> bytes:
    name = sni.encode()
    sni_ext = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    body += struct.pack("!H", len(sni_ext)) + sni_ext
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def _templates(cam: int) -> list[tuple[int, bytes]]:
    """(weight, frame) pairs for one camera."""
    ip = bytes([198, 18, 0, 10 + cam % 240]) if cam < 240 else bytes([198, 18, 2, cam])
    mac = bytes.fromhex("bcad28") + cam.to_bytes(3, "big")
    cloud = bytes([198, 19, 8, 1 + cam % 50])
    rtp = b"\x80\x60" + bytes(10) + bytes(1388)
    out = [
        (80, _eth(VMS_MAC, mac, 0x0800, _ipv4(ip, VMS, 17, _udp(50000, 40000 + cam, rtp)))),
        (6, _eth(mac, VMS_MAC, 0x0800, _ipv4(VMS, ip, 6, _tcp(41000 + cam, 554, 0x10)))),
        (
            4,
            _eth(VMS_MAC, mac, 0x0800, _ipv4(ip, VMS, 6, _tcp(554, 41000 + cam, 0x18, bytes(900)))),
        ),
        (2, _eth(GW_MAC, mac, 0x0800, _ipv4(ip, cloud, 17, _udp(30000, 8800, bytes(48))))),
        (1, _eth(GW_MAC, mac, 0x0800, _ipv4(ip, cloud, 17, _udp(30001, 32100, b"\xf1\0\0\0")))),
        (
            2,
            _eth(
                GW_MAC,
                mac,
                0x0800,
                _ipv4(ip, cloud, 6, _tcp(45000, 443, 0x18, _client_hello("dev.hik-connect.com"))),
            ),
        ),
        (1, _eth(mac, GW_MAC, 0x0800, _ipv4(cloud, ip, 6, _tcp(443, 45000, 0x10)))),
        (
            1,
            _eth(
                GW_MAC,
                mac,
                0x0800,
                _ipv4(ip, SITE_DNS, 17, _udp(53000 + cam, 53, _dns("p2p.easy4ipcloud.com", None))),
            ),
        ),
        (
            1,
            _eth(
                mac,
                GW_MAC,
                0x0800,
                _ipv4(SITE_DNS, ip, 17, _udp(53, 53000 + cam, _dns("p2p.easy4ipcloud.com", cloud))),
            ),
        ),
        (
            1,
            _eth(
                GW_MAC,
                mac,
                0x0800,
                _ipv4(ip, bytes([8, 8, 8, 8]), 17, _udp(53100, 53, _dns("xmeye.net", None))),
            ),
        ),
        (1, _eth(GW_MAC, mac, 0x0800, _ipv4(ip, SITE_DNS, 17, _udp(123, 123, bytes(48))))),
        (1, _eth(b"\xff" * 6, mac, 0x0806, bytes(28))),
    ]
    return out


def make_camera_pcap(path: Path, packets: int, cameras: int = CAMERAS, seed: int = 1) -> int:
    """Write a classic pcap of ``packets`` camera-VLAN frames; return its size in bytes."""
    rng = random.Random(seed)
    frames: list[bytes] = []
    weights: list[int] = []
    for cam in range(cameras):
        for w, frame in _templates(cam):
            frames.append(frame)
            weights.append(w)
    # pre-pack one record (header + frame) per template; vary only the timestamp
    picks = rng.choices(range(len(frames)), weights=weights, k=packets)
    rec = struct.Struct("<IIII")
    t0 = 1_700_000_000
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        chunk: list[bytes] = []
        for i, idx in enumerate(picks):
            f = frames[idx]
            usec = i * 40  # 25k packets/s of capture time
            chunk.append(rec.pack(t0 + usec // 1_000_000, usec % 1_000_000, len(f), len(f)))
            chunk.append(f)
            if len(chunk) >= 20000:
                fh.write(b"".join(chunk))
                chunk.clear()
        fh.write(b"".join(chunk))
    return path.stat().st_size


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _status_mib(field: str) -> float:
    """Return a /proc/self/status memory field (``RssAnon``, ``RssFile``) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


@pytest.fixture(scope="module")
def camera_pcap(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    path = tmp_path_factory.mktemp("flows") / "camera-vlan-1m.pcap"
    t0 = time.perf_counter()
    make_camera_pcap(path, PACKETS)
    return path, time.perf_counter() - t0


def test_bench_flows_vs_tshark(bench: Any, camera_pcap: tuple[Path, float]) -> None:
    from probes.flows import FlowTable, read_files

    path, gen_s = camera_pcap
    result: dict[str, Any] = {
        "packets": PACKETS,
        "file_mib": round(path.stat().st_size / 2**20, 1),
        "generate_s": round(gen_s, 2),
    }
    # tshark first: the children's peak RSS is a running max, so the big child goes first
    if shutil.which("tshark"):
        ts = bench.timed(["tshark", "-q", "-z", "conv,ip", "-r", str(path)])
        assert ts["rc"] == 0, ts["stderr"]
        result["tshark_s"] = ts["wall_s"]
        result["tshark_pkt_s"] = round(PACKETS / ts["wall_s"])
        result["tshark_peak_rss_mib"] = ts["peak_rss_mib"]
    gc.collect()
    rss0 = _rss_mib()
    anon0 = _status_mib("RssAnon")
    t0 = time.perf_counter()
    c0 = time.process_time()
    table, stats = read_files([str(path)], FlowTable())
    read_s = time.perf_counter() - t0
    cpu_s = time.process_time() - c0
    anon1 = _status_mib("RssAnon")
    obs = table.observations("pcap:" + path.name, local_networks=["198.18.0.0/16"])
    report_s = time.perf_counter() - t0 - read_s
    assert stats.packets == PACKETS and not stats.errors
    assert table.packets == PACKETS
    result.update(
        camaudit_read_s=round(read_s, 3),
        camaudit_pkt_s=round(PACKETS / read_s),
        camaudit_report_s=round(report_s, 3),
        camaudit_cpu_s=round(cpu_s, 3),
        # peak RSS counts the mmap'd file's page-cache pages (shared, reclaimable);
        # the anonymous RSS growth is what the flow table itself allocated
        camaudit_peak_rss_mib=round(_rss_mib(), 1),
        camaudit_rss_before_mib=round(rss0, 1),
        camaudit_rss_anon_growth_mib=round(anon1 - anon0, 1),
        load_avg=os.getloadavg()[0],
        flows=len(table.flows),
        devices=len(obs) - 1,
        skipped=table.skip_summary()["skipped"],
        non_ip=table.non_ip,
    )
    if "tshark_s" in result:
        result["speedup_vs_tshark"] = round(result["tshark_s"] / read_s, 2)
    bench.record("flows_vs_tshark", result)
    assert result["camaudit_pkt_s"] >= 400_000, result
    if "speedup_vs_tshark" in result:
        assert result["speedup_vs_tshark"] >= 4.0, result
