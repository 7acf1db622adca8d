"""Upload bursts and quiet hours: from synthetic captures to CAM-NET-UPLOAD-BURST and
CAM-NET-QUIET-HOURS, under the site policy's limits (``auditor.uploads``)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pcapbuild as pb
import pytest
import typer
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6ND_NS, IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from typer.testing import CliRunner

from auditor.classify import classify
from auditor.cli import pcap as pcap_cmds
from auditor.errors import ConfigError
from auditor.model import Device, Finding
from auditor.policy import parse_policy
from auditor.rules import evaluate
from auditor.traffic import SitePolicy, use_policy
from auditor.uploads import QuietHours, UploadPolicy, parse_size, parse_window
from probes.flows import read_files

CAM, CAM_MAC, GW = "198.18.200.12", "bc:ad:28:00:00:0c", "02:00:00:00:00:01"
OTHER, OTHER_MAC = "198.18.200.13", "bc:ad:28:00:00:0d"
SITE_NTP, CLOUD = "198.18.200.1", "198.19.40.7"
LOCAL = ["198.18.200.0/24"]
BERLIN = ZoneInfo("Europe/Berlin")
# 23:30 and 12:00 in Berlin (CET, UTC+1) on the day the tests were written
NIGHT = dt.datetime(2026, 11, 24, 23, 30, tzinfo=BERLIN).timestamp()
NOON = dt.datetime(2026, 11, 24, 12, 0, tzinfo=BERLIN).timestamp()
PAYLOAD = 1400


def _frame(src: str, mac: str, dst: str, dport: int, size: int = PAYLOAD) -> bytes:
    pkt = IP(src=src, dst=dst) / TCP(sport=41000, dport=dport, flags="PA") / Raw(bytes(size))
    return bytes(Ether(src=mac, dst=GW) / pkt)


def upload(start: float, total: int, seconds: float, dst: str = CLOUD) -> list[pb.Packet]:
    """The camera sending ``total`` bytes of payload to ``dst`` evenly over ``seconds``."""
    frame = _frame(CAM, CAM_MAC, dst, 443)
    n = max(1, total // PAYLOAD)
    return [(start + i * seconds / n, frame) for i in range(n)]


def devices(tmp_path: Path, packets: list[pb.Packet]) -> list[Device]:
    path = tmp_path / "up.pcap"
    path.write_bytes(pb.pcap(sorted(packets, key=lambda p: p[0])))
    table, stats = read_files([str(path)])
    obs = table.observations("pcap:up.pcap", LOCAL, stats)
    return classify([o for o in obs if o.data["kind"] == "device"])


def judge(devs: list[Device], policy: SitePolicy) -> dict[str, dict[str, Finding]]:
    with use_policy(policy):
        evaluate(devs)
    return {d.ip: {f.rule: f for f in d.findings if f.rule.startswith("CAM-NET")} for d in devs}


def policy(**uploads: object) -> SitePolicy:
    return SitePolicy(ntp_servers=[SITE_NTP], local_networks=LOCAL, uploads=UploadPolicy(**uploads))  # type: ignore[arg-type]


def test_flow_table_counts_bytes_per_minute(tmp_path: Path) -> None:
    devs = devices(tmp_path, upload(NOON, 300 * PAYLOAD, 150.0))  # 2.5 minutes
    flow = next(f for o in devs[0].observations for f in o.data["flows"] if f["peer"] == CLOUD)
    minutes = flow["bytes_out_by_minute"]
    assert len(minutes) == 3 and all(t % 60 == 0 for t, _n in minutes)
    assert sum(n for _t, n in minutes) == flow["bytes_out"]
    assert flow["bytes_out_unbucketed"] == 0


def test_burst_above_threshold_is_found_with_window_bytes_and_flow(tmp_path: Path) -> None:
    devs = devices(tmp_path, upload(NOON, 11_000_000, 90.0))
    got = judge(devs, policy())[CAM]  # the default: 10 MB in 5 minutes
    f = got["CAM-NET-UPLOAD-BURST"]
    assert "in 5 min" in f.title and "11." in f.title
    head = f.evidence[0].detail
    assert "out to the internet between" in head and "site threshold 10.0 MB" in head
    assert CLOUD in f.evidence[1].detail and "first seen" in f.evidence[1].detail
    assert "estimated" not in f.evidence[1].detail


def test_same_volume_spread_over_an_hour_is_no_burst(tmp_path: Path) -> None:
    devs = devices(tmp_path, upload(NOON, 11_000_000, 3600.0))
    assert "CAM-NET-UPLOAD-BURST" not in judge(devs, policy())[CAM]


def test_site_threshold_and_window_apply(tmp_path: Path) -> None:
    devs = devices(tmp_path, upload(NOON, 1_500_000, 600.0))  # 1.5 MB over 10 minutes
    assert "CAM-NET-UPLOAD-BURST" not in judge(devs, policy(burst_bytes=1_000_000))[CAM]
    got = judge(devs, policy(burst_bytes=1_000_000, window_s=900))[CAM]
    assert "in 15 min" in got["CAM-NET-UPLOAD-BURST"].title


def test_uploads_to_allowed_or_local_destinations_are_not_bursts(tmp_path: Path) -> None:
    packets = upload(NOON, 2_000_000, 60.0) + upload(NOON, 2_000_000, 60.0, dst="198.18.200.5")
    devs = devices(tmp_path, packets)
    pol = SitePolicy(
        allowed=[CLOUD], local_networks=LOCAL, uploads=UploadPolicy(burst_bytes=1_000_000)
    )
    assert "CAM-NET-UPLOAD-BURST" not in judge(devs, pol)[CAM]


def test_quiet_hours_cite_local_time_and_bytes(tmp_path: Path) -> None:
    ntp = IP(src=OTHER, dst=SITE_NTP) / UDP(sport=123, dport=123) / Raw(bytes(48))
    packets = [*upload(NIGHT, 50000, 30.0), (NIGHT, bytes(Ether(src=OTHER_MAC, dst=GW) / ntp))]
    devs = devices(tmp_path, packets)
    quiet = QuietHours.parse("22:00-06:00", "Europe/Berlin")
    got = judge(devs, policy(quiet=quiet))
    f = got[CAM]["CAM-NET-QUIET-HOURS"]
    assert f.severity.name == "LOW"
    assert "2026-11-24 23:30 Europe/Berlin" in f.evidence[0].detail
    assert "22:00-06:00 Europe/Berlin" in f.evidence[0].detail and CLOUD in f.evidence[0].detail
    assert "CAM-NET-QUIET-HOURS" not in got[OTHER]  # the site's own NTP is allowed at night


def test_daytime_traffic_and_no_quiet_hours_give_nothing(tmp_path: Path) -> None:
    devs = devices(tmp_path, upload(NOON, 50_000, 30.0))
    quiet = QuietHours.parse("22:00-06:00", "Europe/Berlin")
    assert "CAM-NET-QUIET-HOURS" not in judge(devs, policy(quiet=quiet))[CAM]
    night = devices(tmp_path, upload(NIGHT, 50_000, 30.0))
    assert "CAM-NET-QUIET-HOURS" not in judge(night, policy())[CAM]


def test_stored_flows_without_minutes_are_estimated(tmp_path: Path) -> None:
    devs = devices(tmp_path, upload(NOON, 3_000_000, 120.0))
    for o in devs[0].observations:
        for f in o.data.get("flows", []):
            f.pop("bytes_out_by_minute", None)  # as stored before the series existed
    f = judge(devs, policy(burst_bytes=1_000_000))[CAM]["CAM-NET-UPLOAD-BURST"]
    assert "estimated from the flow totals" in f.evidence[1].detail


@pytest.mark.parametrize(
    ("text", "start", "end"), [("22:00-06:00", 1320, 360), ("9:15 - 17:45", 555, 1065)]
)
def test_quiet_hours_parse_and_wrap(text: str, start: int, end: int) -> None:
    q = QuietHours.parse(text, "UTC")
    assert (q.start, q.end) == (start, end)
    midnight = dt.datetime(2026, 11, 24, 0, 30, tzinfo=dt.UTC).timestamp()
    assert q.contains(midnight) == (start > end)


@pytest.mark.parametrize("bad", ["22:00", "24:00-06:00", "06:00-06:00", "night"])
def test_quiet_hours_refuse_bad_spans(bad: str) -> None:
    with pytest.raises(ValueError):
        QuietHours.parse(bad)


def test_sizes_and_windows() -> None:
    assert parse_size("10MB") == 10_000_000 and parse_size("1.5 KiB") == 1536
    assert parse_window("5m") == 300 and parse_window(3600) == 3600
    for bad in ("10XB", "12", True):
        with pytest.raises(ValueError):
            parse_size(bad)
    for bad in ("90s", "0m", "2d"):
        with pytest.raises(ValueError):
            parse_window(bad)


def test_policy_file_keys_and_errors_name_the_line() -> None:
    good = parse_policy(
        '[network]\nupload_burst = "2MB"\nupload_window = "10m"\n'
        'quiet_hours = "22:00-06:00"\ntimezone = "Europe/Berlin"\n',
        "site.toml",
    )
    up = good.traffic_policy().uploads
    assert (up.burst_bytes, up.window_s, str(up.quiet)) == (
        2_000_000, 600, "22:00-06:00 Europe/Berlin"
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"site\.toml:3: quiet_hours"):
        parse_policy('[network]\nupload_burst = "2MB"\nquiet_hours = "late"\n', "site.toml")
    with pytest.raises(ConfigError, match=r"site\.toml:2: timezone: unknown time zone"):
        parse_policy('[network]\ntimezone = "Mars/Olympus"\n', "site.toml")


def test_cli_options_reach_the_rules(tmp_path: Path) -> None:
    cap = tmp_path / "night.pcap"
    cap.write_bytes(pb.pcap(upload(NIGHT, 1_200_000, 60.0)))
    app = typer.Typer()
    pcap_cmds.register(app)
    out = tmp_path / "r.json"
    r = CliRunner().invoke(
        app,
        ["pcap", str(cap), "--local", "198.18.200.0/24", "--upload-burst", "1MB",
         "--quiet-hours", "22:00-06:00", "--timezone", "Europe/Berlin", "--json", str(out), "-q"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    cam = next(d for d in doc["devices"] if d["ip"] == CAM)
    assert {"CAM-NET-UPLOAD-BURST", "CAM-NET-QUIET-HOURS"} <= {f["rule"] for f in cam["findings"]}
    bad = CliRunner().invoke(app, ["pcap", str(cap), "--timezone", "Nowhere/Land", "-q"])
    assert bad.exit_code == 2 and "unknown time zone" in bad.output


def test_ipv6_duplicate_address_detection_does_not_hide_the_camera_mac(tmp_path: Path) -> None:
    dad = Ether(src=CAM_MAC, dst="33:33:ff:00:00:0c") / IPv6(src="::", dst="ff02::1:ff00:c")
    dad = dad / ICMPv6ND_NS(tgt="fe80::1")
    devs = devices(tmp_path, [(NOON, bytes(dad)), *upload(NOON, 2800, 1.0)])
    cam = next(d for d in devs if d.ip == CAM)
    assert cam.mac == CAM_MAC
