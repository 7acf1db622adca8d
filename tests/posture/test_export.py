"""CI outputs: SARIF 2.1.0 shape, JUnit XML that parses, formula-safe CSV."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

from postureobs import devices_from, onvif_obs

from auditor.export import to_csv, to_junit, to_sarif
from auditor.model import ScanResult, Severity
from auditor.rules import RULES


def _result() -> ScanResult:
    hik = onvif_obs("198.18.0.20", "HIKVISION", "DS-2CD2043G2-I", "V5.4.5 build 170124",
                    hardware_id="88")  # fmt: skip
    axis = onvif_obs("198.18.0.21", '=HYPERLINK("x")', "AXIS P3245-V", "11.2.68")
    devs = devices_from(hik, axis)
    return ScanResult("scan-1", ["198.18.0.0/22"], 100.0, 112.5, devices=devs)


def test_sarif_shape() -> None:
    res = _result()
    log = json.loads(json.dumps(to_sarif(res)))  # JSON-serialisable
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} == set(RULES)
    n_findings = sum(len(d.findings) for d in res.devices)
    assert len(run["results"]) == n_findings > 0
    for r in run["results"]:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["level"] in ("error", "warning", "note")
        (loc,) = r["locations"][0]["logicalLocations"]
        assert loc["name"].startswith(("198.18.0.20/", "198.18.0.21/"))
    kev = next(r for r in run["results"] if r["ruleId"] == "CAM-VULN-KEV")
    assert kev["level"] == "error" and "CVE-2021-36260" in kev["message"]["text"]


def test_junit_parses_and_fails_at_threshold() -> None:
    res = _result()
    root = ET.fromstring(to_junit(res, Severity.CRITICAL))
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == 2
    fails = {c.get("name", "").split()[0]: c.findall("failure") for c in cases}
    assert {f.get("type") for f in fails["198.18.0.20"]} == {"CAM-VULN-KEV"}
    assert fails["198.18.0.21"] == []
    assert suite.get("failures") == "1"
    # a lower threshold fails more
    root = ET.fromstring(to_junit(res, Severity.HIGH))
    hik = next(c for c in root.iter("testcase") if c.get("name", "").startswith("198.18.0.20"))
    assert {"CAM-VULN-KEV", "CAM-POL-NDAA-889"} <= {f.get("type") for f in hik.findall("failure")}


def test_csv_rows_and_formula_safety() -> None:
    res = _result()
    rows = list(csv.DictReader(io.StringIO(to_csv(res))))
    assert len(rows) == sum(len(d.findings) for d in res.devices)
    assert {r["rule"] for r in rows} >= {"CAM-VULN-KEV", "CAM-POL-NDAA-889"}
    assert all(not r["vendor"].startswith("=") for r in rows)
