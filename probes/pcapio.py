"""Read pcap and pcapng files over mmap, without copying packets.

Both classic pcap (either byte order, microsecond or nanosecond timestamps) and pcapng
(Section Header, Interface Description, Enhanced/Simple/obsolete Packet blocks, several
sections and byte orders in one file, per-interface link types and timestamp
resolutions) are read. A broken file never raises and never hangs: every loop advances
by a length that was checked against the bytes left, and whatever is wrong (a record cut
by the end of the file, an absurd length, a block whose trailer disagrees) is counted in
:class:`ReadStats` and reported, and reading stops at the first point where the framing
can no longer be trusted.

``records()`` is the zero-copy form the flow table uses: it yields offsets into
``reader.buf`` (an mmap); ``packets()`` yields copies for everyone else.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Link types (https://www.tcpdump.org/linktypes.html)
LINKTYPE_NULL = 0  # BSD loopback: 4-byte address family in host byte order
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101  # raw IPv4/IPv6, version nibble decides
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
# DLT_RAW's value differs between OSes (12 on most BSDs, 14 on OpenBSD); files written
# there sometimes carry the DLT number instead of LINKTYPE_RAW.
RAW_ALIASES = (12, 14)

# A single packet larger than this is not a packet: the framing is corrupt. 256 KiB is
# libpcap's MAXIMUM_SNAPLEN; jumbo and TSO frames stay far below it.
MAX_CAPLEN = 262144
MAX_BLOCK = 16 * 1024 * 1024  # pcapng blocks other than packets (e.g. name resolution)
NOTES_MAX = 20
RELEASE_EVERY = 64 * 1024 * 1024  # bytes read between dropping mapped pages behind us

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BOM = 0x1A2B3C4D

# (linktype, timestamp seconds, caplen, wirelen, offset of the packet's first byte in buf)
Record = tuple[int, float, int, int, int]


@dataclass
class ReadStats:
    """What reading one or more capture files produced, and what went wrong."""

    files: int = 0
    formats: list[str] = field(default_factory=list)
    packets: int = 0
    bytes: int = 0  # captured bytes handed out
    errors: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # the first few problems, with offsets

    def problem(self, kind: str, note: str) -> None:
        """Count one problem of ``kind`` and keep the first few descriptions."""
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.notes) < NOTES_MAX:
            self.notes.append(note)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "formats": list(self.formats),
            "packets": self.packets,
            "bytes": self.bytes,
            "errors": dict(self.errors),
            "notes": list(self.notes),
        }


@dataclass
class _Iface:
    linktype: int
    scale: float  # seconds per timestamp unit
    offset: int  # if_tsoffset, seconds


class CaptureReader:
    """One capture file, mapped read-only. Use as a context manager.

    ``buf`` is the mapped file (or the bytes, for files mmap cannot map, such as an
    empty file or a pipe); offsets from :meth:`records` index into it.
    """

    def __init__(self, path: str | Path, stats: ReadStats | None = None) -> None:
        self.path = Path(path)
        self.stats = stats if stats is not None else ReadStats()
        self._map: mmap.mmap | None = None
        self.buf: Any = b""
        self.format = "unknown"

    def __enter__(self) -> CaptureReader:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Map the file; raise OSError when it cannot be opened at all."""
        with open(self.path, "rb") as fh:
            try:
                size = os.fstat(fh.fileno()).st_size
                if size > 0:
                    self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
                    if hasattr(mmap, "MADV_SEQUENTIAL"):  # read-ahead, drop pages behind
                        self._map.madvise(mmap.MADV_SEQUENTIAL)
                    self.buf = self._map
                else:
                    self.buf = fh.read(1 << 30)  # a pipe or an empty file: read it
            except (OSError, ValueError):  # not mappable (special file): read it instead
                self.buf = fh.read(1 << 30)
        self.stats.files += 1

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        self.buf = b""

    def _release(self, upto: int) -> int:
        """Drop mapped pages before ``upto`` from our RSS (the page cache keeps them);
        return the next offset at which to call again."""
        if self._map is not None and hasattr(mmap, "MADV_DONTNEED"):
            end = upto - upto % mmap.PAGESIZE
            if end > 0:
                self._map.madvise(mmap.MADV_DONTNEED, 0, end)
        return upto + RELEASE_EVERY

    # --- records -------------------------------------------------------------------

    def records(self) -> Iterator[Record]:
        """Yield ``(linktype, ts, caplen, wirelen, offset)`` for every packet in the file.

        Problems are counted in ``self.stats``; nothing is raised for file content.
        """
        buf = self.buf
        if len(buf) < 4:
            self.stats.problem("not_a_capture", f"{self.path}: {len(buf)} bytes, not a capture")
            return
        (magic_le,) = struct.unpack_from("<I", buf, 0)
        (magic_be,) = struct.unpack_from(">I", buf, 0)
        if magic_le == PCAPNG_SHB:
            self.format = "pcapng"
            self.stats.formats.append("pcapng")
            yield from self._pcapng(buf)
            return
        for endian, magic in (("<", magic_le), (">", magic_be)):
            if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
                self.format = "pcap-ns" if magic == PCAP_MAGIC_NS else "pcap"
                self.stats.formats.append(self.format)
                yield from self._pcap(buf, endian, magic == PCAP_MAGIC_NS)
                return
        self.stats.problem("not_a_capture", f"{self.path}: unknown magic 0x{magic_be:08x}")

    def packets(self) -> Iterator[tuple[int, float, int, int, bytes]]:
        """Yield ``(linktype, ts, caplen, wirelen, data)`` with ``data`` a copy."""
        buf = self.buf
        for lt, ts, caplen, wirelen, off in self.records():
            yield lt, ts, caplen, wirelen, bytes(buf[off : off + caplen])

    def _pcap(self, buf: Any, endian: str, nano: bool) -> Iterator[Record]:
        stats = self.stats
        n = len(buf)
        if n < 24:
            stats.problem("truncated_file", f"{self.path}: pcap header cut at {n} bytes")
            return
        _maj, _min, _zone, _sig, snaplen, network = struct.unpack_from(endian + "HHiIII", buf, 4)
        linktype = network & 0xFFFF  # upper bits carry FCS information
        limit = max(MAX_CAPLEN, snaplen if snaplen <= 16 * MAX_CAPLEN else 0)
        unpack = struct.Struct(endian + "IIII").unpack_from
        scale = 1e-9 if nano else 1e-6
        off = 24
        count = 0
        total = 0
        release_at = RELEASE_EVERY
        try:
            while off + 16 <= n:
                if off >= release_at:
                    release_at = self._release(off)
                sec, frac, caplen, wirelen = unpack(buf, off)
                if caplen > limit:
                    stats.problem(
                        "absurd_length",
                        f"{self.path}: record at byte {off} claims {caplen} bytes; stopped",
                    )
                    return
                start = off + 16
                off = start + caplen
                if off > n:
                    stats.problem(
                        "truncated_record",
                        f"{self.path}: last record at byte {start - 16} cut by end of file",
                    )
                    return
                count += 1
                total += caplen
                yield linktype, sec + frac * scale, caplen, wirelen, start
            if off < n:
                stats.problem(
                    "truncated_record", f"{self.path}: {n - off} stray bytes at end of file"
                )
        finally:
            stats.packets += count
            stats.bytes += total

    def _pcapng(self, buf: Any) -> Iterator[Record]:
        stats = self.stats
        n = len(buf)
        off = 0
        endian = "<"
        ifaces: list[_Iface] = []
        count = 0
        total = 0
        release_at = RELEASE_EVERY
        try:
            while off < n:
                if off >= release_at:
                    release_at = self._release(off)
                if off + 12 > n:
                    stats.problem("truncated_record", f"{self.path}: block header cut at {off}")
                    return
                (btype,) = struct.unpack_from(endian + "I", buf, off)
                if btype == PCAPNG_SHB:  # byte order may change per section
                    if off + 28 > n:
                        stats.problem("truncated_record", f"{self.path}: SHB cut at {off}")
                        return
                    (bom,) = struct.unpack_from("<I", buf, off + 8)
                    if bom == PCAPNG_BOM:
                        endian = "<"
                    elif bom == 0x4D3C2B1A:
                        endian = ">"
                    else:
                        stats.problem("bad_block", f"{self.path}: bad byte-order magic at {off}")
                        return
                    ifaces = []
                (btype, blen) = struct.unpack_from(endian + "II", buf, off)
                if blen < 12 or blen % 4 or blen > MAX_BLOCK + MAX_CAPLEN:
                    stats.problem(
                        "absurd_length", f"{self.path}: block at {off} claims {blen} bytes; stopped"
                    )
                    return
                end = off + blen
                if end > n:
                    stats.problem("truncated_record", f"{self.path}: block at {off} cut by EOF")
                    return
                (trailer,) = struct.unpack_from(endian + "I", buf, end - 4)
                if trailer != blen:
                    stats.problem(
                        "bad_block", f"{self.path}: block at {off}: trailer {trailer} != {blen}"
                    )
                    return
                body = off + 8
                blen_body = blen - 12
                if btype == 6 and blen_body >= 20:  # Enhanced Packet Block
                    ifid, hi, lo, caplen, wirelen = struct.unpack_from(endian + "IIIII", buf, body)
                    data = body + 20
                    if ifid >= len(ifaces):
                        stats.problem(
                            "bad_block", f"{self.path}: EPB at {off}: no interface {ifid}"
                        )
                    elif caplen > blen_body - 20 or caplen > MAX_CAPLEN:
                        stats.problem(
                            "absurd_length", f"{self.path}: EPB at {off}: caplen {caplen}"
                        )
                    else:
                        ifc = ifaces[ifid]
                        ts = ((hi << 32) | lo) * ifc.scale + ifc.offset
                        count += 1
                        total += caplen
                        yield ifc.linktype, ts, caplen, wirelen, data
                elif btype == 3 and blen_body >= 4:  # Simple Packet Block: interface 0
                    (wirelen,) = struct.unpack_from(endian + "I", buf, body)
                    caplen = min(wirelen, blen_body - 4)
                    if not ifaces:
                        stats.problem("bad_block", f"{self.path}: SPB at {off} before any IDB")
                    else:
                        count += 1
                        total += caplen
                        yield ifaces[0].linktype, 0.0, caplen, wirelen, body + 4
                elif btype == 2 and blen_body >= 20:  # obsolete Packet Block
                    ifid, _drops, hi, lo, caplen, wirelen = struct.unpack_from(
                        endian + "HHIIII", buf, body
                    )
                    if ifid < len(ifaces) and caplen <= blen_body - 20:
                        ifc = ifaces[ifid]
                        count += 1
                        total += caplen
                        ts = ((hi << 32) | lo) * ifc.scale + ifc.offset
                        yield ifc.linktype, ts, caplen, wirelen, body + 20
                    else:
                        stats.problem("bad_block", f"{self.path}: packet block at {off} invalid")
                elif btype == 1 and blen_body >= 8:  # Interface Description Block
                    linktype, _res, _snap = struct.unpack_from(endian + "HHI", buf, body)
                    scale, tsoff = _idb_options(buf, endian, body + 8, end - 4)
                    ifaces.append(_Iface(linktype, scale, tsoff))
                elif btype in (1, 2, 3, 6):
                    stats.problem("bad_block", f"{self.path}: block type {btype} at {off} short")
                off = end
        finally:
            stats.packets += count
            stats.bytes += total


def _idb_options(buf: Any, endian: str, pos: int, end: int) -> tuple[float, int]:
    """Return (seconds per tick, tsoffset seconds) from an IDB's options; defaults 1e-6, 0."""
    scale, tsoff = 1e-6, 0
    while pos + 4 <= end:
        code, length = struct.unpack_from(endian + "HH", buf, pos)
        pos += 4
        if code == 0 or pos + length > end:
            break
        if code == 9 and length >= 1:  # if_tsresol
            v = buf[pos]
            exp = v & 0x7F
            if exp <= 63:
                scale = 2.0**-exp if v & 0x80 else 10.0**-exp
        elif code == 14 and length >= 8:  # if_tsoffset
            (tsoff,) = struct.unpack_from(endian + "q", buf, pos)
        pos += (length + 3) & ~3
    return scale, tsoff


def read_packets(path: str | Path, stats: ReadStats | None = None) -> Iterator[tuple[Any, ...]]:
    """Yield ``(linktype, ts, caplen, wirelen, data)`` for every packet of ``path``.

    Raises OSError when the file cannot be opened; content problems go to ``stats``.
    """
    with CaptureReader(path, stats) as reader:
        yield from reader.packets()
