"""Audit report (HTML, PDF), CSV exports and the scan JSON export."""

from __future__ import annotations

import csv
import io
import json

from scanfactory import make_device, make_scan
from webenv import Env


def _hostile_scan() -> dict[str, object]:
    dev = make_device(0)
    dev.model = '=HYPERLINK("http://x")<script>alert(1)</script>'
    return make_scan("r1", devices=[dev, make_device(1), make_device(2)])


def test_html_report_has_summary_charts_inventory_findings_and_evidence(env: Env) -> None:
    env.ingest(_hostile_scan())
    c, _ = env.login("auditor")
    r = c.get("/reports/audit.html")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "Camera network privacy audit" in html
    assert html.count("<svg") >= 5  # severity, OEM, vendor, type, trend
    assert "198.18.0.2" in html and "Lorex" in html and "rebrand" in html  # inventory
    assert "CAM-HIDDEN-WIFI on camera 1" in html and "Server header" in html  # evidence
    assert "<script>" not in html and "&lt;script&gt;" in html  # a banner stays text
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
        "http://x", ""
    )  # nothing to fetch
    # Its own CSP: no script at all, inline CSS allowed for a standalone document.
    assert "script-src" not in r.headers["content-security-policy"]
    assert "default-src 'none'" in r.headers["content-security-policy"]
    saved = c.get("/reports/audit.html?download=1")
    assert "attachment" in saved.headers["content-disposition"]
    log = env.login("admin")[0].get("/api/admin").json()["audit"]
    assert any(e["action"] == "report.html" and e["actor"] == "user:auditor" for e in log)


def test_pdf_report(env: Env) -> None:
    env.ingest(make_scan("p1", n_devices=4))
    c, _ = env.login("auditor")
    r = c.get("/reports/audit.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-") and len(r.content) > 5_000
    assert r.headers["content-disposition"].startswith('attachment; filename="camaudit-audit-')


def test_devices_csv_has_every_device_and_defuses_formulas(env: Env) -> None:
    env.ingest(_hostile_scan())
    c, _ = env.login("auditor")
    r = c.get("/exports/devices.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 3 and {x["ip"] for x in rows} == {"198.18.0.1", "198.18.0.2", "198.18.0.3"}
    hostile = next(x for x in rows if x["ip"] == "198.18.0.1")
    assert hostile["model"].startswith("'=HYPERLINK")  # a spreadsheet shows it as text
    assert hostile["open_findings"] == "4" and hostile["max_severity"] == "critical"
    assert c.get("/exports/devices.csv?site=nowhere").text.count("\n") == 1  # header only


def test_findings_csv_has_status_and_evidence(env: Env) -> None:
    env.ingest(make_scan("f1", n_devices=2, findings_per_device=3))
    c, csrf = env.login("auditor")
    fid = c.get("/api/findings").json()["items"][0]["id"]
    c.post(f"/api/findings/{fid}/acknowledge", json={"note": "known"},
           headers={"x-csrf-token": csrf})  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(c.get("/exports/findings.csv").text)))
    assert len(rows) == 6
    assert {x["status"] for x in rows} == {"open", "acknowledged"}
    assert all("http:80: Server header = App-webs/" in x["evidence"] for x in rows)


def test_scan_json_export_round_trips_through_ingest(env: Env) -> None:
    a = env.ingest(make_scan("j1", n_devices=3, obs_per_device=2))
    c, _ = env.login("auditor")
    r = c.get(f"/exports/scan/{a['scan_id']}.json")
    assert r.status_code == 200
    data = json.loads(r.content)
    assert data["scan"]["id"] == "j1" and len(data["devices"]) == 3
    assert len(data["observations"]) == 6 and data["server"]["probe"] == "pi-north"
    assert c.get("/exports/scan/999.json").status_code == 404
    # The export is a valid scan: another server (here, another probe) takes it as is.
    admin, csrf = env.login("admin")
    page = admin.post("/admin/probes", data={"name": "p2", "site_id": env.site_id,
                                             "csrf_token": csrf})  # fmt: skip
    token = page.text.split("<pre>")[1].split("</pre>")[0]
    again = env.ingest(data, token=token)
    assert again["created"] is True and again["devices"] == 3
