"""Site policy knobs for traffic volume and time: upload bursts and quiet hours.

An upload burst is a device sending at least ``burst_bytes`` to internet destinations
the site does not allow within any ``window_s`` sliding window. The default, 10 MB in
5 minutes, is about a 256 kbit/s video stream: a camera's legitimate phone-home
(registration, keep-alives, DNS, NTP) is a few kilobytes a minute, so anything near
the threshold is video, snapshots or logs leaving the site.

Quiet hours (``"22:00-06:00"`` in the site's time zone) are when the site expects no
camera traffic to the internet at all; any such traffic is cited with its bytes.

The flow table counts bytes per flow per minute (``bytes_out_by_minute`` in ``flows``
observations). Flows recorded without that series (older stored observations) are
spread evenly over their first-to-last-seen span, and the evidence says "estimated".
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_BURST_BYTES = 10_000_000
DEFAULT_WINDOW_S = 300
MINUTE = 60
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20,
          "gib": 2**30}  # fmt: skip
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", re.I)
_CLOCK = re.compile(r"\s*([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)\s*")


def parse_size(value: object) -> int:
    """Return bytes for ``10000000``, ``"10MB"``, ``"500 kB"``, ``"1.5GiB"``.

    Raises ValueError for anything else, or for a size below 1 kB (every camera sends
    that much: such a threshold would flag all of them).
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size")
    if isinstance(value, int):
        n = value
    elif isinstance(value, str) and (m := _SIZE.fullmatch(value)):
        unit = _UNITS.get(m.group(2).lower())
        if unit is None:
            raise ValueError(f"{value!r}: unknown unit (use B, kB, MB, GB, KiB, MiB, GiB)")
        n = int(float(m.group(1)) * unit)
    else:
        raise ValueError(f"{value!r} is not a size such as 10MB")
    if n < 1000:
        raise ValueError(f"{value!r} is below 1 kB: every device would exceed it")
    return n


def parse_window(value: object) -> int:
    """Return seconds for ``"5m"``, ``"300s"``, ``"1h"`` or an int of seconds; whole
    minutes between 1 minute and 1 day (the flow table counts per minute)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and (m := re.fullmatch(r"\s*(\d+)\s*([smh]?)\s*", value.lower())):
        seconds = int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]
    else:
        raise ValueError(f"{value!r} is not a duration such as 5m")
    if seconds % MINUTE or not MINUTE <= seconds <= 86400:
        raise ValueError(f"{value!r}: use whole minutes between 1m and 24h")
    return seconds


def window_text(seconds: int) -> str:
    """Return ``"5 min"`` / ``"2 h"`` for a window length."""
    return f"{seconds // 3600} h" if seconds % 3600 == 0 else f"{seconds // 60} min"


@dataclass(frozen=True)
class QuietHours:
    """A daily span of local time, ``start`` to ``end`` (minutes after midnight); it wraps
    past midnight when ``end <= start`` (``22:00-06:00``)."""

    start: int
    end: int
    timezone: str = "UTC"

    @classmethod
    def parse(cls, text: str, timezone: str = "UTC") -> QuietHours:
        """Parse ``"22:00-06:00"``; raise ValueError for a bad span or time zone."""
        m = _CLOCK.fullmatch(text) if isinstance(text, str) else None
        if not m:
            raise ValueError(f"{text!r} is not a span such as 22:00-06:00")
        start = int(m.group(1)) * 60 + int(m.group(2))
        end = int(m.group(3)) * 60 + int(m.group(4))
        if start == end:
            raise ValueError(f"{text!r} is empty (start equals end)")
        check_timezone(timezone)
        return cls(start, end, timezone)

    def contains(self, epoch: float) -> bool:
        """Return True when ``epoch`` falls inside the quiet hours, in the site's zone."""
        local = dt.datetime.fromtimestamp(epoch, ZoneInfo(self.timezone))
        minute = local.hour * 60 + local.minute
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end

    def local_time(self, epoch: float) -> str:
        """Return ``2026-11-24 23:41 Europe/Berlin`` for evidence."""
        local = dt.datetime.fromtimestamp(epoch, ZoneInfo(self.timezone))
        return f"{local:%Y-%m-%d %H:%M} {self.timezone}"

    def __str__(self) -> str:
        s, e = self.start, self.end
        return f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d} {self.timezone}"


def check_timezone(name: str) -> str:
    """Return ``name`` when it is an IANA time zone this machine knows; ValueError else."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:  # unknown or malformed key
        msg = f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)"
        raise ValueError(msg) from exc
    return name


@dataclass(frozen=True)
class UploadPolicy:
    """Volume and time limits on traffic to non-allowed internet destinations."""

    burst_bytes: int = DEFAULT_BURST_BYTES
    window_s: int = DEFAULT_WINDOW_S
    quiet: QuietHours | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UploadPolicy:
        """Rebuild from ``dataclasses.asdict`` output (``SitePolicy.to_dict``)."""
        quiet = d.get("quiet")
        return cls(
            burst_bytes=int(d.get("burst_bytes", DEFAULT_BURST_BYTES)),
            window_s=int(d.get("window_s", DEFAULT_WINDOW_S)),
            quiet=QuietHours(**quiet) if isinstance(quiet, dict) else quiet,
        )


def parse_upload_keys(network: dict[str, object]) -> UploadPolicy:
    """Build an :class:`UploadPolicy` from a site policy's ``[network]`` table.

    Keys: ``upload_burst`` (size), ``upload_window`` (duration), ``quiet_hours``
    (``"22:00-06:00"``), ``timezone`` (IANA name, default UTC). Raises ValueError whose
    message starts with the offending key (``"quiet_hours: ..."``).
    """
    kwargs: dict[str, object] = {}
    for key, parse, field_name in (
        ("upload_burst", parse_size, "burst_bytes"),
        ("upload_window", parse_window, "window_s"),
    ):
        if key in network:
            try:
                kwargs[field_name] = parse(network[key])
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
    tz = network.get("timezone", "UTC")
    if not isinstance(tz, str):
        raise ValueError("timezone: must be a string such as Europe/Berlin")
    try:
        check_timezone(tz)
    except ValueError as exc:
        raise ValueError(f"timezone: {exc}") from None
    if "quiet_hours" in network:
        text = network["quiet_hours"]
        try:
            if not isinstance(text, str):
                raise ValueError("must be a string such as 22:00-06:00")
            kwargs["quiet"] = QuietHours.parse(text, tz)
        except ValueError as exc:
            raise ValueError(f"quiet_hours: {exc}") from None
    return UploadPolicy(**kwargs)  # type: ignore[arg-type]


def merge_options(
    base: UploadPolicy,
    burst: str | None = None,
    window: str | None = None,
    quiet: str | None = None,
    timezone: str | None = None,
) -> UploadPolicy:
    """Return ``base`` with command-line values (``--upload-burst`` ...) laid over it.

    Raises ValueError naming the option when a value is invalid.
    """
    out = base
    try:
        if burst is not None:
            out = replace(out, burst_bytes=parse_size(burst))
        if window is not None:
            out = replace(out, window_s=parse_window(window))
        tz = timezone or (base.quiet.timezone if base.quiet else "UTC")
        if quiet is not None:
            out = replace(out, quiet=QuietHours.parse(quiet, tz))
        elif timezone is not None and out.quiet is not None:
            out = replace(out, quiet=replace(out.quiet, timezone=check_timezone(timezone)))
        elif timezone is not None:
            check_timezone(timezone)
    except ValueError as exc:
        raise ValueError(f"upload/quiet-hours option: {exc}") from None
    return out
