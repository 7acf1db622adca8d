"""The outbox on its own: durable, ordered, and loud about anything it cannot read."""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
from pathlib import Path

import pytest
from appliance_env import make_scan

from auditor.errors import StorageError
from probes.agent.daemon import Backoff
from probes.agent.outbox import Outbox, OutboxFullError, atomic_write


def test_put_writes_one_file_per_scan_in_send_order(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    scans = [make_scan(f"scan-{i}") for i in range(3)]
    ids = [box.put(s).scan_id for s in scans]
    names = sorted(p.name for p in box.dir.glob("*.json"))
    assert names == [f"{n:012d}-scan-{n - 1}.json" for n in (1, 2, 3)]
    assert [i.scan_id for i in box] == ids
    # What comes back is what ingest will get, byte for byte the scan JSON.
    first = next(iter(box))
    assert json.loads(first.body()) == scans[0]
    assert not list(box.dir.glob(".*.tmp")), "no temp file may survive a completed write"
    assert oct(os.stat(box.dir / names[0]).st_mode & 0o777) == "0o600"


def test_saving_a_scan_twice_keeps_one_file(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    scan = make_scan("same")
    assert box.put(scan).path == box.put(scan).path
    assert len(box) == 1


def test_sequence_survives_a_restart_and_quarantine(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    box.put(make_scan("a"))
    item = box.put(make_scan("b"))
    box.quarantine(item.path, box.rejected_dir, "test")
    again = Outbox(tmp_path / "outbox")  # a restarted probe
    assert again.put(make_scan("c")).seq == 3, "sequence numbers are never reused"


def test_interrupted_write_leaves_no_half_file(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    box.put(make_scan("kept"))
    # A crash between write and rename leaves only the hidden temp file.
    (box.dir / ".000000000002-lost.json.tmp").write_text('{"format": "camaudit-out')
    again = Outbox(tmp_path / "outbox")
    assert [i.scan_id for i in again] == ["kept"]
    assert not list(again.dir.glob(".*.tmp"))


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],  # truncated (a power cut on a file system without fsync)
        lambda b: b.replace(b'"vendor":"Hikvision"', b'"vendor":"Hikvisiom"'),  # a bit flipped
        lambda b: b"\x00" * 64,  # garbage
    ],
    ids=["truncated", "altered", "garbage"],
)
def test_corrupt_file_is_quarantined_with_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: object
) -> None:
    box = Outbox(tmp_path / "outbox")
    bad = box.put(make_scan("bad"))
    box.put(make_scan("good"))
    bad.path.write_bytes(damage(bad.path.read_bytes()))  # type: ignore[operator]
    with caplog.at_level(logging.ERROR):
        assert [i.scan_id for i in box] == ["good"]
    assert (box.corrupt_dir / bad.path.name).exists(), "kept for inspection, not deleted"
    assert not bad.path.exists()
    assert any(
        "corrupt outbox file" in r.message and bad.path.name in r.message for r in caplog.records
    )


def test_file_with_a_foreign_name_is_quarantined(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    (box.dir / "notes.json").write_text("{}")
    assert list(box) == []
    assert (box.corrupt_dir / "notes.json").exists()


def test_not_a_scan_is_refused_clearly(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    with pytest.raises(StorageError, match=r"no scan\.id"):
        box.put({"devices": []})
    with pytest.raises(StorageError, match="not safe as a file name"):
        box.put(make_scan("../../etc/passwd"))


@pytest.mark.needs_root
def test_full_disk_gives_a_clear_error_and_keeps_what_it_has(tmp_path: Path) -> None:
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], check=True)
    try:
        box = Outbox(mnt / "outbox")
        kept = box.put(make_scan("small-1", devices=1))
        with pytest.raises(OutboxFullError, match=r"disk full.*kept"):
            box.put(make_scan("huge", devices=2000))  # ~700 kB: more than the disk
        assert [i.scan_id for i in box] == ["small-1"]
        assert kept.path.exists() and not list(box.dir.glob(".*.tmp"))
        with pytest.raises(OutboxFullError):
            atomic_write(mnt / "x.bin", b"\0" * 400_000)
        assert not (mnt / "x.bin").exists()
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    b = Backoff(base=1.0, cap=60.0, rng=random.Random(7))
    delays = [b.next_delay() for _ in range(10)]
    for n, d in enumerate(delays):
        full = min(60.0, 2.0**n)
        assert full / 2 <= d <= full, (n, d)
    assert delays[5] > delays[0] * 8  # it really grows
    assert max(delays) <= 60.0  # and is capped
    # Jitter: two probes cut off together do not retry in lockstep.
    other = Backoff(base=1.0, cap=60.0, rng=random.Random(8))
    assert [other.next_delay() for _ in range(10)] != delays
    b.reset()
    assert b.next_delay() <= 1.0
