"""Build 802.11 / radiotap / BLE frames and pcap files byte by byte for parser tests.

Written here with struct from the radiotap and IEEE 802.11 layouts, independent of
both the parser under test and the lab's writer. Names say which device the frame
imitates.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

BCAST = b"\xff" * 6


def mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def radiotap(channel_mhz: int = 2437, signal: int = -52, fcs: bool = False) -> bytes:
    """TSFT, Flags, Rate, Channel, dBm signal: TSFT forces 8-byte alignment at offset 8."""
    present = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 5)
    flags = 0x10 if fcs else 0
    body = struct.pack("<QBBHHb", 123456789, flags, 0x0C, channel_mhz, 0x00A0, signal)
    return struct.pack("<BBHI", 0, 0, 8 + len(body), present) + body


def radiotap_ext_vendor(channel_mhz: int = 5180, signal: int = -61) -> bytes:
    """Three present words: default ns (ext + ns reset), default ns (ext + vendor ns), vendor.

    Word 0: Flags, Channel, dBm signal, bit 29, bit 31. Word 1: dBm signal (antenna 2),
    antenna, bit 30 (vendor namespace next), bit 31. Word 2: vendor bits. Data: flags@16,
    channel@18, signal@22, signal2@23, antenna@24, vendor header@26 (align 2), skip 5.
    """
    w0 = (1 << 1) | (1 << 3) | (1 << 5) | (1 << 29) | (1 << 31)
    w1 = (1 << 5) | (1 << 11) | (1 << 30) | (1 << 31)
    w2 = 0x3
    hdr_len = 4 + 12
    data = struct.pack("<BxHHbbB", 0x00, channel_mhz, 0x0140, signal, signal - 3, 1)
    # offsets: 16 flags, 17 pad, 18 chan(4), 22 sig, 23 sig2, 24 antenna -> 25; align 2 -> 26
    data += b"\x00" + b"\x00\x11\x22" + b"\x01" + struct.pack("<H", 5) + b"VENDR"
    return struct.pack("<BBHIII", 0, 0, hdr_len + len(data), w0, w1, w2) + data


def ie(eid: int, payload: bytes) -> bytes:
    return bytes([eid, len(payload)]) + payload


RSN = ie(48, bytes([1, 0, 0, 0x0F, 0xAC, 4, 1, 0, 0, 0x0F, 0xAC, 4, 1, 0, 0, 0x0F, 0xAC, 2, 0, 0]))


def beacon(bssid: bytes, ssid: bytes, channel: int, privacy: bool = True, sub: int = 8) -> bytes:
    cap = 0x0401 | (0x10 if privacy else 0)
    hdr = struct.pack("<BBH6s6s6sH", sub << 4, 0, 0, BCAST, bssid, bssid, 0x10)
    body = struct.pack("<QHH", 0, 100, cap) + ie(0, ssid) + ie(1, b"\x82\x84\x8b\x96")
    body += ie(3, bytes([channel]))
    return hdr + body + (RSN if privacy else b"")


def probe_request(sta: bytes, ssid: bytes) -> bytes:
    hdr = struct.pack("<BBH6s6s6sH", 0x40, 0, 0, BCAST, sta, BCAST, 0x20)
    return hdr + ie(0, ssid) + ie(1, b"\x82\x84")


def data(to_ds: bool, a1: bytes, a2: bytes, a3: bytes) -> bytes:
    flags = 0x41 if to_ds else 0x42
    return struct.pack("<BBH6s6s6sH", 0x08, flags, 0, a1, a2, a3, 0x30) + b"\x00" * 24


def ble_adv(adva: str, company: int, name: bytes = b"", signal: int = -70) -> bytes:
    """LINKTYPE 256: 10-byte pseudo-header, access address, ADV_IND PDU, CRC (3 bytes)."""
    ads = struct.pack("<BBH", 3, 0xFF, company)
    if name:
        ads += bytes([len(name) + 1, 0x09]) + name
    payload = mac(adva)[::-1] + ads
    pdu = bytes([0x00, len(payload)]) + payload  # ADV_IND, TxAdd 0 (public)
    phdr = struct.pack("<BbbBIH", 37, signal, -95, 0, 0x8E89BED6, 0x0002 | 0x0001)
    return phdr + struct.pack("<I", 0x8E89BED6) + pdu + b"\x00\x00\x00"


def with_fcs(mpdu: bytes) -> bytes:
    return mpdu + struct.pack("<I", zlib.crc32(mpdu))


def write_pcap(
    path: Path, frames: list[bytes], linktype: int = 127, caplens: list[int] | None = None
) -> Path:
    """Classic little-endian pcap; ``caplens`` may claim other lengths than written."""
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    for i, f in enumerate(frames):
        cl = caplens[i] if caplens else len(f)
        out += struct.pack("<IIII", 1_767_225_600 + i, 0, cl, len(f)) + f
    path.write_bytes(out)
    return path
