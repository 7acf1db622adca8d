"""Discovery and identification of the lab, side by side with nmap and arp-scan.

Figures (issue 4): full identification of 250 cameras <= 10 s, >= 50x faster than
`nmap -sV`; host discovery no slower than arp-scan / nmap -sn; scanner RSS <= 150 MB.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

CAMERA_PORTS = "21,22,23,80,443,554,1935,5000,8000,8080,8443,8554,8899,9000,34567,37777,49152"


def _norm(s: str | None) -> str:
    return re.sub(r"[^a-z0-9]", "", (s or "").lower())


def _score(truth: list[dict[str, Any]], devices: list[dict[str, Any]]) -> dict[str, Any]:
    got = {d["ip"]: d for d in devices}
    cams = [t for t in truth if t["kind"] == "camera"]
    found = sum(1 for t in truth if t["ip"] in got)
    vendor_ok = sum(
        1
        for t in cams
        if t["ip"] in got
        and (t["vendor"] == "Generic" or _norm(got[t["ip"]]["vendor"]) == _norm(t["vendor"]))
        and _norm(got[t["ip"]]["oem"]) == _norm(t["oem"])
    )
    non_cam_as_cam = sum(
        1
        for t in truth
        if t["kind"] != "camera" and got.get(t["ip"], {}).get("device_type") == "camera"
    )
    return {
        "devices": len(truth),
        "found": found,
        "found_pct": round(100 * found / len(truth), 2),
        "cameras": len(cams),
        "vendor_and_oem_right": vendor_ok,
        "vendor_and_oem_right_pct": round(100 * vendor_ok / max(1, len(cams)), 2),
        "non_cameras_called_cameras": non_cam_as_cam,
    }


def test_bench_identification(bench_lab: dict[str, Any], bench: Any) -> None:
    timed, record = bench.timed, bench.record
    targets = [bench_lab["subnet"], *bench_lab["routed_subnets"]]
    live = [d["ip"] for d in bench_lab["devices"]]
    out = Path(tempfile.mkdtemp(prefix="camaudit-bench-"))
    from camlab.generate import LAB_PASSWORD

    # the operator knows the password they set on their cameras (the lab's documented one)
    creds = out / "creds.toml"
    creds.write_text(f'[[credential]]\nusername = "admin"\npassword = "{LAB_PASSWORD}"\n')
    creds.chmod(0o600)
    try:
        # three runs, the median reported (all three recorded): one run on a shared
        # 2-core machine varies by +-0.5 s
        cmd = [sys.executable, "-m", "auditor.cli", "scan", *targets, "--quiet",
               "--json", str(out / "scan.json"), "--credentials", str(creds)]  # fmt: skip
        runs = [timed(cmd) for _ in range(3)]
        for run in runs:
            assert run["rc"] == 0, run["stderr"]
        cam = sorted(runs, key=lambda r: r["wall_s"])[1]
        cam["walls_s"] = [r["wall_s"] for r in runs]
        cam["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
        scan = json.loads((out / "scan.json").read_text())
        score = _score(bench_lab["devices"], scan["devices"])
        # the same scan without the operator's password: no logins, no vendor APIs
        no_creds = timed(cmd[: cmd.index("--credentials")])
        assert no_creds["rc"] == 0, no_creds["stderr"]
        res: dict[str, Any] = {
            "lab_devices": len(live),
            "lab_up_s": bench_lab["lab_up_s"],
            "lab_settle_s": bench_lab["lab_settle_s"],
            "camaudit_scan": cam,
            "camaudit_scan_without_credentials": no_creds,
            "score": score,
        }
        # host discovery alone, like for like: the local /22 (ARP), as arp-scan and nmap -sn
        disc_json = out / "discover.json"
        disc = timed(
            [sys.executable, "-m", "auditor.cli", "scan", bench_lab["subnet"],
             "--discover-only", "--quiet", "--json", str(disc_json)]
        )  # fmt: skip
        assert disc["rc"] == 0, disc["stderr"]
        disc["hosts_found"] = len(json.loads(disc_json.read_text())["devices"])
        res["camaudit_discover_only"] = disc
        if shutil.which("arp-scan"):
            res["arp_scan"] = timed(
                ["arp-scan", "--interface", "camlab0", "--quiet", bench_lab["subnet"]]
            )
            res["arp_scan"]["hosts_found"] = len(
                {ln.split()[0] for ln in res["arp_scan"]["stdout"].splitlines() if ln[:1].isdigit()}
            )
            res["ratio_arp_scan_over_camaudit_discovery"] = round(
                res["arp_scan"]["wall_s"] / disc["wall_s"], 2
            )
        if shutil.which("nmap"):
            res["nmap_sn_local"] = timed(
                ["nmap", "-sn", "-n", "-e", "camlab0", bench_lab["subnet"]]
            )
            res["nmap_sn_local"]["hosts_found"] = res["nmap_sn_local"]["stdout"].count(
                "Nmap scan report for"
            )
            res["ratio_nmap_sn_over_camaudit_discovery"] = round(
                res["nmap_sn_local"]["wall_s"] / disc["wall_s"], 2
            )
            hosts = out / "hosts.txt"
            hosts.write_text("\n".join(live))
            # nmap -sV takes close to an hour here: BENCH_NMAP_SV_LIMIT_S stops it, and the
            # ratio is then a lower bound (hosts it had reported by then are counted)
            limit = float(os.environ.get("BENCH_NMAP_SV_LIMIT_S", "3600"))
            sv = timed(
                ["nmap", "-sV", "-n", "-Pn", "-T4", "-p", CAMERA_PORTS, "-iL", str(hosts)],
                timeout=limit,
            )
            sv["hosts_reported"] = sv["stdout"].count("Nmap scan report for")
            res["nmap_sV"] = sv
            ratio = round(sv["wall_s"] / cam["wall_s"], 1)
            res["ratio_nmap_sV_over_camaudit"] = ratio
            res["ratio_is_lower_bound"] = bool(sv["stopped_at_limit"])
        record("identification", res)
    finally:
        shutil.rmtree(out, ignore_errors=True)
