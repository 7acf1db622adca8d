"""A small cron-spec parser: ``@hourly``/``@daily``/``@weekly``/``@monthly`` and five
fields (minute hour day-of-month month day-of-week), evaluated in UTC.

Supported per field: ``*``, numbers, ranges ``a-b``, steps ``*/n`` and ``a-b/n``, lists
``a,b``. Day-of-week is 0-7 (0 and 7 are Sunday). As in Vixie cron, when both
day-of-month and day-of-week are restricted, a day matching either one is due.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from auditor.errors import ConfigError

ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
}
# (name, low, high) of the five fields.
FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day-of-month", 1, 31), ("month", 1, 12),
          ("day-of-week", 0, 7))  # fmt: skip
SEARCH_DAYS = 366 * 5  # every valid spec fires within 5 years (Feb 29 within 4)


def _field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        base, _, step_s = part.partition("/")
        try:
            step = int(step_s) if step_s else 1
            if base == "*":
                lo, hi = low, high
            elif "-" in base:
                a, b = base.split("-", 1)
                lo, hi = int(a), int(b)
            else:
                lo = hi = int(base)
                if step_s:  # "5/15" means from 5 to the end, every 15
                    hi = high
        except ValueError:
            raise ConfigError(f"cron {name} field {text!r}: {part!r} is not a number") from None
        if step < 1 or lo < low or hi > high or lo > hi:
            raise ConfigError(f"cron {name} field {text!r}: {part!r} is outside {low}-{high}")
        out.update(range(lo, hi + 1, step))
    return frozenset(out)


@dataclass(frozen=True)
class CronSpec:
    """A parsed spec; :meth:`next_after` gives its next fire time."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday .. 6
    dom_any: bool
    dow_any: bool

    def _day_ok(self, day: dt.date) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.dom_any or self.dow_any:
            return dom and dow
        return dom or dow

    def next_after(self, epoch: float) -> float:
        """Return the first fire time strictly after ``epoch`` (UTC seconds)."""
        start = dt.datetime.fromtimestamp(epoch, tz=dt.UTC).replace(second=0, microsecond=0)
        start += dt.timedelta(minutes=1)
        day = start.date()
        for _ in range(SEARCH_DAYS):
            if self._day_ok(day):
                first = day == start.date()
                for hour in sorted(self.hours):
                    if first and hour < start.hour:
                        continue
                    for minute in sorted(self.minutes):
                        if first and hour == start.hour and minute < start.minute:
                            continue
                        when = dt.datetime(
                            day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC
                        )
                        return when.timestamp()
            day += dt.timedelta(days=1)
        raise ConfigError(f"cron spec {self.text!r} never fires")


def parse(text: str) -> CronSpec:
    """Parse ``text``; raise ConfigError with the offending field on a bad spec."""
    spec = " ".join(text.split())
    fields = ALIASES.get(spec.lower(), spec).split(" ")
    if len(fields) != 5:
        raise ConfigError(
            f"cron spec {text!r}: expected @hourly, @daily, @weekly, @monthly or five fields "
            "(minute hour day-of-month month day-of-week)"
        )
    parsed = [_field(f, n, lo, hi) for f, (n, lo, hi) in zip(fields, FIELDS, strict=True)]
    minutes, hours, days, months, weekdays = parsed
    cron = CronSpec(
        text=spec,
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=frozenset(d % 7 for d in weekdays),
        dom_any=fields[2] == "*",
        dow_any=fields[4] == "*",
    )
    # A spec like "0 0 31 2 *" (Feb 31) never fires: say so now, not at the first poll.
    if (
        not any(d <= calendar.monthrange(2024, m)[1] for m in cron.months for d in cron.days)
        and cron.dow_any
    ):
        raise ConfigError(f"cron spec {text!r} never fires (no such day in those months)")
    return cron
