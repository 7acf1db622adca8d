"""`camaudit db reclassify`: rules re-run on stored observations update the findings."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select
from typer.testing import CliRunner
from webenv import Env

from auditor.cli import app as cli
from auditor.model import Device, Evidence, Finding, Observation, ScanResult, Severity
from web.models import AuditLog
from web.reclassify import reclassify_scan

IP = "198.18.3.7"
MAC = "02:00:00:00:03:07"


def _scan() -> dict[str, object]:
    """A camera with telnet open, stored with a finding from an old rule set."""
    obs = [
        Observation("arp", IP, {}, mac=MAC, at=1.0),
        Observation(
            "portscan", IP, {"tcp_open": [23, 80], "refused": 0, "scanned": 10}, mac=MAC, at=1.0
        ),
        Observation(
            "http",
            IP,
            {"status": 200, "server": "App-webs/", "title": None, "scheme": "http", "headers": {}},
            port=80,
            mac=MAC,
            at=1.0,
        ),
    ]
    dev = Device(ip=IP, mac=MAC, vendor="Old", device_type="camera")
    dev.findings = [Finding("CAM-RETIRED-RULE", Severity.HIGH, "a rule since withdrawn",
                            [Evidence("test", "old")])]  # fmt: skip
    return ScanResult("rc-1", [IP], 1000.0, 1060.0, [dev], obs, {}).to_dict()


def test_reclassify_opens_new_and_closes_withdrawn_findings(env: Env, tmp_path: Path) -> None:
    scan_id = env.ingest(_scan())["scan_id"]
    c, _ = env.login("auditor")
    before = c.get("/api/findings?status=all").json()["items"]
    assert [f["rule"] for f in before] == ["CAM-RETIRED-RULE"]
    with Session(env.app.state.engine) as s:
        r = reclassify_scan(s, int(scan_id), actor="test")  # type: ignore[call-overload]
        log = s.exec(select(AuditLog).where(AuditLog.action == "reclassify")).one()
    assert r.devices == 1 and r.findings_closed == 1 and r.findings_new >= 1
    assert log.target == f"scan:{scan_id}" and log.detail["findings_closed"] == 1
    now = {
        f["rule"]: f["effective_status"] for f in c.get("/api/findings?status=all").json()["items"]
    }
    assert now["CAM-RETIRED-RULE"] == "resolved" and now["CAM-EXP-TELNET"] == "open"
    dev = c.get("/api/devices").json()["items"][0]
    assert dev["vendor"] != "Old"  # the classifier's answer replaced the stored label
    # A second run changes nothing.
    with Session(env.app.state.engine) as s:
        again = reclassify_scan(s, int(scan_id))  # type: ignore[call-overload]
    assert again.findings_new == 0 and again.findings_closed == 0


def test_cli_reclassify(env: Env) -> None:
    env.ingest(_scan())
    result = CliRunner().invoke(cli, ["db", "reclassify", "--data-dir", str(env.settings.data_dir)])
    assert result.exit_code == 0, result.output
    assert "1 devices" in result.output and "1 closed" in result.output
    bad = CliRunner().invoke(
        cli, ["db", "reclassify", "--scan", "99", "--data-dir", str(env.settings.data_dir)]
    )
    assert bad.exit_code != 0 and "no scan 99" in str(bad.exception)
