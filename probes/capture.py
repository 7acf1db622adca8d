"""Live capture into the flow table: an AF_PACKET socket on the interface the user named.

Safety: there is no default interface and no "any": :func:`open_packet_socket` refuses
an empty name, ``any``, and names that do not exist. The socket is created with protocol
0 (it receives nothing) and only starts receiving when bound to that one interface, so
not a single packet of another interface is ever read (the race libpcap avoids the
same way); each packet's interface is still checked.

The kernel's drop counters (``PACKET_STATISTICS``: packets queued, packets dropped for
lack of buffer) are read at the start (which resets them) and at the end, and reported
as they are, with the packets the BPF filter discarded never counted as drops.
"""

from __future__ import annotations

import logging
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from auditor.errors import ProbeError, TargetError
from probes.flows import FlowTable

log = logging.getLogger(__name__)

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_STATISTICS = 6
SO_ATTACH_FILTER = 26
SO_RCVBUFFORCE = 33
RCVBUF = 32 * 1024 * 1024
SNAPLEN = 65535
MSG_TRUNC = getattr(socket, "MSG_TRUNC", 0x20)
ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772
# hatypes that carry IP without a link header (tun, ip-in-ip, sit, ...)
ARPHRD_RAW_IP = {0xFFFE, 768, 769, 776, 778, 823}


@dataclass
class CaptureStats:
    """What a live capture saw and what the kernel says it lost."""

    interface: str
    duration_s: float = 0.0
    packets: int = 0
    bytes: int = 0
    kernel_packets: int = 0  # tp_packets: packets past the BPF filter, drops included
    kernel_drops: int = 0  # tp_drops: lost for lack of buffer space
    other_interface: int = 0  # must stay 0 (see module doc)
    bpf: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "interface": self.interface,
            "duration_s": round(self.duration_s, 3),
            "packets": self.packets,
            "bytes": self.bytes,
            "kernel_packets": self.kernel_packets,
            "kernel_drops": self.kernel_drops,
            "other_interface": self.other_interface,
            "bpf": self.bpf,
            "notes": list(self.notes),
        }


def parse_duration(text: str) -> float:
    """Return seconds for ``90``, ``90s``, ``10m``, ``1h``; raise TargetError otherwise."""
    t = text.strip().lower()
    mult = {"s": 1, "m": 60, "h": 3600}.get(t[-1:])
    num = t[:-1] if mult else t
    try:
        value = float(num) * (mult or 1)
    except ValueError:
        raise TargetError(f"--duration: {text!r} is not a duration (e.g. 30s, 10m, 1h)") from None
    if not 0 < value <= 7 * 86400:
        raise TargetError(f"--duration: {text!r} must be between 0 and 7 days")
    return value


