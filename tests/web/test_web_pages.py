"""Pages and JSON twins: pagination, search, diff, finding workflow."""

from __future__ import annotations

import time

from scanfactory import make_device, make_scan
from webenv import Env


def test_pagination_search_filter_and_sort(env: Env) -> None:
    env.ingest(make_scan("s", n_devices=30, findings_per_device=1))
    c, _ = env.login("auditor")
    p1 = c.get("/api/devices?per_page=10&sort=ip&order=asc").json()
    p3 = c.get("/api/devices?per_page=10&sort=ip&order=asc&page=3").json()
    assert p1["total"] == 30 and p1["pages"] == 3 and len(p1["items"]) == 10
    ids = {d["id"] for d in p1["items"]} | {d["id"] for d in p3["items"]}
    assert len(ids) == 20
    assert [d["ip"] for d in p1["items"]] == sorted(d["ip"] for d in p1["items"])
    lorex = c.get("/api/devices?q=lorex").json()
    assert lorex["total"] == 4 and all(d["vendor"] == "Lorex" for d in lorex["items"])
    assert c.get("/api/devices?oem=Dahua").json()["total"] == 9  # Dahua + Lorex rebrands
    assert c.get("/api/devices?q=SN00000017").json()["items"][0]["serial"] == "SN00000017"
    assert c.get("/api/devices?site=nowhere").json()["total"] == 0
    assert c.get("/api/devices?per_page=501").status_code == 422
    html = c.get("/devices?q=lorex&per_page=2")
    assert html.status_code == 200 and "page 1 of 2" in html.text and "Lorex" in html.text


def test_overview_counts(env: Env) -> None:
    env.ingest(make_scan("s", n_devices=7, findings_per_device=2))
    c, _ = env.login("auditor")
    o = c.get("/api/overview").json()
    assert o["devices"] == 7 and o["open_findings"] == 14
    assert o["findings_by_severity"] == {"critical": 0, "high": 7, "medium": 7, "low": 0, "info": 0}
    assert {x["name"]: x["count"] for x in o["by_oem"]}["Dahua"] == 2
    assert "7</b> devices" in c.get("/").text


def test_scan_diff(env: Env) -> None:
    kept, moved, gone = make_device(1), make_device(2, ip="198.18.9.9"), make_device(3)
    a = env.ingest(make_scan("a", devices=[kept, moved, gone], started=1000.0))
    kept2 = make_device(1, firmware="V9")
    kept2.findings = kept2.findings[:2]  # two findings fixed
    moved2 = make_device(2, ip="198.18.9.10")
    new = make_device(4)
    b = env.ingest(make_scan("b", devices=[kept2, moved2, new], started=2000.0))
    c, _ = env.login("auditor")
    d = c.get(f"/api/scans/diff?a={a['scan_id']}&b={b['scan_id']}").json()
    assert [x["ip"] for x in d["new_devices"]] == [new.ip]
    assert [x["ip"] for x in d["gone_devices"]] == [gone.ip]
    changes = {x["ip"]: x["changes"] for x in d["changed_devices"]}
    assert changes == {
        kept.ip: {"firmware": ["V5.5.0", "V9"]},
        "198.18.9.10": {"ip": ["198.18.9.9", "198.18.9.10"]},
    }
    assert {(f["ip"], f["rule"]) for f in d["new_findings"]} == {
        (new.ip, r)
        for r in ("CAM-OEM-REBRAND", "CAM-HIDDEN-WIFI", "CAM-CLOUD-P2P", "CAM-RTSP-NOAUTH")
    }
    gone_rules = {(f["ip"], f["rule"]) for f in d["gone_findings"]}
    assert (kept.ip, "CAM-CLOUD-P2P") in gone_rules and (kept.ip, "CAM-RTSP-NOAUTH") in gone_rules
    assert len(gone_rules) == 2 + 4  # two fixed on `kept`, four on the gone device
    assert c.get(f"/scans/diff?a={a['scan_id']}&b={b['scan_id']}").status_code == 200
    assert c.get("/api/scans/diff?a=1&b=999").status_code == 404
    # Findings fixed on `kept` now read as resolved, not open.
    resolved = c.get("/api/findings?status=resolved").json()
    assert resolved["total"] == 2


def test_acknowledge_and_accept_workflow(env: Env) -> None:
    env.ingest(make_scan("s", n_devices=1, findings_per_device=2))
    auditor, csrf = env.login("auditor")
    fid = auditor.get("/api/findings").json()["items"][0]["id"]
    r = auditor.post(f"/api/findings/{fid}/acknowledge", json={"note": "seen"},
                     headers={"x-csrf-token": csrf})  # fmt: skip
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    assert r.json()["acknowledged_by"] == "auditor"
    assert auditor.get("/api/findings?status=acknowledged").json()["total"] == 1
    body = {"justification": "budget next year", "expires_at": time.time() + 86400}
    r = auditor.post(f"/api/findings/{fid}/accept", json=body, headers={"x-csrf-token": csrf})
    assert r.status_code == 403
    admin, acsrf = env.login("admin")
    r = admin.post(f"/api/findings/{fid}/accept", json=body, headers={"x-csrf-token": acsrf})
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    past = {"justification": "x" * 5, "expires_at": time.time() - 1}
    r = admin.post(f"/api/findings/{fid}/accept", json=past, headers={"x-csrf-token": acsrf})
    assert r.status_code == 422
    # The HTML form path: acknowledge the other finding via a POST form with CSRF.
    other = admin.get("/api/findings?status=open").json()["items"][0]["id"]
    r = admin.post(f"/findings/{other}/acknowledge", data={"csrf_token": acsrf},
                   follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    assert admin.get("/api/findings?status=open").json()["total"] == 0
    log = admin.get("/api/admin").json()["audit"]
    assert {"finding.accept", "finding.acknowledge"} <= {e["action"] for e in log}


def test_expired_acceptance_reads_as_open(env: Env) -> None:
    env.ingest(make_scan("s", n_devices=1, findings_per_device=1))
    from sqlmodel import select

    from web.models import Finding

    with env.session() as s:
        f = s.exec(select(Finding)).one()
        f.status, f.justification, f.expires_at = "accepted", "old", time.time() - 10
        s.add(f)
        s.commit()
    c, _ = env.login("auditor")
    assert c.get("/api/findings?status=open").json()["items"][0]["status"] == "accepted"
    assert c.get("/api/findings?status=open").json()["items"][0]["effective_status"] == "open"


def test_admin_creates_a_probe_and_sees_the_token_once(env: Env) -> None:
    admin, csrf = env.login("admin")
    r = admin.post(
        "/admin/probes", data={"name": "pi-south", "site_id": env.site_id, "csrf_token": csrf}
    )
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    token = r.text.split("<pre>")[1].split("</pre>")[0]
    assert token.startswith("cat_")
    assert token not in admin.get("/admin").text
    assert token not in str(admin.get("/api/admin").json())
    assert env.ingest(make_scan("x", n_devices=1), token=token)["created"] is True


def test_pages_render(env: Env) -> None:
    a = env.ingest(make_scan("s", n_devices=2))
    c, _ = env.login("admin")
    for path in ("/", "/devices", "/devices/1", "/findings", "/scans", f"/scans/{a['scan_id']}",
                 "/admin", "/docs"):  # fmt: skip
        r = c.get(path)
        assert r.status_code == 200, path
        assert "cdn" not in r.text.lower() and "https://" not in r.text, path
    assert c.get("/devices/999").status_code == 404
    assert c.get("/api/devices/999").json()["detail"] == "no device 999"
