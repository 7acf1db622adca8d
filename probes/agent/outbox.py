"""The probe's outbox: every result is on disk before anyone tries to send it.

One file per scan, named ``<sequence>-<scan id>.json`` so a directory listing is the
send order. A file is an envelope: the scan JSON plus its sha256, the job it answers
and whether the server already acknowledged the scan (then only the job's "done" is
still owed). Writes are atomic (temp file, fsync, rename, fsync of the directory), so
a power cut leaves either the old state or the new one, never half a file.

A file is deleted only after the server acknowledged it. The server's ingest is
idempotent on the scan id, so a send whose answer was lost is simply sent again: a
restart or an outage can cause a resend, never a loss or a duplicate row.

A file that cannot be read back (truncated, bad hash, not JSON) is moved to
``corrupt/``, one the server rejects for good (422/413) to ``rejected/``; both with an
error in the log. Nothing is ever silently dropped.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.errors import StorageError

log = logging.getLogger(__name__)

ENVELOPE = "camaudit-outbox/1"
_NAME = re.compile(r"^(\d{12})-([A-Za-z0-9._:-]{1,200})\.json$")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")


class OutboxFullError(StorageError):
    """The disk is full: the result could not be saved (what was saved is kept)."""


@dataclass
class OutboxItem:
    path: Path
    seq: int
    scan_id: str
    scan: dict[str, Any]
    job_id: str | None
    ingested: bool  # the server acknowledged the scan; only the job's "done" is owed
    server_scan_id: int | None = None  # the server's id for it (what "done" reports)

    def body(self) -> bytes:
        """The scan JSON exactly as the ingest API wants it."""
        return scan_body(self.scan)


def scan_body(scan: dict[str, Any]) -> bytes:
    return json.dumps(scan, separators=(",", ":")).encode("utf-8")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new one.

    Raises :class:`OutboxFullError` when the disk is full (the temp file is removed and
    ``path`` is untouched) and :class:`StorageError` for any other write failure.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError as cleanup:  # the directory itself may be gone or read-only
            log.warning("cannot remove %s: %s", tmp, cleanup)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise OutboxFullError(
                f"disk full: cannot save {path.name} in {path.parent} ({exc.strerror}); "
                "results already in the outbox are kept; free space on this probe"
            ) from exc
        raise StorageError(f"cannot write {path}: {exc}") from exc


class Outbox:
    """A directory of results waiting for the server's acknowledgement."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.corrupt_dir = directory / "corrupt"
        self.rejected_dir = directory / "rejected"
        try:
            for d in (self.dir, self.corrupt_dir, self.rejected_dir):
                d.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StorageError(f"cannot create the outbox {directory}: {exc}") from exc
        for stale in self.dir.glob(".*.tmp"):  # a write a crash interrupted: never renamed
            log.warning("removing %s, left by an interrupted write", stale)
            stale.unlink(missing_ok=True)

    # -- writing --

    def _next_seq(self) -> int:
        seqs = [int(m.group(1)) for m in map(_NAME.match, self._names()) if m]
        for sub in (self.corrupt_dir, self.rejected_dir):
            seqs.extend(int(m.group(1)) for m in map(_NAME.match, os.listdir(sub)) if m)
        return max(seqs, default=0) + 1

    def put(self, scan: dict[str, Any], job_id: str | None = None) -> OutboxItem:
        """Save ``scan`` (a scan JSON) durably and return its item; raise on a full disk."""
        try:
            scan_id = str(scan["scan"]["id"])
        except (KeyError, TypeError) as exc:  # not the --json shape
            raise StorageError(f"not a scan result (no scan.id): {exc}") from exc
        if not _SAFE_ID.match(scan_id):
            raise StorageError(f"scan id {scan_id!r} is not safe as a file name")
        existing = self.find(scan_id)
        if existing is not None:  # saving the same scan twice must not send it twice
            return existing
        seq = self._next_seq()
        item = OutboxItem(
            self.dir / f"{seq:012d}-{scan_id}.json", seq, scan_id, scan, job_id, False
        )
        self._save(item)
        return item

    def _save(self, item: OutboxItem) -> None:
        body = item.body()
        envelope = {
            "format": ENVELOPE,
            "scan_id": item.scan_id,
            "seq": item.seq,
            "job_id": item.job_id,
            "ingested": item.ingested,
            "server_scan_id": item.server_scan_id,
            "saved_at": time.time(),
            "sha256": hashlib.sha256(body).hexdigest(),
            "scan": item.scan,
        }
        atomic_write(item.path, json.dumps(envelope, separators=(",", ":")).encode("utf-8"))

    def mark_ingested(self, item: OutboxItem, server_scan_id: int | None) -> None:
        """Record that the server has the scan, so a restart only owes the job's done."""
        item.ingested, item.server_scan_id = True, server_scan_id
        self._save(item)

    def remove(self, item: OutboxItem) -> None:
        """Forget an acknowledged item (after the server's answer, never before)."""
        try:
            item.path.unlink(missing_ok=True)
            _fsync_dir(self.dir)
        except OSError as exc:
            raise StorageError(f"cannot remove {item.path}: {exc}") from exc

    # -- reading --

    def _names(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.dir) if n.endswith(".json"))
        except OSError as exc:
            raise StorageError(f"cannot list the outbox {self.dir}: {exc}") from exc

    def __len__(self) -> int:
        return sum(1 for n in self._names() if _NAME.match(n))

    def __iter__(self) -> Iterator[OutboxItem]:
        """Items in send order; unreadable files are quarantined (and logged) on the way."""
        for name in self._names():
            item = self._load(self.dir / name)
            if item is not None:
                yield item

    def find(self, scan_id: str) -> OutboxItem | None:
        for name in self._names():
            m = _NAME.match(name)
            if m and m.group(2) == scan_id:
                return self._load(self.dir / name)
        return None

    def job_ids(self) -> set[str]:
        return {i.job_id for i in self if i.job_id}

    def _load(self, path: Path) -> OutboxItem | None:
        m = _NAME.match(path.name)
        try:
            if m is None:
                raise ValueError("the file name is not <sequence>-<scan id>.json")
            env = json.loads(path.read_bytes())
            if not isinstance(env, dict) or env.get("format") != ENVELOPE:
                raise ValueError(f"not a {ENVELOPE} envelope")
            scan = env["scan"]
            sid = env.get("server_scan_id")
            item = OutboxItem(
                path,
                int(m.group(1)),
                m.group(2),
                scan,
                env.get("job_id"),
                bool(env["ingested"]),
                int(sid) if sid is not None else None,
            )
            if str(scan["scan"]["id"]) != item.scan_id or env.get("scan_id") != item.scan_id:
                raise ValueError("the scan id inside does not match the file name")
            if hashlib.sha256(item.body()).hexdigest() != env.get("sha256"):
                raise ValueError("the sha256 of the scan does not match: the file was altered")
        except FileNotFoundError:  # removed between listing and reading (another flush)
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:  # any unreadable envelope
            self.quarantine(path, self.corrupt_dir, f"corrupt outbox file: {exc}")
            return None
        return item

    def quarantine(self, path: Path, where: Path, reason: str) -> Path:
        """Move ``path`` aside into ``where`` with an error in the log; return the new path."""
        dest = where / path.name
        n = 1
        while dest.exists():
            dest = where / f"{path.name}.{n}"
            n += 1
        try:
            os.replace(path, dest)
            _fsync_dir(where)
        except OSError as exc:
            raise StorageError(f"cannot move {path} to {where}: {exc}") from exc
        log.error("%s: moved %s to %s (kept for inspection, not sent)", reason, path.name, dest)
        return dest

    def quarantined(self) -> list[Path]:
        return sorted([*self.corrupt_dir.iterdir(), *self.rejected_dir.iterdir()])
