"""deploy/install.sh and the systemd units: syntax, lint, the files laid down, and
`systemd-analyze verify` on the units as installed.

The installer's ``--root DIR`` mode writes exactly the files a real install writes,
under DIR, and changes nothing else on the machine (no packages, user, venv, systemctl).
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
INSTALL = DEPLOY / "install.sh"


def _install(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True, timeout=60)


def _modes(root: Path) -> dict[str, str]:
    return {
        "/" + str(p.relative_to(root)): oct(p.stat().st_mode & 0o777)[2:]
        for p in root.rglob("*")
        if "usr" not in p.relative_to(root).parts
    }


def test_script_parses_and_passes_shellcheck() -> None:
    subprocess.run(["bash", "-n", str(INSTALL)], check=True)
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    r = subprocess.run(["shellcheck", str(INSTALL)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


def test_bad_arguments_give_clear_errors(tmp_path: Path) -> None:
    r = _install("--root", str(tmp_path))
    assert r.returncode == 2 and "--role probe or --role server is required" in r.stderr
    r = _install("--role", "laptop", "--root", str(tmp_path))
    assert r.returncode == 2 and "must be probe or server" in r.stderr
    r = _install("--role", "probe", "--frobnicate")
    assert r.returncode == 2 and "unknown option --frobnicate" in r.stderr


def test_probe_install_lays_down_private_config_and_the_unit(tmp_path: Path) -> None:
    r = _install("--role", "probe", "--root", str(tmp_path))
    assert r.returncode == 0, r.stderr
    modes = _modes(tmp_path)
    assert modes["/etc/camaudit"] == "750"
    assert modes["/etc/camaudit/probe.toml"] == "640"
    assert modes["/etc/camaudit/probe.token"] == "640"
    assert modes["/var/lib/camaudit/probe"] == "750"
    assert modes["/etc/systemd/system/camaudit-probe.service"] == "644"
    assert "/etc/systemd/journald.conf.d/50-camaudit.conf" in modes
    assert "/etc/systemd/system/camaudit-server.service" not in modes
    # The config it writes scans nothing until the admin names the allowed ranges.
    from probes.agent.config import load_config

    with pytest.raises(Exception, match="allowed_targets is required"):
        load_config(tmp_path / "etc/camaudit/probe.toml", env={})

    # A re-run (an upgrade) keeps what the admin configured.
    (tmp_path / "etc/camaudit/probe.token").write_text("cat_secret\n")
    assert _install("--role", "probe", "--root", str(tmp_path)).returncode == 0
    assert (tmp_path / "etc/camaudit/probe.token").read_text() == "cat_secret\n"

    r = _install("--uninstall", "--root", str(tmp_path))
    assert r.returncode == 0 and "kept /etc/camaudit" in r.stdout
    assert not (tmp_path / "etc/systemd/system/camaudit-probe.service").exists()
    assert not (tmp_path / "opt/camaudit").exists()
    assert (tmp_path / "etc/camaudit/probe.token").exists(), "results and keys survive"
    assert _install("--uninstall", "--purge", "--root", str(tmp_path)).returncode == 0
    assert not (tmp_path / "etc/camaudit").exists()
    assert not (tmp_path / "var/lib/camaudit").exists()


def test_server_install_generates_a_secret(tmp_path: Path) -> None:
    assert _install("--role", "server", "--root", str(tmp_path)).returncode == 0
    env = (tmp_path / "etc/camaudit/server.env").read_text()
    secret = next(
        ln.split("=", 1)[1] for ln in env.splitlines() if ln.startswith("CAMAUDIT_SECRET_KEY=")
    )
    assert len(secret) >= 32
    assert _modes(tmp_path)["/etc/camaudit/server.env"] == "640"


def _unit(name: str) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    cp.read(DEPLOY / "systemd" / name)
    return cp


HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ReadWritePaths": "/var/lib/camaudit",
    "SystemCallFilter": "@system-service",
    "User": "camaudit",
}


def test_units_grant_only_the_needed_capabilities() -> None:
    probe, server = _unit("camaudit-probe.service"), _unit("camaudit-server.service")
    for unit in (probe, server):
        svc = unit["Service"]
        for key, value in HARDENING.items():
            assert svc.get(key) == value, (key, svc.get(key))
    assert set(probe["Service"]["AmbientCapabilities"].split()) == {"CAP_NET_RAW", "CAP_NET_ADMIN"}
    assert probe["Service"]["CapabilityBoundingSet"] == probe["Service"]["AmbientCapabilities"]
    assert "AF_PACKET" in probe["Service"]["RestrictAddressFamilies"]
    assert server["Service"]["AmbientCapabilities"] == ""
    assert server["Service"]["CapabilityBoundingSet"] == ""
    assert "AF_PACKET" not in server["Service"]["RestrictAddressFamilies"]


@pytest.mark.parametrize("role", ["probe", "server"])
def test_units_pass_systemd_analyze_verify(tmp_path: Path, role: str) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing (apt-get install systemd)")
    assert _install("--role", role, "--root", str(tmp_path)).returncode == 0
    # What a real install adds besides the files: the venv's entry point, and the
    # system's own units (sysinit.target, ...) that every service depends on.
    exe = tmp_path / "opt/camaudit/venv/bin/camaudit"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    shutil.copytree("/usr/lib/systemd/system", tmp_path / "usr/lib/systemd/system", symlinks=True)
    unit = tmp_path / f"etc/systemd/system/camaudit-{role}.service"
    r = subprocess.run(
        ["systemd-analyze", f"--root={tmp_path}", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # verify exits 0 on mere warnings (a misspelt option is "ignored"): none allowed.
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr


def test_compose_gives_the_probe_host_networking_and_two_capabilities() -> None:
    import yaml

    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    probe, server = services["probe"], services["server"]
    assert probe["network_mode"] == "host"
    assert probe["cap_drop"] == ["ALL"] and sorted(probe["cap_add"]) == ["NET_ADMIN", "NET_RAW"]
    assert server["cap_drop"] == ["ALL"] and "cap_add" not in server
    for svc in (probe, server):
        assert "no-new-privileges:true" in svc["security_opt"] and svc["read_only"] is True
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "USER camaudit" in dockerfile and "deploy/Dockerfile" in probe["build"]["dockerfile"]
