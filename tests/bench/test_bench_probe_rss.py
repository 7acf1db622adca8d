"""The probe daemon's peak memory while it scans the whole lab (issue 9: <= 150 MB).

Runs `camaudit probe run --once` as its own process (an offline probe: a local
schedule over the lab's subnets, results into the outbox), so ru_maxrss of that child
is the probe's own peak RSS: the scan, classification, rules and the outbox write.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

LIMIT_MIB = 150.0


def test_bench_probe_peak_rss(bench_lab: dict[str, Any], bench: Any) -> None:
    targets = [bench_lab["subnet"], *bench_lab["routed_subnets"]]
    work = Path(tempfile.mkdtemp(prefix="camaudit-bench-probe-"))
    cfg = work / "probe.toml"
    cfg.write_text(
        'name = "bench-probe"\nsite = "lab"\n'
        f"allowed_targets = {json.dumps(targets)}\n"
        f'data_dir = "{work / "data"}"\n'
        "[[schedule]]\n"
        'name = "lab"\n'
        f"targets = {json.dumps(targets)}\n"
        "every = 86400\n"
    )
    run = bench.timed(
        [sys.executable, "-m", "auditor.cli.probe_agent", "-v", "probe", "run", "--once",
         "--config", str(cfg)]
    )  # fmt: skip
    assert run["rc"] == 0, run["stderr"]
    peak = run["peak_rss_mib"]  # this child's own peak (GNU time %M)
    saved = list((work / "data" / "outbox").glob("*.json"))
    assert len(saved) == 1, run["stderr"]
    scan = json.loads(saved[0].read_text())["scan"]
    res = {
        "lab_devices": len(bench_lab["devices"]),
        "devices_found": len(scan["devices"]),
        "wall_s": run["wall_s"],
        "peak_rss_mib": peak,
        "limit_mib": LIMIT_MIB,
        "outbox_file_kib": round(saved[0].stat().st_size / 1024, 1),
    }
    bench.record("probe_rss", res)
    assert peak <= LIMIT_MIB, res
