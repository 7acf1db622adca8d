"""Live capture on the 250-camera lab's mirror port: camaudit vs tshark, same interface,
same window.

Both capture ``camlab-mir`` (``lab status --json``: ``mirror_iface``) for the same
``BENCH_LIVE_S`` seconds while the lab daemon is asked to phone home now every
``KICK_EVERY_S`` seconds (every device runs all its phone-home entries within 0.5 s:
bursts of thousands of packets, the worst case the lab makes). Figures: packets seen
and kernel drops for each, and camaudit's score against the lab's ground truth
(``tests/e2e/trafficscore.py``). Target (issue 6): zero drops, drops shown when they
occur. Run: pytest tests/bench/test_bench_live.py -s (root; it brings the lab up).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from trafficscore import capture_summary, score

WINDOW_S = int(os.environ.get("BENCH_LIVE_S", "30"))
KICK_EVERY_S = 5.0


def tshark_counts(stderr: str) -> dict[str, int | None]:
    """Packets captured and dropped from tshark's (dumpcap's) closing lines."""
    captured = re.search(r"(\d+) packets? captured", stderr)
    # dumpcap: "Packets received/dropped on interface 'camlab-mir': 123/0 (pcap:0/...)"
    rd = re.search(r"received/dropped on interface '[^']*': (\d+)/(\d+)", stderr)
    dropped = re.search(r"(\d+) packets? dropped", stderr)
    drops = int(rd.group(2)) if rd else (int(dropped.group(1)) if dropped else None)
    if drops is None and captured:
        drops = 0  # tshark only prints "N packets dropped" when there were some
    return {
        "packets": int(captured.group(1)) if captured else (int(rd.group(1)) if rd else None),
        "received": int(rd.group(1)) if rd else None,
        "drops": drops,
    }


def test_bench_live_capture_vs_tshark(
    bench_lab: dict[str, Any], bench: Any, tmp_path: Path
) -> None:
    from camlab import control

    mirror = bench_lab.get("mirror_iface")
    assert mirror, "the lab has no mirror port"
    tshark = shutil.which("tshark")
    assert tshark, "tshark is needed for the comparison (apt-get install tshark)"
    out = tmp_path / "live.json"
    ours_cmd = [sys.executable, "-m", "auditor.cli", "watch", "--iface", mirror,
                "--duration", f"{WINDOW_S}s", "--site-dns", bench_lab["site_dns"],
                "--site-ntp", bench_lab["site_ntp"], "--local", "198.18.0.0/16",
                "--json", str(out), "--quiet"]  # fmt: skip
    theirs_cmd = [tshark, "-i", mirror, "-a", f"duration:{WINDOW_S}", "-w", "/dev/null", "-q"]
    t0 = time.perf_counter()
    ours = subprocess.Popen(ours_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    theirs = subprocess.Popen(theirs_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2.0)  # both started their capture (python and dumpcap start-up)
        kicks = 0
        while time.perf_counter() - t0 < WINDOW_S - 2:
            control.phone_home_now()
            kicks += 1
            time.sleep(KICK_EVERY_S)
        _o_out, o_err = ours.communicate(timeout=WINDOW_S + 300)
        _t_out, t_err = theirs.communicate(timeout=WINDOW_S + 60)
    finally:
        for p in (ours, theirs):
            if p.poll() is None:
                p.kill()
                p.communicate()
    assert ours.returncode == 0, o_err[-3000:]
    result_doc = json.loads(out.read_text())
    cap = capture_summary(result_doc)
    s = score(bench_lab, result_doc)
    theirs_counts = tshark_counts(t_err)
    result = {
        "cameras": len(bench_lab["devices"]),
        "window_s": WINDOW_S,
        "kicks": kicks,
        "camaudit": cap,
        "tshark": {
            "cmd": " ".join(theirs_cmd),
            "rc": theirs.returncode,
            **theirs_counts,
            "stderr_tail": t_err[-400:],
        },
        "score": s.to_dict() | {"missed": s.missed[:20], "unexpected": s.unexpected[:20]},
    }
    bench.record("live_capture", result)
    assert cap["kernel_drops"] == 0, result
    assert s.perfect, s.explain()