def compile_bpf(expression: str) -> bytes:
    """Compile a tcpdump filter expression to a classic BPF program (``struct sock_fprog``
    payload); raise ProbeError when tcpdump is missing or rejects the expression."""
    tcpdump = shutil.which("tcpdump")
    if not tcpdump:
        raise ProbeError("a BPF filter needs tcpdump (apt-get install tcpdump) to compile it")
    try:
        out = subprocess.run(
            [tcpdump, "-ddd", "-y", "EN10MB", expression],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except subprocess.CalledProcessError as exc:
        raise ProbeError(f"BPF filter {expression!r}: {exc.stderr.strip()}") from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProbeError(f"BPF filter {expression!r}: {exc}") from exc
    lines = out.split("\n")
    try:
        count = int(lines[0])
        insns = [tuple(int(x) for x in line.split()) for line in lines[1 : 1 + count]]
        return b"".join(struct.pack("HBBI", *ins) for ins in insns)
    except (ValueError, IndexError, struct.error) as exc:
        raise ProbeError(f"BPF filter {expression!r}: unexpected tcpdump output") from exc


def open_packet_socket(interface: str, bpf: bytes | None = None) -> socket.socket:
    """Return an AF_PACKET socket receiving from ``interface`` only.

    Raises TargetError for a missing, ``any`` or unknown interface, ProbeError when the
    socket cannot be opened (not root: CAP_NET_RAW is needed).
    """
    if not interface or interface.strip() in ("any", "*", "all"):
        raise TargetError("name the interface to capture on (--iface); 'any' is refused")
    try:
        socket.if_nametoindex(interface)
    except OSError:
        raise TargetError(f"no interface named {interface!r} here") from None
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except PermissionError as exc:
        raise ProbeError("live capture needs root (CAP_NET_RAW)") from exc
    try:
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
        except OSError:  # without CAP_NET_ADMIN: the rmem_max-capped request still helps
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        if bpf:
            import ctypes

            prog = ctypes.create_string_buffer(bpf)
            fprog = struct.pack("HL", len(bpf) // 8, ctypes.addressof(prog))
            sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)  # the kernel copies it
        sock.bind((interface, ETH_P_ALL))
    except OSError as exc:
        sock.close()
        raise ProbeError(f"cannot capture on {interface}: {exc}") from exc
    return sock


def _kernel_stats(sock: socket.socket) -> tuple[int, int]:
    raw = sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
    packets, drops = struct.unpack("II", raw)
    return packets, drops


def run_capture(
    sock: socket.socket,
    interface: str,
    duration_s: float,
    table: FlowTable,
    *,
    max_packets: int | None = None,
    on_tick: Callable[[CaptureStats], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> CaptureStats:
    """Read packets from ``sock`` into ``table`` for ``duration_s``; return the stats.

    Stops early after ``max_packets``. ``on_tick`` is called about once a second.
    """
    stats = CaptureStats(interface=interface)
    _kernel_stats(sock)  # reading resets the counters: count from here
    buf = bytearray(SNAPLEN)
    view = memoryview(buf)
    sock.settimeout(0.2)
    start = clock()
    deadline = start + duration_s
    next_tick = start + 1.0
    add = table.add
    first_ts: float | None = None
    ts = 0.0
    try:
        while True:
            now = clock()
            if now >= deadline or (max_packets is not None and stats.packets >= max_packets):
                break
            if on_tick is not None and now >= next_tick:
                next_tick = now + 1.0
                kp, kd = _kernel_stats(sock)
                stats.kernel_packets += kp
                stats.kernel_drops += kd
                on_tick(stats)
            try:
                wirelen, addr = sock.recvfrom_into(view, SNAPLEN, MSG_TRUNC)
            except TimeoutError:
                continue
            except InterruptedError:  # a signal: retry
                continue
            if addr[0] != interface:
                stats.other_interface += 1
                continue
            ts = time.time()
            if first_ts is None:
                first_ts = ts
            caplen = min(wirelen, SNAPLEN)
            hatype = addr[3]
            if hatype in (ARPHRD_ETHER, ARPHRD_LOOPBACK):
                lt = 1
            elif hatype in ARPHRD_RAW_IP:
                lt = 101
            else:
                lt = 0x10000 + hatype  # counted as an unknown link type
            stats.packets += 1
            stats.bytes += wirelen
            add(lt, ts, caplen, wirelen, buf, 0)
    finally:
        kp, kd = _kernel_stats(sock)
        stats.kernel_packets += kp
        stats.kernel_drops += kd
        stats.duration_s = clock() - start
    if first_ts is not None:
        table.first_ts = first_ts if table.first_ts is None else min(table.first_ts, first_ts)
        table.last_ts = ts if table.last_ts is None else max(table.last_ts, ts)
    table.drops = {
        "kernel_drops": stats.kernel_drops,
        "kernel_packets": stats.kernel_packets,
        "other_interface": stats.other_interface,
    }
    return stats


def capture(
    interface: str,
    duration_s: float,
    table: FlowTable | None = None,
    *,
    bpf_expression: str | None = None,
    on_tick: Callable[[CaptureStats], None] | None = None,
) -> tuple[FlowTable, CaptureStats]:
    """Capture on ``interface`` for ``duration_s`` seconds; return (table, stats).

    Raises TargetError/ProbeError as :func:`open_packet_socket` and :func:`compile_bpf`.
    """
    table = table if table is not None else FlowTable()
    bpf = compile_bpf(bpf_expression) if bpf_expression else None
    sock = open_packet_socket(interface, bpf)
    try:
        stats = run_capture(sock, interface, duration_s, table, on_tick=on_tick)
    finally:
        sock.close()
    stats.bpf = bpf_expression
    return table, stats
