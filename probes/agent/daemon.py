"""``camaudit probe run``: pull jobs, scan, save to the outbox, ship with retries.

One loop, one scan at a time (a probe is a small box; the scan engine is already
concurrent inside). Each turn: retry results the disk could not take, flush the outbox
(backing off exponentially with jitter while the server is away), pull jobs, queue the
local schedules that are due, run the jobs that are due. A job naming a target outside
``allowed_targets`` is refused and the refusal reported to the server.

The scan itself is injected (``scanner``): the CLI passes the same classify-and-rules
pipeline ``camaudit scan`` uses, so the probe and the one-shot scan cannot disagree.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from auditor import __version__
from auditor.errors import CamauditError, StorageError, TargetError
from auditor.targets import Targets
from probes.agent.client import DeliveryError, Job, ServerClient
from probes.agent.config import ProbeConfig
from probes.agent.outbox import Outbox, OutboxFullError, OutboxItem, scan_body

log = logging.getLogger(__name__)

#: Runs one scan job: the allowed targets and the job's options in, the scan JSON out.
Scanner = Callable[[Targets, dict[str, Any]], dict[str, Any]]
LOCAL = "local:"  # job ids of the probe's own schedules: nothing to report to the server


@dataclass
class Backoff:
    """Exponential backoff with "equal jitter": delay n is in [d/2, d], d = base * 2**n.

    Half the delay is fixed so retries do not hammer a recovering server; half is random
    so a fleet of probes cut off together does not come back in lockstep.
    """

    base: float = 1.0
    cap: float = 600.0
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def next_delay(self) -> float:
        d = min(self.cap, self.base * (2.0 ** min(self.failures, 60)))
        self.failures += 1
        return d / 2 + self.rng.uniform(0, d / 2)

    def reset(self) -> None:
        self.failures = 0


class Agent:
    """The probe daemon's state and one turn of its loop (:meth:`step`)."""

    def __init__(
        self,
        cfg: ProbeConfig,
        scanner: Scanner,
        *,
        client: ServerClient | None = None,
        outbox: Outbox | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.cfg = cfg
        self.scanner = scanner
        self.clock = clock
        self.outbox = outbox or Outbox(cfg.outbox_dir)
        if client is None and cfg.server:
            client = ServerClient(
                cfg.server,
                cfg.token or "",
                timeout=cfg.timeout,
                verify=str(cfg.ca_file) if cfg.ca_file else True,
                status=self.health,
            )
        self.client = client
        rng = rng or random.Random()
        self.send_backoff = Backoff(cap=cfg.max_backoff, rng=rng)
        self.pull_backoff = Backoff(cap=cfg.max_backoff, rng=rng)
        self.next_send = 0.0
        self.next_pull = 0.0
        self.pending: dict[str, Job] = {}
        self.unsaved: list[tuple[dict[str, Any], str | None]] = []  # the disk was full
        self.last_error: str | None = None
        self.no_jobs_api = False
        self.ignored: set[str] = set()  # job ids of kinds this probe does not run
        now = clock()
        self.schedule_next = {s.name: now for s in cfg.schedules}
        self.scans_done = 0

    def close(self) -> None:
        """Close the connection to the server (``run`` does this on its way out)."""
        if self.client is not None:
            self.client.close()

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- health ---------------------------------------------------------------------------

    def health(self) -> dict[str, str]:
        """Headers the server can show on its probes page."""
        h = {
            "X-Camaudit-Probe-Version": __version__,
            "X-Camaudit-Outbox-Depth": str(len(self.outbox) + len(self.unsaved)),
            # Files set aside (corrupt, or refused by the server): someone must look.
            "X-Camaudit-Quarantined": str(len(self.outbox.quarantined())),
            # How often it calls in, so the server waits for three missed polls (not
            # just its own default) before it calls this probe silent.
            "X-Camaudit-Poll-Interval": _seconds(self.cfg.poll_interval),
        }
        if self.cfg.schedules:
            shortest = min(sch.every for sch in self.cfg.schedules)
            h["X-Camaudit-Schedule-Period"] = _seconds(shortest)
        if self.last_error:
            # Header values must be printable ASCII without edge whitespace (h11 refuses).
            text = "".join(c if " " <= c <= "~" else "?" for c in self.last_error)
            h["X-Camaudit-Last-Error"] = text[:200].strip()
        return h

    def _error(self, msg: str, *args: object) -> None:
        text = msg % args if args else msg
        self.last_error = text
        log.error("%s", text)

    # -- saving and sending ---------------------------------------------------------------

    def save(self, scan: dict[str, Any], job_id: str | None) -> OutboxItem | None:
        """Put a result in the outbox; on a full disk keep it in memory and say so."""
        try:
            item = self.outbox.put(scan, job_id)
        except OutboxFullError as exc:
            self._error("%s; holding scan %s in memory until there is room", exc, _sid(scan))
            self.unsaved.append((scan, job_id))
            return None
        log.info("saved scan %s to the outbox (%s)", item.scan_id, item.path.name)
        return item

    def _resave(self) -> None:
        waiting, self.unsaved = self.unsaved, []
        for scan, job_id in waiting:
            try:
                self.outbox.put(scan, job_id)
                log.info("scan %s saved to the outbox now that there is room", _sid(scan))
            except OutboxFullError:
                self.unsaved.append((scan, job_id))
        if self.unsaved and self.client is not None and self.clock() >= self.next_send:
            # Still no room: hand what is in memory straight to the server if it is there.
            still = []
            for scan, job_id in self.unsaved:
                try:
                    ack = self.client.ingest(scan_body(scan))
                    sid = ack.get("scan_id")
                    self._report(job_id, sid if isinstance(sid, int) else None, None)
                    log.info("scan %s sent straight from memory (disk full)", _sid(scan))
                except DeliveryError:
                    still.append((scan, job_id))
            self.unsaved = still

    def flush(self) -> int:
        """Send what the outbox holds, oldest first; return how many were delivered.

        Stops at the first failure that later may cure (no server, 5xx, refused token)
        and waits a backoff delay before the next try. A scan the server rejects for good
        is moved to ``rejected/`` so it cannot block the ones behind it.
        """
        if self.client is None or self.clock() < self.next_send:
            return 0
        sent = 0
        for item in self.outbox:
            try:
                owes_done = bool(item.job_id) and not str(item.job_id).startswith(LOCAL)
                if not item.ingested:
                    ack = self.client.ingest(item.body())
                    server_id = ack.get("scan_id")
                    log.info(
                        "delivered scan %s (server scan %s, %s)",
                        item.scan_id,
                        server_id,
                        "new" if ack.get("created") else "already stored",
                    )
                    if owes_done:  # a restart from here on owes only "done"
                        self.outbox.mark_ingested(
                            item, server_id if isinstance(server_id, int) else None
                        )
                if owes_done:
                    self._job_done(item)
                self.outbox.remove(item)
                sent += 1
            except DeliveryError as exc:
                if exc.rejected:
                    self.outbox.quarantine(
                        item.path, self.outbox.rejected_dir, f"server rejected {item.scan_id}"
                    )
                    self._error("scan %s rejected by the server: %s", item.scan_id, exc)
                    continue
                delay = max(self.send_backoff.next_delay(), exc.retry_after or 0.0)
                self.next_send = self.clock() + delay
                self._error(
                    "cannot deliver (%d waiting): %s; next try in %.1f s",
                    len(self.outbox),
                    exc,
                    delay,
                )
                return sent
        self.send_backoff.reset()
        self.next_send = 0.0
        if sent:
            self.last_error = None
        return sent

    def _job_done(self, item: OutboxItem) -> None:
        assert self.client is not None and item.job_id is not None
        try:
            self.client.job_done(item.job_id, item.server_scan_id)
            log.info("job %s reported done (scan %s)", item.job_id, item.server_scan_id)
        except DeliveryError as exc:
            if exc.transient or exc.auth:
                raise
            # 409: already reported (our earlier answer was lost); 404/422: the server no
            # longer knows the job. Either way the scan is stored and nothing is owed.
            log.warning("job %s: the server did not take its completion: %s", item.job_id, exc)

    def _report(self, job_id: str | None, scan_id: int | None, error: str | None) -> None:
        if not job_id or job_id.startswith(LOCAL) or self.client is None:
            return
        try:
            self.client.job_done(job_id, scan_id, error)
        except DeliveryError as exc:
            # The server still lists the job as open, so it hands it out again and the
            # refusal or failure is reported on that next attempt.
            log.warning("cannot report job %s to the server: %s", job_id, exc)

    # -- jobs -----------------------------------------------------------------------------

    def pull(self) -> None:
        if self.client is None or self.clock() < self.next_pull:
            return
        try:
            jobs = self.client.next_jobs()
        except DeliveryError as exc:
            if exc.status == 404:
                if not self.no_jobs_api:
                    log.warning("%s; only local schedules will run", exc)
                self.no_jobs_api = True
                self.next_pull = self.clock() + self.cfg.poll_interval
                return
            delay = max(self.pull_backoff.next_delay(), 1.0)
            self.next_pull = self.clock() + delay
            self._error("cannot pull jobs: %s; next try in %.1f s", exc, delay)
            return
        self.pull_backoff.reset()
        self.no_jobs_api = False
        self.next_pull = self.clock() + self.cfg.poll_interval
        owed = self.outbox.job_ids()  # already scanned, only delivery is pending
        for job in jobs:
            if job.id not in owed and job.id not in self.pending and job.id not in self.ignored:
                log.info("job %s: %s of %s due %s", job.id, job.kind, job.targets, job.due)
                self.pending[job.id] = job

    def _queue_schedules(self, now: float) -> None:
        for s in self.cfg.schedules:
            if now >= self.schedule_next[s.name]:
                self.schedule_next[s.name] = now + s.every
                job_id = f"{LOCAL}{s.name}:{int(now)}"
                self.pending[job_id] = Job(job_id, "scan", s.targets, dict(s.options), now)

    def run_job(self, job: Job) -> OutboxItem | None:
        """Run one job; refuse it (and report why) when it is not allowed or fails."""
        if job.kind != "scan":
            # docs/api.md: a probe ignores kinds it does not know (a newer server's work).
            if job.id not in self.ignored:
                log.warning(
                    "job %s: ignoring kind %r, which this probe does not run", job.id, job.kind
                )
                self.ignored.add(job.id)
            return None
        try:
            targets = self.cfg.check_targets(job.targets)
        except TargetError as exc:
            self._error("job %s refused: %s", job.id, exc)
            self._report(job.id, None, f"refused: {exc}")
            return None
        log.info("job %s: scanning %s", job.id, ", ".join(job.targets))
        try:
            scan = self.scanner(targets, dict(job.options))
        except StorageError:
            raise
        except CamauditError as exc:  # bad options, probe failures: the job failed, we go on
            self._error("job %s failed: %s", job.id, exc)
            self._report(job.id, None, f"failed: {exc}")
            return None
        self.scans_done += 1
        return self.save(scan, job.id)

    def run_due(self) -> int:
        now = self.clock()
        due = sorted((j for j in self.pending.values() if j.due <= now), key=lambda j: j.due)
        for job in due:
            del self.pending[job.id]
            self.run_job(job)
            self.flush()  # ship each result as soon as it exists
        return len(due)

    # -- the loop -------------------------------------------------------------------------

    def step(self) -> float:
        """One turn of the loop; return how long to sleep before the next."""
        self._resave()
        self.flush()
        self.pull()
        self._queue_schedules(self.clock())
        self.run_due()
        now = self.clock()
        wake = [now + self.cfg.poll_interval, *self.schedule_next.values()]
        wake += [j.due for j in self.pending.values()]
        if self.client is not None:
            wake.append(self.next_pull)
            if len(self.outbox) or self.unsaved:
                wake.append(self.next_send)
        return min(max(0.05, min(wake) - now), self.cfg.poll_interval)

    def run(self, stop: threading.Event, *, once: bool = False) -> None:
        """Loop until ``stop`` is set; ``once``: one pull, due jobs, one flush, return."""
        log.info(
            "probe %s (site %s) started; server %s; allowed %s; %d waiting in the outbox",
            self.cfg.name,
            self.cfg.site or "-",
            self.cfg.server or "none (offline: use camaudit probe export)",
            ", ".join(str(n) for n in self.cfg.allowed.networks),
            len(self.outbox),
        )
        try:
            while not stop.is_set():
                delay = self.step()
                if once:
                    break
                stop.wait(delay)
            if stop.is_set() and self.client is not None:
                self.next_send = 0.0
                self.flush()  # a last try on the way out; what is left stays on disk
        finally:
            self.close()
            left = len(self.outbox) + len(self.unsaved)
            if left:
                log.warning("%d result(s) not yet delivered stay in %s", left, self.outbox.dir)


def _seconds(value: float) -> str:
    """Seconds as docs/api.md has them: a plain decimal, at most 3 decimals, no exponent."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _sid(scan: dict[str, Any]) -> str:
    try:
        return str(scan["scan"]["id"])
    except (KeyError, TypeError):  # only for messages; put() rejects such a scan clearly
        return "?"
