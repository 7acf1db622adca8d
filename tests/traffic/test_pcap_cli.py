"""`camaudit pcap` and `camaudit watch` end to end through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from sitecap import CAM, SITE_DNS, SITE_NTP, VMS, site_capture
from typer.testing import CliRunner

from auditor.cli import pcap as pcap_cmds

runner = CliRunner()


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    # a fresh app: the root app registers these commands itself once wired in
    a = typer.Typer()
    pcap_cmds.register(a)
    return a


def test_pcap_reports_devices_findings_and_json(app: typer.Typer, tmp_path: Path) -> None:
    cap = site_capture(tmp_path)
    out = tmp_path / "r.json"
    r = runner.invoke(
        app,
        ["pcap", str(cap), "--json", str(out), "--site-dns", SITE_DNS, "--site-ntp", SITE_NTP,
         "--vms", VMS, "--local", "198.18.200.0/24", "--fail-on", "high"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert r.exit_code == 1, r.output  # P2P and UPnP are high
    assert "p2p.easy4ipcloud.com" in r.output and "CAM-NET-P2P" in r.output
    assert "0 skipped" in r.output
    doc = json.loads(out.read_text())
    cam = next(d for d in doc["devices"] if d["ip"] == CAM)
    rules = {f["rule"] for f in cam["findings"]}
    assert {"CAM-NET-P2P", "CAM-NET-UPNP-PORTMAP", "CAM-NET-DNS-HARDCODED"} <= rules
    assert any(o["probe"] == "flows" and o["ip"] == "*" for o in doc["observations"])
    assert doc["scan"]["stats"]["policy"]["resolvers"] == [SITE_DNS]


def test_pcap_on_garbage_is_an_error_not_a_crash(app: typer.Typer, tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not a capture")
    r = runner.invoke(app, ["pcap", str(bad)])
    assert r.exit_code == 2 and "no packets read" in r.output
    r = runner.invoke(app, ["pcap", str(tmp_path / "missing.pcap")])
    assert r.exit_code == 2


def test_pcap_bad_policy_is_refused(app: typer.Typer, tmp_path: Path) -> None:
    r = runner.invoke(app, ["pcap", str(site_capture(tmp_path)), "--site-dns", "dns.city"])
    assert r.exit_code == 2 and "not an address" in r.output


def test_watch_needs_an_interface(app: typer.Typer) -> None:
    r = runner.invoke(app, ["watch", "--duration", "1s"])
    assert r.exit_code == 2 and "--iface" in r.output
    r = runner.invoke(app, ["watch", "--iface", "any", "--duration", "1s"])
    assert r.exit_code == 2 and "refused" in r.output
    r = runner.invoke(app, ["watch", "--iface", "camt6-nosuch0", "--duration", "1s"])
    assert r.exit_code == 2 and "no interface" in r.output


def test_pcap_with_site_policy_file(app: typer.Typer, tmp_path: Path) -> None:
    policy = tmp_path / "site.toml"
    policy.write_text(
        "[network]\n"
        f'allowed_resolvers = ["{SITE_DNS}"]\n'
        f'allowed_ntp = ["{SITE_NTP}"]\n'
        f'allowed_vms = ["{VMS}/32"]\n'
        'local_networks = ["198.18.200.0/24"]\n'
        "cameras_isolated = true\n"
        "[severity]\n"
        '"CAM-NET-P2P" = "low"\n'
    )
    out = tmp_path / "r.json"
    r = runner.invoke(
        app,
        ["pcap", str(site_capture(tmp_path)), "--policy", str(policy), "--json", str(out), "-q"],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    found = {f["rule"]: f for d in doc["devices"] for f in d["findings"] if d["ip"] == CAM}
    assert found["CAM-NET-P2P"]["severity"] == "low"  # the file's override applied
    assert "CAM-NET-ISOLATION" in found  # cameras_isolated from the file
    assert doc["scan"]["stats"]["policy"]["resolvers"] == [SITE_DNS]
    others = [d for d in doc["devices"] if d["ip"] != CAM]
    assert not [f for d in others for f in d["findings"] if f["rule"].startswith("CAM-NET")]
