"""Live capture path: radiotap bytes written onto one end of a veth pair, read on the other.

What this proves: the AF_PACKET receive loop, the duration bound, the outgoing-frame
filter and the hand-off of each received frame to the same parser as capture files,
in a namespace of our own. What it does not prove: a real monitor-mode adapter (a veth
has ARPHRD_ETHER, so the link type is named explicitly, as ``--linktype 127`` does) or
radio-side effects such as channel hopping.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from airframes import beacon, mac, probe_request, radiotap

from auditor.errors import TargetError
from probes.wifi import AirParser
from probes.wifi_live import capture_live, iface_linktype

ROOT = Path(__file__).resolve().parents[2]


def test_refuses_unknown_or_non_monitor_interface() -> None:
    with pytest.raises(TargetError, match="no network interface"):
        iface_linktype("camaudit-nope0")
    with pytest.raises(TargetError, match="bad interface name"):
        iface_linktype("../etc")
    with pytest.raises(TargetError, match=r"not an 802\.11 monitor-mode"):
        capture_live("lo", 0.2, AirParser())  # loopback is ARPHRD_LOOPBACK


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.mark.needs_root
def test_live_capture_over_veth(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("needs root (CI runs as root)")
    ns = f"camlab-t5-{uuid.uuid4().hex[:6]}"
    frames = [radiotap(2437, -40) + beacon(mac("c0:56:e3:1c:47:f3"), b"HAP-52992", 6, False)] * 5
    frames += [radiotap(2437, -60) + probe_request(mac("86:8f:59:2a:b8:ae"), b"CamLink")] * 3
    (tmp_path / "frames.json").write_text(json.dumps([f.hex() for f in frames]))
    capture = textwrap.dedent("""
        import json
        from probes.wifi import AirParser
        from probes.wifi_live import capture_live
        p = AirParser(source="live:t5b")
        n = capture_live("t5b", 3.0, p, linktype=127)
        print(json.dumps({"n": n, "stats": p.stats.to_dict(),
                          "obs": [o.to_dict() for o in p.observations()]}))
    """)
    inject = textwrap.dedent(f"""
        import json, socket, time
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind(("t5a", 0))
        time.sleep(1.0)
        for f in json.load(open({str(tmp_path / "frames.json")!r})):
            s.send(bytes.fromhex(f))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    _ip("netns", "add", ns)
    try:
        _ip("-n", ns, "link", "add", "t5a", "type", "veth", "peer", "name", "t5b")
        _ip("-n", ns, "link", "set", "t5a", "up")
        _ip("-n", ns, "link", "set", "t5b", "up")
        cap = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", capture],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        subprocess.run(
            ["ip", "netns", "exec", ns, sys.executable, "-c", inject],
            check=True, timeout=20, env=env,
        )  # fmt: skip
        out, err = cap.communicate(timeout=20)
        assert cap.returncode == 0, err
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
    got = json.loads(out)
    assert got["n"] >= 8  # IPv6 router solicitations etc. may add a few; they are skipped
    by_mac = {o["mac"]: o["data"] for o in got["obs"]}
    ap = by_mac["c0:56:e3:1c:47:f3"]
    assert ap["role"] == "ap" and ap["ssids"] == ["HAP-52992"] and ap["beacons"] == 5
    assert ap["signal_dbm_max"] == -40 and ap["channels"] == [6]
    assert by_mac["86:8f:59:2a:b8:ae"]["probed_ssids"] == ["CamLink"]
