"""Reports: a self-contained offline HTML file and the summary counts the CLI prints.

The HTML has inline CSS, no scripts and no external resources (the appliance sits on an
isolated VLAN, and a report is evidence that must open the same way years later).
Everything a device sent is escaped by Jinja's autoescape: banners are hostile input.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from auditor.model import ScanResult, Severity

TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every value from a device is untrusted, whatever the file name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def summary(result: ScanResult) -> dict[str, Any]:
    """Return counts for the CLI table and the report header.

    Keys: ``devices``, ``by_type``, ``by_vendor``, ``by_oem`` (device counts),
    ``rebrands`` (vendor differs from oem), ``findings`` (total),
    ``findings_by_severity`` (every severity name, gravest first, zeros included),
    ``findings_by_rule``, ``max_severity`` (name or None), ``verified_streams``.
    """
    devices = result.devices
    sev: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    for dev in devices:
        for f in dev.findings:
            sev[str(f.severity)] += 1
            rules[f.rule] += 1
    gravest = max((f.severity for d in devices for f in d.findings), default=None)
    return {
        "devices": len(devices),
        "by_type": dict(Counter(d.device_type for d in devices).most_common()),
        "by_vendor": dict(Counter(d.vendor or "unknown" for d in devices).most_common()),
        "by_oem": dict(Counter(d.oem or "unknown" for d in devices).most_common()),
        "rebrands": sum(
            1 for d in devices if d.vendor and d.oem and d.vendor.lower() != d.oem.lower()
        ),
        "findings": sum(sev.values()),
        "findings_by_severity": {str(s): sev.get(str(s), 0) for s in reversed(Severity)},
        "findings_by_rule": dict(sorted(rules.items())),
        "max_severity": str(gravest) if gravest is not None else None,
        "verified_streams": sum(
            1 for d in devices for s in d.services if s.verified_stream is True
        ),
    }


def _ts(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def render_html(result: ScanResult) -> str:
    """Return the scan report as one self-contained HTML document (str).

    Raises jinja2.TemplateError only if the shipped template is broken.
    """
    devices = sorted(
        result.devices,
        key=lambda d: (-max((int(f.severity) for f in d.findings), default=-1), d.ip),
    )
    return (
        _env()
        .get_template("report.html")
        .render(
            result=result,
            devices=devices,
            summary=summary(result),
            started=_ts(result.started),
            finished=_ts(result.finished),
            duration=f"{max(0.0, result.finished - result.started):.1f}",
        )
    )
