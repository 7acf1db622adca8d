"""End-to-end fixtures: a real simulated lab that is always torn down."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


def _leftovers() -> list[str]:
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    # camlab-t<issue>-* belong to other tests, which remove their own
    return [
        ln
        for ln in (ns + links).splitlines()
        if "camlab" in ln and not re.search(r"camlab-t\d+-", ln)
    ]


@pytest.fixture(scope="package")
def lab() -> Iterator[dict[str, Any]]:
    """A 40-camera lab (seed 7) for the whole e2e package; torn down even on failure."""
    if os.geteuid() != 0:
        pytest.fail("end-to-end lab tests need root (CI runs as root): run them as root")
    from camlab import control

    control.down()  # a previous crashed run must not make this one fail
    before = _leftovers()
    assert not before, f"camlab leftovers before the test: {before}"
    try:
        control.up(cameras=40, seed=7)
        yield control.status()
    finally:
        control.down()
        left = _leftovers()
        assert not left, f"lab down left things behind: {left}"


def _credentials(lab: dict[str, Any], path: Path) -> Path:
    """The operator's credentials file: each account name their cameras use, with the
    password they set (the lab's documented one); chmod 600 as camaudit asks."""
    from camlab.generate import LAB_PASSWORD

    users = sorted({d["username"] for d in lab["devices"] if d["kind"] == "camera"})
    path.write_text(
        "".join(f'[[credential]]\nusername = "{u}"\npassword = "{LAB_PASSWORD}"\n\n' for u in users)
    )
    path.chmod(0o600)
    return path


def run_scan(targets: list[str], out: Path, creds: Path, *extra: str) -> dict[str, Any]:
    """Run ``camaudit scan`` as a user would (a subprocess); return its JSON result."""
    proc = subprocess.run(
        [sys.executable, "-m", "auditor.cli", "scan", *targets, "--quiet",
         "--json", str(out / "scan.json"), "--credentials", str(creds), *extra],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads((out / "scan.json").read_text())
    return result


@pytest.fixture(scope="package")
def scan(lab: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One `camaudit scan` of the whole lab, shared by every e2e module (it takes ~10 s)."""
    out = tmp_path_factory.mktemp("scan")
    creds = _credentials(lab, out / "creds.toml")
    targets = [lab["subnet"], *lab["routed_subnets"]]
    result = run_scan(targets, out, creds, "--html", str(out / "report.html"))
    assert (out / "report.html").stat().st_size > 1000
    return result


@pytest.fixture(scope="package")
def operator_credentials(lab: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _credentials(lab, tmp_path_factory.mktemp("creds") / "creds.toml")


@pytest.fixture(scope="package")
def scan_runner() -> Callable[..., dict[str, Any]]:
    """:func:`run_scan`, for tests that need a scan with other options."""
    return run_scan
