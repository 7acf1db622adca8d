"""`camaudit reclassify`: stored observations in, today's findings out, no rescanning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from postureobs import devices_from, onvif_obs
from typer.testing import CliRunner

from auditor.cli import reclassify as cmd
from auditor.errors import ConfigError
from auditor.model import ScanResult

POLICY = '[inventory]\nvendors = ["Axis"]\n[severity]\n"CAM-VULN-KEV" = "high"\n'


def _scan_json(tmp_path: Path) -> Path:
    obs = [
        onvif_obs("198.18.0.20", "HIKVISION", "DS-2CD2043G2-I", "V5.4.5 build 170124",
                  hardware_id="88"),
        onvif_obs("198.18.0.21", "AXIS", "AXIS P3245-V", "11.2.68"),
    ]  # fmt: skip
    res = ScanResult("scan-7", ["198.18.0.0/22"], 1.0, 2.0, devices=devices_from(*obs),
                     observations=obs)  # fmt: skip
    for d in res.devices:
        d.findings = []  # as if written before today's rules existed
    path = tmp_path / "scan.json"
    path.write_text(json.dumps(res.to_dict()))
    return path


def _app() -> typer.Typer:
    app = typer.Typer()
    cmd.register(app)
    app.add_typer(cmd.data_app, name="data")
    return app


def test_round_trip_adds_findings_and_keeps_scan_identity(tmp_path: Path) -> None:
    src = _scan_json(tmp_path)
    out = tmp_path / "new.json"
    pol = tmp_path / "site.toml"
    pol.write_text(POLICY)
    res = CliRunner().invoke(
        _app(), ["reclassify", str(src), "--json", str(out), "--policy", str(pol), "-q"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["scan"]["id"] == "scan-7" and len(doc["observations"]) == 2
    by_ip = {d["ip"]: {f["rule"]: f for f in d["findings"]} for d in doc["devices"]}
    assert by_ip["198.18.0.20"]["CAM-VULN-KEV"]["severity"] == "high"  # policy override
    assert "CAM-POL-NOT-APPROVED" in by_ip["198.18.0.20"]
    assert "CAM-POL-NOT-APPROVED" not in by_ip["198.18.0.21"]
    # reclassifying its own output again gives the same findings (idempotent)
    again = tmp_path / "again.json"
    res = CliRunner().invoke(
        _app(), ["reclassify", str(out), "--json", str(again), "--policy", str(pol), "-q"]
    )
    assert res.exit_code == 0
    assert json.loads(again.read_text())["devices"] == doc["devices"]


def test_fail_on_exit_code(tmp_path: Path) -> None:
    res = CliRunner().invoke(_app(), ["reclassify", str(_scan_json(tmp_path)), "-q",
                                      "--fail-on", "critical"])  # fmt: skip
    assert res.exit_code == 1


def test_scan_without_observations_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "scan.json"
    path.write_text(json.dumps({"scan": {"id": "x"}, "devices": []}))
    with pytest.raises(ConfigError, match="has no 'observations'"):
        cmd.load_scan(path)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not JSON"):
        cmd.load_scan(path)


def test_data_check(tmp_path: Path) -> None:
    res = CliRunner().invoke(_app(), ["data", "check"])
    assert res.exit_code == 0 and "advisories:" in res.output
    bad = tmp_path / "adv.toml"
    bad.write_text('[[advisory]]\nid = "CVE-1"\n')
    res = CliRunner().invoke(_app(), ["data", "check", "--advisories", str(bad)])
    assert res.exit_code != 0
    assert isinstance(res.exception, ConfigError) and "advisory #1 (CVE-1)" in str(res.exception)
