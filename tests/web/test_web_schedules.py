"""Cron specs, schedules (admin) and the job API probes pull (docs/api.md)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from scanfactory import make_scan
from sqlmodel import select
from webenv import Env

from auditor.errors import ConfigError
from web.cron import parse
from web.models import Schedule

MON_1230 = dt.datetime(2024, 1, 1, 12, 30, tzinfo=dt.UTC).timestamp()  # a Monday


def _next(spec: str, after: float = MON_1230) -> str:
    return dt.datetime.fromtimestamp(parse(spec).next_after(after), tz=dt.UTC).strftime(
        "%Y-%m-%d %H:%M %a"
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("@hourly", "2024-01-01 13:00 Mon"),
        ("@daily", "2024-01-02 00:00 Tue"),
        ("@weekly", "2024-01-07 00:00 Sun"),
        ("@monthly", "2024-02-01 00:00 Thu"),
        ("*/15 * * * *", "2024-01-01 12:45 Mon"),
        ("30 12 * * *", "2024-01-02 12:30 Tue"),  # strictly after
        ("0 9 * * 1-5", "2024-01-02 09:00 Tue"),
        ("0 2 * * 7", "2024-01-07 02:00 Sun"),  # 7 is Sunday too
        ("0 0 29 2 *", "2024-02-29 00:00 Thu"),
        ("0 0 13 * 5", "2024-01-05 00:00 Fri"),  # day-of-month OR day-of-week, as cron
        ("5,35 8-10/2 * 3 *", "2024-03-01 08:05 Fri"),
    ],
)
def test_cron_next_fire_time(spec: str, expected: str) -> None:
    assert _next(spec) == expected


@pytest.mark.parametrize(
    ("spec", "words"),
    [("* * * *", "five fields"), ("61 * * * *", "outside 0-59"), ("a * * * *", "not a number"),
     ("*/0 * * * *", "outside"), ("0 0 31 2 *", "never fires"), ("@yearly-ish", "five fields")],
)  # fmt: skip
def test_bad_cron_specs_are_refused_clearly(spec: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse(spec)


def _make_due(env: Env) -> None:
    with env.session() as s:
        for sched in s.exec(select(Schedule)):
            sched.next_due = time.time() - 5
            s.add(sched)
        s.commit()


def test_schedule_to_job_to_done(env: Env) -> None:
    admin, csrf = env.login("admin")
    body = {"name": "nightly", "site_id": env.site_id, "spec": "@daily",
            "targets": ["198.18.0.0/24"], "options": {"fail_on": "high"}}  # fmt: skip
    r = admin.post("/api/schedules", json=body, headers={"x-csrf-token": csrf})
    assert r.status_code == 201 and r.json()["next_due"] > time.time()
    bad = admin.post("/api/schedules", json=body | {"name": "x", "spec": "0 25 * * *"},
                     headers={"x-csrf-token": csrf})  # fmt: skip
    assert bad.status_code == 422 and "hour" in bad.json()["detail"]
    none = admin.post("/api/schedules", json=body | {"name": "y", "targets": []},
                      headers={"x-csrf-token": csrf})  # fmt: skip
    assert none.status_code == 422 and "target" in none.json()["detail"]

    probe = env.client()
    auth = {"Authorization": f"Bearer {env.token}"}
    assert probe.get("/api/jobs/next", headers=auth).json() == {"jobs": []}  # not due yet
    _make_due(env)
    jobs = probe.get("/api/jobs/next", headers=auth).json()["jobs"]
    assert len(jobs) == 1
    job = jobs[0]
    assert job["kind"] == "scan" and job["targets"] == ["198.18.0.0/24"]
    assert job["options"] == {"fail_on": "high"} and job["due"] <= time.time()
    # Not done yet: the same job again (a restarted probe picks it back up), not a second.
    assert [j["id"] for j in probe.get("/api/jobs/next", headers=auth).json()["jobs"]] == [
        job["id"]
    ]
    scan = env.ingest(make_scan("job-scan", n_devices=1))
    r = probe.post(f"/api/jobs/{job['id']}/done", json={"scan_id": 999}, headers=auth)
    assert r.status_code == 422
    r = probe.post(f"/api/jobs/{job['id']}/done", json={"scan_id": scan["scan_id"]}, headers=auth)
    assert r.status_code == 200 and r.json()["status"] == "done"
    r = probe.post(f"/api/jobs/{job['id']}/done", json={"scan_id": scan["scan_id"]}, headers=auth)
    assert r.status_code == 409
    assert probe.get("/api/jobs/next", headers=auth).json() == {"jobs": []}
    assert probe.post("/api/jobs/12345/done", json={}, headers=auth).status_code == 404
    log = {e["action"] for e in admin.get("/api/admin").json()["audit"]}
    assert {"schedule.create", "job.done"} <= log


def test_a_job_goes_to_one_probe_of_the_site_only(env: Env) -> None:
    admin, csrf = env.login("admin")
    page = admin.post("/admin/probes", data={"name": "pi-2", "site_id": env.site_id,
                                             "csrf_token": csrf})  # fmt: skip
    other = page.text.split("<pre>")[1].split("</pre>")[0]
    r = admin.post("/schedules", data={"name": "h", "site_id": env.site_id, "spec": "@hourly",
                                       "targets": "198.18.0.1, 198.18.0.2",
                                       "csrf_token": csrf}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    _make_due(env)
    c = env.client()
    first = c.get("/api/jobs/next", headers={"Authorization": f"Bearer {env.token}"}).json()
    assert first["jobs"][0]["targets"] == ["198.18.0.1", "198.18.0.2"]
    second = c.get("/api/jobs/next", headers={"Authorization": f"Bearer {other}"}).json()
    assert second == {"jobs": []}
    failed = c.post(f"/api/jobs/{first['jobs'][0]['id']}/done",
                    json={"scan_id": None, "error": "no route to 198.18.0.1"},
                    headers={"Authorization": f"Bearer {env.token}"})  # fmt: skip
    assert failed.json()["status"] == "failed"


def test_schedules_page_add_and_delete(env: Env) -> None:
    admin, csrf = env.login("admin")
    r = admin.post("/schedules", data={"name": "w", "site_id": env.site_id, "spec": "bogus",
                                       "targets": "198.18.0.1", "csrf_token": csrf})  # fmt: skip
    assert r.status_code == 400 and "five fields" in r.text
    admin.post("/schedules", data={"name": "w", "site_id": env.site_id, "spec": "@weekly",
                                   "targets": "198.18.0.0/24", "csrf_token": csrf})  # fmt: skip
    page = admin.get("/schedules").text
    assert "@weekly" in page and "198.18.0.0/24" in page
    sid = admin.get("/api/schedules").json()[0]["id"]
    _make_due(env)
    env.client().get("/api/jobs/next", headers={"Authorization": f"Bearer {env.token}"})
    r = admin.post(f"/schedules/{sid}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and admin.get("/api/schedules").json() == []
