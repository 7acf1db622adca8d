"""Lab lifecycle: up, down, crashes, half-built topologies, refusals, scale."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import typer
from camlab import control, netns, topology
from camlab.errors import LabError
from typer.testing import CliRunner

from .conftest import leftovers, synthetic_devices

pytestmark = [pytest.mark.needs_root, pytest.mark.lab, pytest.mark.usefixtures("clean_slate")]


def test_down_removes_everything() -> None:
    control.up_devices(synthetic_devices(4), seed=1)
    pid = control.status()["daemon_pid"]
    assert leftovers()
    removed = control.down()
    assert f"daemon {pid}" in removed and "netns camlab-rtr" in removed
    assert leftovers() == []
    assert not control._run_dir().exists()
    assert control.down() == []  # idempotent
    assert control.status()["up"] is False


def test_arp_table_ceiling_is_raised_while_up_and_put_back() -> None:
    """The kernel's ARP table is shared by every namespace: a 250-camera lab needs more
    than its default 1024 entries (cameras stopped answering ARP), so the lab raises the
    ceiling while it is up and leaves the host as it found it."""
    path = Path(topology.NEIGH_SYSCTL.format("gc_thresh3"))
    if not os.access(path, os.W_OK):  # a container's own netns: the host's table is not ours
        pytest.skip(f"{path} is not writable here")
    before = int(path.read_text())
    control.up_devices(synthetic_devices(2), seed=1)
    try:
        assert int(path.read_text()) >= topology.NEIGH_KEYS["gc_thresh3"]
    finally:
        removed = control.down()
    assert int(path.read_text()) == before
    if before < topology.NEIGH_KEYS["gc_thresh3"]:
        assert f"sysctl neigh gc_thresh3={before}" in removed


def test_down_after_daemon_killed() -> None:
    try:
        control.up_devices(synthetic_devices(4), seed=2)
        pid = control.status()["daemon_pid"]
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while control.status()["daemon_alive"] and time.monotonic() < deadline:
            time.sleep(0.05)
        st = control.status()
        assert not st["daemon_alive"] and not st["up"]
    finally:
        control.down()
    assert leftovers() == []


def test_down_after_half_built_topology_and_lost_state() -> None:
    devices = synthetic_devices(6)
    lines = topology._host_lines(devices)
    try:
        netns.ip_batch(lines[: len(lines) // 2])  # as if `up` died halfway
        assert netns.list_netns() and netns.list_links()
        assert not control._run_dir().exists()  # and no state file to go by
        with pytest.raises(LabError, match="leftovers"):
            control.up_devices(devices, seed=3)
    finally:
        removed = control.down()
    assert any(r.startswith("netns camlab-") for r in removed)
    assert leftovers() == []


def test_failed_start_tears_down(monkeypatch: pytest.MonkeyPatch) -> None:
    # a daemon that cannot start: up must report the log and leave nothing behind
    monkeypatch.setattr(control, "DAEMON_MODULE", "camlab.no_such_daemon")
    with pytest.raises(LabError, match="daemon exited during start-up"):
        control.up_devices(synthetic_devices(3), seed=4)
    assert leftovers() == []


def test_refuses_without_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(LabError, match="needs root"):
        control.up(3, 1)
    out = CliRunner().invoke(_cli(), ["lab", "up", "--cameras", "3"])
    assert out.exit_code == 2 and "needs root" in out.output


def test_generated_lab_via_cli() -> None:
    pytest.importorskip("camlab.generate", reason="camlab.generate (other engineer) not landed")
    runner = CliRunner()
    try:
        out = runner.invoke(_cli(), ["lab", "up", "--cameras", "6", "--seed", "5"])
        assert out.exit_code == 0, out.output
        assert "camaudit scan 198.18.0.0/22 198.18.8.0/24" in out.output
        st = control.status()
        assert st["up"] and sum(d["kind"] == "camera" for d in st["devices"]) == 6
        assert st["seed"] == 5
    finally:
        out = runner.invoke(_cli(), ["lab", "down"])
    assert out.exit_code == 0 and leftovers() == []


@pytest.mark.slow
def test_250_devices_come_up_fast() -> None:
    t0 = time.monotonic()
    try:
        summary = control.up_devices(synthetic_devices(250, routed_every=10), seed=250)
        took = time.monotonic() - t0
        print(f"\n250 devices up in {took:.2f} s (build {summary['seconds']} s)")
        assert took < 30
        st = control.status()
        assert st["up"] and len(st["devices"]) == 250
    finally:
        t1 = time.monotonic()
        control.down()
        print(f"250 devices down in {time.monotonic() - t1:.2f} s")
    assert leftovers() == []


def _cli() -> typer.Typer:
    from auditor.cli import app

    return app
