"""Benchmarks: not part of `make test`; run with `make bench` (root, the lab, nmap etc.)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

RESULTS = Path(__file__).parent / "results"
CAMERAS = int(os.environ.get("BENCH_CAMERAS", "250"))


def timed(cmd: list[str], timeout: float = 1800) -> dict[str, Any]:
    """Run ``cmd``; return wall time, exit code, peak RSS (MiB) of the child, output."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    wall = time.perf_counter() - t0
    # ru_maxrss of all waited children so far is a max, so it is exact for the largest
    # child; each benchmark runs its big child first or reads /proc itself when it matters.
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "cmd": " ".join(cmd),
        "wall_s": round(wall, 3),
        "rc": proc.returncode,
        "peak_rss_children_mib": round(rss, 1),
        "stdout": out,
        "stderr": err[-2000:],
    }


def record(name: str, data: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    data = {k: v for k, v in data.items() if k not in ("stdout",)}
    data["when"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2))
    print(f"\n== {name} ==\n" + json.dumps(data, indent=2))


@pytest.fixture(scope="session")
def bench() -> Any:
    """The helpers as a fixture (bench modules are not importable as a package)."""

    class _B:
        timed = staticmethod(timed)
        record = staticmethod(record)

    return _B


@pytest.fixture(scope="session")
def bench_lab() -> Iterator[dict[str, Any]]:
    from camlab import control

    control.down()
    t0 = time.perf_counter()
    control.up(cameras=CAMERAS, seed=1)
    up_s = time.perf_counter() - t0
    st = control.status()
    st["lab_up_s"] = round(up_s, 2)
    try:
        yield st
    finally:
        control.down()
