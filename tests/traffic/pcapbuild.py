"""Write pcap and pcapng files byte by byte, so tests control every field (and can break
them on purpose). Packets themselves are crafted with scapy or by hand."""

from __future__ import annotations

import struct
from collections.abc import Iterable

Packet = tuple[float, bytes]  # (timestamp, frame)


def pcap(
    packets: Iterable[Packet],
    linktype: int = 1,
    endian: str = "<",
    nano: bool = False,
    snaplen: int = 65535,
    wirelen_extra: int = 0,
) -> bytes:
    """Return a classic pcap file; ``wirelen_extra`` makes every record snaplen-cut."""
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for ts, frame in packets:
        sec = int(ts)
        frac = round((ts - sec) * (1e9 if nano else 1e6))
        out.append(struct.pack(endian + "IIII", sec, frac, len(frame), len(frame) + wirelen_extra))
        out.append(frame)
    return b"".join(out)


def _block(endian: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack(endian + "II", btype, length) + body + struct.pack(endian + "I", length)


def shb(endian: str = "<") -> bytes:
    return _block(endian, 0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(linktype: int, endian: str = "<", tsresol: int | None = None) -> bytes:
    opts = b""
    if tsresol is not None:
        opts = struct.pack(endian + "HH", 9, 1) + bytes([tsresol]) + b"\0\0\0"
        opts += struct.pack(endian + "HH", 0, 0)
    return _block(endian, 1, struct.pack(endian + "HHI", linktype, 0, 65535) + opts)


def epb(
    ifid: int, ts_units: int, frame: bytes, endian: str = "<", wirelen: int | None = None
) -> bytes:
    hi, lo = ts_units >> 32, ts_units & 0xFFFFFFFF
    wl = len(frame) if wirelen is None else wirelen
    return _block(endian, 6, struct.pack(endian + "IIIII", ifid, hi, lo, len(frame), wl) + frame)


def spb(frame: bytes, endian: str = "<") -> bytes:
    return _block(endian, 3, struct.pack(endian + "I", len(frame)) + frame)


def client_hello(sni: str) -> bytes:
    """Return a minimal TLS 1.2 ClientHello record carrying ``sni``."""
    name = sni.encode()
    ext = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    ext = struct.pack("!HH", 0x000B, 2) + b"\x01\x00" + ext  # ec_point_formats first
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    body += struct.pack("!H", len(ext)) + ext
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs
