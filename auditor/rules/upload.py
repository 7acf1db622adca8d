"""Traffic volume and time rules: upload bursts and traffic during quiet hours.

Both judge the device's outbound flows to internet destinations the site does not
allow (through :func:`auditor.traffic.assess`), minute by minute, under the limits of
the traffic policy's ``uploads`` (:class:`auditor.uploads.UploadPolicy`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from auditor.model import Device, Evidence, Severity
from auditor.rules.registry import Hit, rule
from auditor.traffic import FlowView, assess, human_bytes, timestamp
from auditor.uploads import MINUTE, window_text

EVIDENCE_MAX = 12


def minutes(view: FlowView) -> tuple[dict[int, int], bool]:
    """Return ``({minute start: bytes out}, estimated)`` for one flow.

    Uses the capture's per-minute counts; a flow stored without them has its
    ``bytes_out`` spread evenly from first to last seen (``estimated`` is then True).
    """
    f = view.flow
    rows = f.get("bytes_out_by_minute")
    out: dict[int, int] = defaultdict(int)
    if isinstance(rows, list) and rows:
        for row in rows:
            if (
                isinstance(row, list | tuple)
                and len(row) == 2
                and all(isinstance(x, int | float) for x in row)
            ):
                out[int(row[0]) // MINUTE * MINUTE] += int(row[1])
        loose = f.get("bytes_out_unbucketed")
        return dict(out), bool(isinstance(loose, int) and loose > 0)
    total = f.get("bytes_out")
    first, last = f.get("first_seen"), f.get("last_seen")
    if not isinstance(total, int) or total <= 0 or not isinstance(first, int | float):
        return {}, False
    last = last if isinstance(last, int | float) and last >= first else first
    start, stop = int(first) // MINUTE, int(last) // MINUTE
    span = stop - start + 1
    for m in range(start, stop + 1):
        out[m * MINUTE] += total // span
    out[start * MINUTE] += total % span
    return dict(out), span > 1


def _targets(dev: Device) -> tuple[list[FlowView], Any]:
    t = assess(dev)
    views = [v for v in t.flows if v.outbound and v.internet and not v.allowed]
    return views, t.policy.uploads


def _target(v: FlowView) -> str:
    f = v.flow
    where = f"{f.get('peer')}:{f.get('peer_port')}"
    return f"{f.get('proto')} → {v.name} ({where})" if v.name else f"{f.get('proto')} → {where}"


@rule(
    "CAM-NET-UPLOAD-BURST",
    severity=Severity.HIGH,
    title="Device uploads a burst of data to the internet",
    rationale="""Within one sliding window the device sent more to internet destinations
    the site does not allow than the site's upload threshold (default 10 MB in 5 minutes,
    about a 256 kbit/s video stream). Registration and keep-alive traffic is kilobytes;
    volumes like this are video, snapshots or logs leaving the city's hands.""",
    remediation="""Identify the destination and what the device sends (its cloud or P2P
    settings, an FTP/e-mail upload schedule), switch it off or block it at the firewall;
    if the upload is approved, allow the destination in the site policy.""",
)
def upload_burst(dev: Device) -> Hit | None:
    views, pol = _targets(dev)
    per_flow = [(v, *minutes(v)) for v in views]
    total: dict[int, int] = defaultdict(int)
    for _v, mins, _est in per_flow:
        for m, n in mins.items():
            total[m] += n
    if not total:
        return None
    width = pol.window_s // MINUTE
    best_start, best = 0, 0
    for m in sorted(total):  # a window starting at a busy minute holds every maximum
        s = sum(total.get(m + i * MINUTE, 0) for i in range(width))
        if s > best:
            best_start, best = m, s
    if best < pol.burst_bytes:
        return None
    end = best_start + pol.window_s
    window = window_text(pol.window_s)
    inside = []
    for v, mins, est in per_flow:
        n = sum(b for m, b in mins.items() if best_start <= m < end)
        if n:
            inside.append((n, v, est))
    inside.sort(key=lambda x: -x[0])
    ev = [
        Evidence(
            "flows",
            f"{human_bytes(best)} out to the internet between {timestamp(best_start)} and "
            f"{timestamp(end)} ({window} window; site threshold "
            f"{human_bytes(pol.burst_bytes)})",
            value=str(best),
            claim="traffic=upload",
        )
    ]
    for n, v, est in inside[:EVIDENCE_MAX]:
        ev.append(
            Evidence(
                v.origin,
                f"{_target(v)}: {human_bytes(n)} in the window"
                f"{' (estimated from the flow totals)' if est else ''}; {v.describe()}",
                value=f"{v.flow.get('proto')}/{v.flow.get('peer')}:{v.flow.get('peer_port')}",
                claim="traffic=upload",
            )
        )
    if len(inside) > EVIDENCE_MAX:
        ev.append(Evidence("flows", f"... and {len(inside) - EVIDENCE_MAX} more flows"))
    return Hit(ev, title=f"Device uploaded {human_bytes(best)} to the internet in {window}")


@rule(
    "CAM-NET-QUIET-HOURS",
    severity=Severity.LOW,
    title="Device talks to the internet during the site's quiet hours",
    rationale="""The site policy names quiet hours (for example 22:00-06:00) in which its
    cameras should send nothing to the internet; this device did, to destinations the
    site does not allow. Night-time uploads are how exfiltration hides from people who
    watch the network by day.""",
    remediation="""Find what the device sends at night (scheduled uploads, cloud sync,
    update checks) and switch it off, or allow the destination in the site policy.""",
)
def quiet_hours(dev: Device) -> Hit | None:
    views, pol = _targets(dev)
    quiet = pol.quiet
    if quiet is None:
        return None
    found = []
    for v in views:
        mins, est = minutes(v)
        hits = sorted(m for m in mins if mins[m] and quiet.contains(m))
        if hits:
            found.append((sum(mins[m] for m in hits), hits[0], len(hits), v, est))
    if not found:
        return None
    found.sort(key=lambda x: -x[0])
    ev = [
        Evidence(
            v.origin,
            f"{_target(v)}: {human_bytes(n)} out in {count} minute(s) of quiet hours "
            f"{quiet}, first at {quiet.local_time(first)}"
            f"{' (estimated from the flow totals)' if est else ''}",
            value=f"{v.flow.get('proto')}/{v.flow.get('peer')}:{v.flow.get('peer_port')}",
            claim="traffic=quiet-hours",
        )
        for n, first, count, v, est in found[:EVIDENCE_MAX]
    ]
    if len(found) > EVIDENCE_MAX:
        ev.append(Evidence("flows", f"... and {len(found) - EVIDENCE_MAX} more flows"))
    total = sum(x[0] for x in found)
    return Hit(ev, title=f"Device sent {human_bytes(total)} to the internet during quiet hours")
