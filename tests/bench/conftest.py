"""Benchmarks: not part of `make test`; run with `make bench` (root, the lab, nmap etc.)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

RESULTS = Path(__file__).parent / "results"
CAMERAS = int(os.environ.get("BENCH_CAMERAS", "250"))


def timed(cmd: list[str], timeout: float = 1800) -> dict[str, Any]:
    """Run ``cmd``; return wall time, exit code, the child's own peak RSS (MiB), output.

    The peak comes from GNU time (``%M``) for this one child: ``RUSAGE_CHILDREN`` would be
    the largest of every child so far (tshark's, say), not this command's.
    """
    marker = "__CAMAUDIT_BENCH_MAXRSS_KB="
    full = ["/usr/bin/time", "-f", marker + "%M", *cmd] if os.path.exists("/usr/bin/time") else cmd
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    stopped = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # the whole group: killing GNU time alone would leave the tool running
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        stopped = True
    wall = time.perf_counter() - t0
    rss = None
    lines = err.splitlines()
    if lines and lines[-1].startswith(marker):
        rss = round(int(lines[-1][len(marker) :]) / 1024, 1)
        err = "\n".join(lines[:-1])
    return {"cmd": " ".join(cmd), "wall_s": round(wall, 3), "rc": proc.returncode,
            "peak_rss_mib": rss, "stopped_at_limit": stopped, "stdout": out,
            "stderr": err[-2000:]}  # fmt: skip


def record(name: str, data: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    # the tools' own output stays out of the results file (it can be megabytes)
    data = {
        k: ({kk: vv for kk, vv in v.items() if kk != "stdout"} if isinstance(v, dict) else v)
        for k, v in data.items()
        if k != "stdout"
    }
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


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _settle(pid: int, idle_share: float = 0.05, limit_s: float = 60.0) -> float:
    """Wait until the lab daemon has finished booting its 250 devices (first phone-home
    bursts, media servers): real cameras are long up when an auditor arrives, and a
    scan timed against a booting lab measures the lab. Returns the seconds waited."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit_s:
        before = _cpu_s(pid)
        time.sleep(1.0)
        if _cpu_s(pid) - before < idle_share:
            break
    return round(time.perf_counter() - t0, 1)


@pytest.fixture(scope="session")
def bench_lab() -> Iterator[dict[str, Any]]:
    from camlab import control

    control.down()
    t0 = time.perf_counter()
    control.up(cameras=CAMERAS, seed=1)
    up_s = time.perf_counter() - t0
    st = control.status()
    st["lab_up_s"] = round(up_s, 2)
    st["lab_settle_s"] = _settle(int(st["daemon_pid"]))
    try:
        yield st
    finally:
        control.down()
