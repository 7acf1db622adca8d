"""Findings for pipelines: SARIF 2.1.0, JUnit XML and CSV.

* SARIF: one run, the registry's rules as ``reportingDescriptor`` objects, one result
  per finding with ``level`` from the severity and a logical location ``ip/mac``
  (cameras have no source files). GitHub code scanning and other SARIF readers take it.
* JUnit: one ``testcase`` per device; a finding at or above the threshold is a
  ``failure``; the rest are listed in ``system-out``. CI systems show it as a test run.
* CSV: one row per finding (devices without findings are not listed).
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from typing import Any

from auditor import __version__
from auditor.model import Device, Finding, ScanResult, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub code scanning reads "security-severity" (a CVSS-like 0-10 number) to rank.
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
CSV_COLUMNS = (
    "ip", "mac", "vendor", "oem", "model", "firmware", "serial", "device_type",
    "rule", "severity", "title", "evidence",
)  # fmt: skip


def _location(dev: Device) -> str:
    return f"{dev.ip}/{dev.mac or 'unknown-mac'}"


def _evidence_text(f: Finding, limit: int = 5) -> str:
    parts = []
    for e in f.evidence[:limit]:
        parts.append(f"{e.source}: {e.detail}" + (f" [{e.value}]" if e.value else ""))
    if len(f.evidence) > limit:
        parts.append(f"(+{len(f.evidence) - limit} more)")
    return "; ".join(parts)


def to_sarif(result: ScanResult) -> dict[str, Any]:
    """Return the scan's findings as a SARIF 2.1.0 log (a JSON-ready dict)."""
    from auditor.rules import RULES  # late: registering the rules imports much of auditor

    ids = sorted(RULES)
    index = {rid: i for i, rid in enumerate(ids)}
    descriptors = []
    for rid in ids:
        r = RULES[rid]
        descriptors.append(
            {
                "id": r.id,
                "name": "".join(w.capitalize() for w in r.id.split("-")),
                "shortDescription": {"text": r.title},
                "fullDescription": {"text": r.rationale},
                "help": {"text": f"Fix: {r.remediation}"},
                "helpUri": f"docs/rules.md#{r.id.lower()}",
                "defaultConfiguration": {"level": _LEVEL[r.severity]},
                "properties": {
                    "severity": str(r.severity),
                    "security-severity": _SECURITY_SEVERITY[r.severity],
                    "tags": ["security", "privacy", r.category.lower()],
                },
            }
        )
    results = []
    for dev in result.devices:
        for f in dev.findings:
            entry: dict[str, Any] = {
                "ruleId": f.rule,
                "level": _LEVEL[f.severity],
                "message": {"text": f"{f.title} ({dev.ip})"},
                "locations": [
                    {
                        "logicalLocations": [
                            {
                                "name": _location(dev),
                                "fullyQualifiedName": _location(dev),
                                "kind": "device",
                            }
                        ]
                    }
                ],
                "partialFingerprints": {"camauditDevice/v1": dev.identity_keys[0]}
                if dev.identity_keys
                else {},
                "properties": {
                    "severity": str(f.severity),
                    "vendor": dev.vendor,
                    "oem": dev.oem,
                    "model": dev.model,
                    "firmware": dev.firmware,
                    "evidence": [e.to_dict() for e in f.evidence],
                },
            }
            if f.rule in index:
                entry["ruleIndex"] = index[f.rule]
            results.append(entry)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "camaudit",
                        "version": __version__,
                        "rules": descriptors,
                    }
                },
                "automationDetails": {"id": f"camaudit/{result.scan_id}"},
                "results": results,
                "properties": {"targets": list(result.targets)},
            }
        ],
    }


def to_junit(result: ScanResult, threshold: Severity = Severity.HIGH) -> str:
    """Return JUnit XML: a testcase per device, a failure per finding >= ``threshold``."""
    failures = sum(1 for d in result.devices for f in d.findings if f.severity >= threshold)
    duration = max(0.0, result.finished - result.started)
    suites = ET.Element("testsuites", name="camaudit", tests=str(len(result.devices)))
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"camaudit scan {result.scan_id}",
        tests=str(len(result.devices)),
        failures=str(sum(1 for d in result.devices if _fails(d, threshold))),
        errors="0",
        skipped="0",
        time=f"{duration:.3f}",
    )
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="threshold", value=str(threshold))
    ET.SubElement(props, "property", name="findings_at_or_above", value=str(failures))
    for dev in result.devices:
        label = " ".join(x for x in (dev.vendor, dev.model) if x) or dev.device_type
        case = ET.SubElement(
            suite, "testcase", classname=f"camaudit.{dev.device_type}", name=f"{dev.ip} {label}"
        )
        below = []
        for f in dev.findings:
            if f.severity >= threshold:
                fail = ET.SubElement(
                    case, "failure", type=f.rule, message=f"[{f.severity}] {f.title}"
                )
                fail.text = _evidence_text(f)
            else:
                below.append(f"[{f.severity}] {f.rule}: {f.title}")
        if below:
            ET.SubElement(case, "system-out").text = "\n".join(below)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _fails(dev: Device, threshold: Severity) -> bool:
    return any(f.severity >= threshold for f in dev.findings)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A cell starting with = + - @ runs as a formula in spreadsheets: banners are hostile.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(result: ScanResult) -> str:
    """Return one CSV row per finding (header first), formula-safe for spreadsheets."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for dev in result.devices:
        for f in dev.findings:
            row = (
                dev.ip, dev.mac, dev.vendor, dev.oem, dev.model, dev.firmware, dev.serial,
                dev.device_type, f.rule, str(f.severity), f.title, _evidence_text(f),
            )  # fmt: skip
            w.writerow([_cell(v) for v in row])
    return buf.getvalue()
