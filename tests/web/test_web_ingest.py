"""POST /api/ingest: storage, idempotency, identity across IP changes, limits, auth."""

from __future__ import annotations

import json

from scanfactory import make_device, make_scan
from sqlmodel import func, select
from webenv import Env

from web.models import Device, DeviceSighting, Finding, Observation, Probe, Scan


def _count(env: Env, table: type) -> int:
    with env.session() as s:
        return int(s.exec(select(func.count()).select_from(table)).one())


def _nothing_written(env: Env) -> None:
    for table in (Scan, Device, DeviceSighting, Finding, Observation):
        assert _count(env, table) == 0, table


def test_good_scan_appears_in_devices_and_findings(env: Env) -> None:
    out = env.ingest(make_scan("scan-1", n_devices=3, findings_per_device=2))
    assert out["created"] is True and out["devices_new"] == 3 and out["findings_new"] == 6
    client, _ = env.login("auditor")
    devices = client.get("/api/devices").json()
    assert devices["total"] == 3
    assert {d["vendor"] for d in devices["items"]} == {"Hikvision", "Dahua", "Lorex"}
    lorex = next(d for d in devices["items"] if d["vendor"] == "Lorex")
    assert lorex["oem"] == "Dahua" and lorex["open_findings"] == 2
    findings = client.get("/api/findings?per_page=100").json()
    assert findings["total"] == 6 and findings["items"][0]["severity"] == "high"
    detail = client.get(f"/api/devices/{lorex['id']}").json()
    assert [s["port"] for s in detail["services"]] == [80, 554]
    assert "mac:02:00:00:00:00:02" in detail["identity_keys"]
    assert _count(env, Observation) == 6


def test_resending_the_same_scan_writes_nothing_new(env: Env) -> None:
    scan = make_scan("scan-1", n_devices=5)
    first = env.ingest(scan)
    again = env.ingest(scan)
    assert again["created"] is False and again["scan_id"] == first["scan_id"]
    assert _count(env, Scan) == 1 and _count(env, Device) == 5
    assert _count(env, Finding) == 20 and _count(env, Observation) == 10


def test_same_device_with_a_new_ip_stays_one_device(env: Env) -> None:
    env.ingest(make_scan("a", devices=[make_device(7, ip="198.18.0.10")], started=1000.0))
    out = env.ingest(make_scan("b", devices=[make_device(7, ip="198.18.3.99")], started=2000.0))
    assert out["devices_new"] == 0 and out["findings_new"] == 0
    with env.session() as s:
        devices = s.exec(select(Device)).all()
        assert len(devices) == 1 and devices[0].ip == "198.18.3.99"
        assert devices[0].first_seen == 1060.0 and devices[0].last_seen == 2060.0
        ips = s.exec(select(DeviceSighting.ip).order_by(DeviceSighting.seen_at)).all()
        assert ips == ["198.18.0.10", "198.18.3.99"]
        assert len(s.exec(select(Finding)).all()) == 4


def test_an_older_scan_arriving_late_does_not_roll_the_device_back(env: Env) -> None:
    env.ingest(make_scan("new", devices=[make_device(1, firmware="V2")], started=5000.0))
    env.ingest(make_scan("old", devices=[make_device(1, firmware="V1")], started=1000.0))
    with env.session() as s:
        dev = s.exec(select(Device)).one()
        assert dev.firmware == "V2" and dev.first_seen == 1060.0 and dev.last_seen == 5060.0


def test_oversized_body_is_413_and_nothing_written(env: Env) -> None:
    env.settings.max_ingest_bytes = 10_000
    body = json.dumps(make_scan("big", n_devices=40)).encode()
    assert len(body) > 10_000
    headers = {"Authorization": f"Bearer {env.token}", "content-type": "application/json"}
    r = env.client().post("/api/ingest", content=body, headers=headers)
    assert r.status_code == 413 and "larger than" in r.json()["detail"]

    # Without a Content-Length (chunked upload) the limit holds while streaming.
    def chunks() -> object:
        for i in range(0, len(body), 4096):
            yield body[i : i + 4096]

    r = env.client().post("/api/ingest", content=chunks(), headers=headers)  # type: ignore[arg-type]
    assert r.status_code == 413
    _nothing_written(env)


def test_malformed_body_is_422_and_nothing_written(env: Env) -> None:
    headers = {"Authorization": f"Bearer {env.token}", "content-type": "application/json"}
    c = env.client()
    bad = make_scan("bad", n_devices=3)
    bad["devices"][2]["ip"] = "not-an-ip"  # type: ignore[index]
    for body in (b"{not json", json.dumps({"devices": []}).encode(), json.dumps(bad).encode()):
        r = c.post("/api/ingest", content=body, headers=headers)
        assert r.status_code == 422, r.text
        assert r.json()["detail"]
    wrong_sev = make_scan("sev", n_devices=1)
    wrong_sev["devices"][0]["findings"][0]["severity"] = "apocalyptic"  # type: ignore[index]
    assert c.post("/api/ingest", json=wrong_sev, headers=headers).status_code == 422
    _nothing_written(env)


def test_wrong_missing_or_revoked_token_is_401(env: Env) -> None:
    c = env.client()
    scan = make_scan("s", n_devices=1)
    r = c.post("/api/ingest", json=scan)
    assert r.status_code == 401 and "missing probe token" in r.json()["detail"]
    r = c.post("/api/ingest", json=scan, headers={"Authorization": "Bearer cat_nope"})
    assert r.status_code == 401 and r.json()["detail"] == "unknown probe token"
    with env.session() as s:
        probe = s.exec(select(Probe)).one()
        probe.revoked = True
        s.add(probe)
        s.commit()
    r = c.post("/api/ingest", json=scan, headers={"Authorization": f"Bearer {env.token}"})
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    _nothing_written(env)


def test_a_250_camera_scan_is_ingested_whole(env: Env) -> None:
    """The 2 s figure is measured by tests/bench/test_bench_web.py, not here."""
    env.settings.max_ingest_bytes = 32 * 1024 * 1024
    scan = make_scan("big", n_devices=250, obs_per_device=8, findings_per_device=4)
    body = json.dumps(scan).encode()
    headers = {"Authorization": f"Bearer {env.token}", "content-type": "application/json"}
    r = env.client().post("/api/ingest", content=body, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["devices"] == 250 and r.json()["findings"] == 1000
    assert r.json()["observations"] == 2000
