"""Report: self-contained HTML, escaped device text, summary counts."""

from __future__ import annotations

from obsbuild import http, onvif, portscan

from auditor.classify import classify
from auditor.model import ScanResult
from auditor.report import render_html, summary
from auditor.rules import evaluate

IP = "198.18.0.10"
EVIL = "<script>alert('x')</script>"


def result() -> ScanResult:
    obs = [
        http(IP, server=EVIL, title=f"<img src=x onerror=alert(1)>{EVIL}"),
        onvif(IP, manufacturer="Amcrest", model=EVIL, firmware="V2.420.AC00.17.R"),
        portscan(IP, 23, 80),
        onvif("198.18.0.11", manufacturer="AXIS", model="P1375"),
    ]
    devs = classify(obs)
    evaluate(devs)
    return ScanResult("scan-1", ["198.18.0.0/24"], 1_700_000_000.0, 1_700_000_012.5, devs, obs)


def test_hostile_banner_is_escaped() -> None:
    html = render_html(result())
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<img src=x" not in html


def test_html_is_self_contained() -> None:
    html = render_html(result()).lower()
    assert html.startswith("<!doctype html>")
    for needle in ("<script", "http://", "https://", "<link", "@import", "<img", "<iframe"):
        assert needle not in html, needle
    assert "<style>" in html


def test_summary_counts() -> None:
    s = summary(result())
    assert s["devices"] == 2
    assert s["by_oem"]["Dahua"] == 1 and s["by_vendor"]["Amcrest"] == 1
    assert s["rebrands"] == 1
    assert list(s["findings_by_severity"]) == ["critical", "high", "medium", "low", "info"]
    assert s["findings"] == sum(s["findings_by_severity"].values()) > 0
    # the Amcrest's V2.420 firmware is inside CVE-2020-5735 (CISA KEV): critical
    assert s["max_severity"] == "critical"
    assert "CAM-POL-NDAA-889" in s["findings_by_rule"]


def test_empty_scan_renders() -> None:
    empty = ScanResult("scan-0", [], 0.0, 0.0)
    assert "0</strong> devices" in render_html(empty)
    assert summary(empty)["max_severity"] is None
