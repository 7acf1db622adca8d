"""The scan command refuses bad input clearly, before touching the network."""

from __future__ import annotations

from typer.testing import CliRunner

from auditor.cli import app

runner = CliRunner()


def test_scan_without_targets_refuses() -> None:
    r = runner.invoke(app, ["scan"])
    assert r.exit_code == 2
    assert "no targets" in r.output


def test_scan_with_malformed_target_refuses() -> None:
    r = runner.invoke(app, ["scan", "camera-17"])
    assert r.exit_code == 2
    assert "not an IPv4 address" in r.output


def test_scan_with_bad_fail_on_refuses() -> None:
    r = runner.invoke(app, ["scan", "127.0.0.1", "--fail-on", "scary"])
    assert r.exit_code == 2
    assert "unknown severity" in r.output


def test_server_without_token_refuses(monkeypatch: object) -> None:
    r = runner.invoke(
        app, ["scan", "127.0.0.1", "--server", "http://127.0.0.1:9"], env={"CAMAUDIT_TOKEN": ""}
    )
    assert r.exit_code == 2
    assert "token" in r.output


def test_bad_ports_refused() -> None:
    r = runner.invoke(app, ["scan", "127.0.0.1", "--ports", "80,http"])
    assert r.exit_code == 2
    assert "--ports" in r.output


def test_help_teaches() -> None:
    r = runner.invoke(app, ["scan", "--help"])
    assert r.exit_code == 0
    assert "--fail-on" in r.output and "Examples" in r.output


def test_discover_only_needs_discovery() -> None:
    r = runner.invoke(app, ["scan", "127.0.0.1", "--discover-only", "--no-ping"])
    assert r.exit_code == 2
    assert "--discover-only" in r.output and "--no-ping" in r.output
