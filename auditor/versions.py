"""Firmware version comparison across vendor formats.

Camera makers write versions in their own ways:

* Hikvision ``V5.5.82 build 190120`` (version, then a YYMMDD build date);
* Dahua ``2.800.0000000.16.R, Build Date 2021-07-06``; Amcrest ``V2.800.00AC006.0.R``;
* Xiongmai ``V5.00.R02.000529G9.10010.346400.0000000``;
* Axis ``10.12.199``; Reolink ``v3.1.0.956_22041503``; Hanwha ``2.21.01_20230524_R4``.

:func:`parse_version` reduces each to a sort key: the dot-separated numeric fields
(a field that starts with letters counts as 0, one that starts with digits counts as
those digits, so positions stay aligned) and, when present, the build date as
YYYYMMDD. Keys compare field by field (missing trailing fields count as 0), then by
build date. The order is total, so "below the floor" and "inside the affected range"
always have an answer; a version with no digits at all is reported as unparseable
rather than guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_BUILD_WORD = re.compile(
    r"build(?:\s*date)?\s*[:=]?\s*(\d{4}-\d{2}-\d{2}|\d{8}|\d{6})", re.IGNORECASE
)
# Reolink/Hanwha style "<version>_<YYYYMMDD>[_...]": only after "_", and only a real date
_TRAILING_DATE = re.compile(r"_(20\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(?=_|$)")
_LEAD_DIGITS = re.compile(r"^(\d+)")
_PREFIX = re.compile(r"^[^\d]*?(?=\d)")


@total_ordering
@dataclass(frozen=True)
class Version:
    """A parsed firmware version: numeric fields plus an optional build date."""

    raw: str
    fields: tuple[int, ...]
    build: int | None = None  # YYYYMMDD

    def _key(self, width: int) -> tuple[tuple[int, ...], int]:
        padded = self.fields + (0,) * (width - len(self.fields))
        return padded, self.build or 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        width = max(len(self.fields), len(other.fields))
        return self._key(width) == other._key(width)

    def __lt__(self, other: Version) -> bool:
        width = max(len(self.fields), len(other.fields))
        return self._key(width) < other._key(width)

    def __hash__(self) -> int:
        fields = list(self.fields)
        while fields and fields[-1] == 0:
            fields.pop()  # 1.2 == 1.2.0, so they must hash alike
        return hash((tuple(fields), self.build or 0))

    def __str__(self) -> str:
        return self.raw


def _date(text: str) -> int:
    digits = text.replace("-", "")
    if len(digits) == 6:  # YYMMDD: every camera firmware is from this century
        digits = "20" + digits
    return int(digits)


def parse_version(text: str) -> Version:
    """Return the sort key of a firmware version string.

    Raises ValueError when ``text`` holds no digits (nothing to compare).
    """
    raw = " ".join(str(text).split())
    if not any(c.isdigit() for c in raw):
        raise ValueError(f"firmware version {text!r} has no digits to compare")
    build: int | None = None
    m = _BUILD_WORD.search(raw)
    head = raw
    if m:
        build = _date(m.group(1))
        head = raw[: m.start()]
    head = head.strip().rstrip(",;").strip()
    token = head.split()[0] if head.split() else head
    if build is None and (d := _TRAILING_DATE.search(token)):
        build = _date(d.group(1))
        token = token[: d.start()]
    token = _PREFIX.sub("", token, count=1)
    fields: list[int] = []
    for part in re.split(r"[._\-]", token):
        if not part:
            continue
        lead = _LEAD_DIGITS.match(part)
        fields.append(int(lead.group(1)) if lead else 0)
    return Version(raw=raw, fields=tuple(fields), build=build)


def build_date(text: str) -> int:
    """Return a build date (``YYMMDD``, ``YYYYMMDD`` or ``YYYY-MM-DD``) as YYYYMMDD.

    Raises ValueError for anything else.
    """
    t = text.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}|\d{8}|\d{6}", t):
        raise ValueError(f"build date {text!r} is not YYMMDD, YYYYMMDD or YYYY-MM-DD")
    return _date(t)
