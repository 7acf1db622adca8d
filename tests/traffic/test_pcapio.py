"""The capture reader: pcap and pcapng variants, and every way a file can be broken."""

from __future__ import annotations

import struct
from pathlib import Path

import pcapbuild as pb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probes.pcapio import CaptureReader, ReadStats, read_packets

FRAME_A = bytes(range(60))
FRAME_B = b"\xaa" * 42


def _read(
    tmp_path: Path, data: bytes
) -> tuple[list[tuple[int, float, int, int, bytes]], ReadStats]:
    path = tmp_path / "c.pcap"
    path.write_bytes(data)
    stats = ReadStats()
    return list(read_packets(path, stats)), stats


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_classic_pcap_both_byte_orders_and_resolutions(
    tmp_path: Path, endian: str, nano: bool
) -> None:
    data = pb.pcap([(1700000000.25, FRAME_A), (1700000001.5, FRAME_B)], 113, endian, nano)
    pkts, stats = _read(tmp_path, data)
    assert [(p[0], p[2], p[3], p[4]) for p in pkts] == [
        (113, 60, 60, FRAME_A),
        (113, 42, 42, FRAME_B),
    ]
    assert pkts[0][1] == pytest.approx(1700000000.25, abs=1e-6)
    assert pkts[1][1] == pytest.approx(1700000001.5, abs=1e-6)
    assert stats.packets == 2 and not stats.errors
    assert stats.formats == ["pcap-ns" if nano else "pcap"]


@pytest.mark.parametrize("endian", ["<", ">"])
def test_pcapng_interfaces_linktypes_resolution_and_spb(tmp_path: Path, endian: str) -> None:
    data = (
        pb.shb(endian)
        + pb.idb(1, endian)  # Ethernet, microseconds
        + pb.idb(276, endian, tsresol=9)  # SLL2, nanoseconds
        + pb.epb(0, 1_700_000_000_000_000, FRAME_A, endian)
        + pb.epb(1, 1_700_000_002_000_000_000, FRAME_B, endian, wirelen=1500)
        + pb.spb(FRAME_B, endian)
        + pb._block(endian, 5, b"\0" * 16)  # interface statistics: skipped quietly
    )
    pkts, stats = _read(tmp_path, data)
    assert [(p[0], p[2], p[3]) for p in pkts] == [(1, 60, 60), (276, 42, 1500), (1, 42, 42)]
    assert pkts[0][1] == pytest.approx(1_700_000_000.0)
    assert pkts[1][1] == pytest.approx(1_700_000_002.0)
    assert pkts[1][4] == FRAME_B
    assert not stats.errors


def test_pcapng_second_section_other_byte_order(tmp_path: Path) -> None:
    data = (
        pb.shb("<")
        + pb.idb(1, "<")
        + pb.epb(0, 1, FRAME_A, "<")
        + pb.shb(">")
        + pb.idb(101, ">")
        + pb.epb(0, 2, FRAME_B, ">")
    )
    pkts, stats = _read(tmp_path, data)
    assert [(p[0], p[4]) for p in pkts] == [(1, FRAME_A), (101, FRAME_B)]
    assert not stats.errors


def test_truncated_pcap_counts_and_keeps_what_it_read(tmp_path: Path) -> None:
    data = pb.pcap([(1.0, FRAME_A), (2.0, FRAME_A), (3.0, FRAME_A)])
    pkts, stats = _read(tmp_path, data[:-10])
    assert len(pkts) == 2
    assert stats.errors == {"truncated_record": 1}
    assert "cut by end of file" in stats.notes[0]


def test_absurd_caplen_stops_without_reading_further(tmp_path: Path) -> None:
    data = bytearray(pb.pcap([(1.0, FRAME_A), (2.0, FRAME_A)]))
    struct.pack_into("<I", data, 24 + 16 + 60 + 8, 0x7FFFFFF0)  # second record's caplen
    pkts, stats = _read(tmp_path, bytes(data))
    assert len(pkts) == 1
    assert stats.errors == {"absurd_length": 1}


def test_pcapng_bad_trailer_and_absurd_block_length(tmp_path: Path) -> None:
    good = pb.shb() + pb.idb(1) + pb.epb(0, 1, FRAME_A)
    bad = bytearray(pb.epb(0, 2, FRAME_A))
    struct.pack_into("<I", bad, len(bad) - 4, 12)
    pkts, stats = _read(tmp_path, good + bytes(bad))
    assert len(pkts) == 1 and stats.errors == {"bad_block": 1}
    huge = struct.pack("<II", 6, 0x7FFFFFFC) + b"\0" * 32
    pkts, stats = _read(tmp_path, good + huge)
    assert len(pkts) == 1 and stats.errors == {"absurd_length": 1}


def test_epb_for_unknown_interface_is_counted(tmp_path: Path) -> None:
    pkts, stats = _read(tmp_path, pb.shb() + pb.idb(1) + pb.epb(3, 1, FRAME_A))
    assert pkts == [] and stats.errors == {"bad_block": 1}


@pytest.mark.parametrize("data", [b"", b"\x01", b"not a capture at all, just text\n"])
def test_not_a_capture(tmp_path: Path, data: bytes) -> None:
    pkts, stats = _read(tmp_path, data)
    assert pkts == [] and stats.errors == {"not_a_capture": 1}


def test_reader_closes_its_map(tmp_path: Path) -> None:
    path = tmp_path / "c.pcap"
    path.write_bytes(pb.pcap([(1.0, FRAME_A)]))
    with CaptureReader(path) as reader:
        assert [r[2] for r in reader.records()] == [60]
    assert reader.buf == b""


HEADS = [
    pb.pcap([]),
    pb.pcap([], endian=">", nano=True),
    pb.shb() + pb.idb(1),
    pb.shb(">") + pb.idb(113, ">", tsresol=0x86),
]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(head=st.sampled_from(HEADS), tail=st.binary(max_size=600))
def test_fuzz_reader_never_raises_or_hangs(tmp_path: Path, head: bytes, tail: bytes) -> None:
    path = tmp_path / "fuzz.pcap"
    path.write_bytes(head + tail)
    stats = ReadStats()
    n = 0
    for _lt, _ts, caplen, _wl, data in read_packets(path, stats):
        assert len(data) == caplen
        n += 1
    assert n == stats.packets
    assert n <= len(tail) // 12 + 1
