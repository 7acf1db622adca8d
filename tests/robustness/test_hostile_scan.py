"""A scan among hostile cameras (camlab.services.hostile) on loopback 127.0.6.0/24.

Every hostile profile is served next to one well-behaved Hikvision camera. The scan
must end within its own bound, note every hostile device as misbehaving (each behaviour
leaves its own trace), stay within a memory budget, resolve no external entity, and
report the well-behaved camera exactly as a scan without the hostile devices does.
"""

from __future__ import annotations

import copy
import datetime as dt
import ipaddress
import json
import re
import resource
import time
from pathlib import Path
from typing import Any

import pytest
from camlab.generate import generate
from camlab.media import ensure_clip
from camlab.services import DeviceServer, start_glib_thread, stop_glib_thread
from camlab.services.hostile import BEHAVIOURS
from camlab.spec import LabDevice
from figures import report

from auditor.classify import classify
from auditor.model import Device
from auditor.policy import apply_policy
from probes import engine
from probes.netinfo import Interface

LO = Interface(
    name="lo", index=1, address=ipaddress.IPv4Address("127.0.0.1"),
    network=ipaddress.IPv4Network("127.0.0.0/8"), flags=frozenset({"UP", "LOOPBACK"}),
    link_type="loopback",
)  # fmt: skip
NET = ipaddress.IPv4Network("127.0.6.0/24")
NORMAL_IP = "127.0.6.20"
TIMEOUT = 1.0
DISCOVERY = 1.0
RSS_BUDGET_MB = 64  # growth of peak RSS allowed for the hostile scan

#: behaviour -> (note prefix "probe:port", what the note must say)
TRACES: dict[str, tuple[str, str]] = {
    "http_xml_bomb": ("onvif:80", r"DTD"),
    "http_xxe": ("onvif:80", r"DTD"),
    # an endless body meets the size cap or the per-call timeout first, depending on how
    # fast the device streams it (here it shares the CPU with the scanner): both bound it
    "http_endless_body": ("onvif:80", r"larger than|timeout"),
    "http_slow_drip": ("http:80", r"timeout"),
    "http_endless_headers": ("http:80", r"larger than"),
    "http_redirect_loop": ("http:80", r"redirect loop"),
    "tls_stall": ("http:443", r"timeout"),
    "rtsp_garbage": ("rtsp:554", r"larger than"),
    "rtsp_endless_headers": ("rtsp:554", r"larger than"),
    "rtsp_slow_drip": ("rtsp:554", r"timeout"),
    "wsd_xml_bomb": ("wsdiscovery:3702", r"forbidden construct"),
    "wsd_xxe": ("wsdiscovery:3702", r"forbidden construct"),
    "wsd_garbage": ("wsdiscovery:3702", r"malformed"),
    "wsd_flood": ("wsdiscovery:3702", r"too many"),
}


def _normal_camera() -> LabDevice:
    dev = copy.deepcopy(next(d for d in generate(30, 2026) if d.profile == "hikvision-ds2cd2"))
    dev.quirks, dev.clock_skew_s = [], 0.0
    assert dev.rtsp is not None
    dev.rtsp["engine"] = "gstreamer"
    return dev


def _hostiles() -> list[LabDevice]:
    return [d for d in generate(1, 7, hostile=6) if d.hostile]


def _rss_mb() -> float:
    """Resident set size now (``/proc/self/statm``), in MB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def _canonical(value: Any) -> Any:
    """Lists in a fixed order: concurrent probes finish in any order, the facts are a set."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((_canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def _stable(dev: Device) -> dict[str, Any]:
    """What a report says about a device, minus the camera clock offset (time passes)."""
    d = dev.to_dict()
    d.pop("clock_offset_s")
    return dict(_canonical(d))


async def _scan(hosts: list[str]) -> tuple[list[Device], float]:
    opts = engine.ScanOptions(
        timeout=TIMEOUT, discovery_timeout=DISCOVERY, interfaces=[LO], arp=False,
        multicast=False,
    )  # fmt: skip
    t0 = time.monotonic()
    obs = await engine.run_scan(hosts, [NET], opts)
    took = time.monotonic() - t0
    devices = classify(obs)
    apply_policy(devices, None, dt.date(2026, 1, 1))
    return devices, took


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("camlab-media")
    ensure_clip(run_dir)
    return run_dir


def test_every_behaviour_has_a_profile_and_a_trace() -> None:
    covered = {b for d in _hostiles() for b in d.hostile}
    assert covered == set(BEHAVIOURS) == set(TRACES)


async def test_scan_survives_hostile_cameras(media_dir: Path) -> None:
    start_glib_thread()
    servers: list[DeviceServer] = []
    try:
        normal = DeviceServer(_normal_camera(), media_dir, bind_ip=NORMAL_IP)
        normal.bind()
        await normal.start()
        servers.append(normal)
        baseline, base_took = await _scan([NORMAL_IP])
        hostile_ips: dict[str, LabDevice] = {}
        for i, dev in enumerate(_hostiles()):
            ip = f"127.0.6.{30 + i}"
            server = DeviceServer(dev, media_dir, bind_ip=ip)
            server.bind()
            await server.start()
            servers.append(server)
            hostile_ips[ip] = dev
        rss0, now0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, _rss_mb()
        devices, took = await _scan([*hostile_ips, NORMAL_IP])
        rss1, now1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, _rss_mb()
        stats = {s.device.name: dict(s.hostile.stats) for s in servers if s.hostile}
    finally:
        for server in servers:
            await server.stop()
        stop_glib_thread()

    # bounded: discovery, the port scan and one identification chain (engine limits)
    chain = 2 * engine.STEP_LIMIT_FACTOR * TIMEOUT + 8
    assert took < DISCOVERY + 2 * TIMEOUT + chain, took
    by_ip = {d.ip: d for d in devices}
    survived: list[str] = []
    for ip, lab_dev in hostile_ips.items():
        dev = by_ip[ip]
        assert "CAM-DEV-MISBEHAVING" in {f.rule for f in dev.findings}, (ip, dev.notes)
        for behaviour in lab_dev.hostile:
            prefix, pattern = TRACES[behaviour]
            assert any(n.startswith(prefix + ":") and re.search(pattern, n) for n in dev.notes), (
                behaviour,
                dev.notes,
            )
            survived.append(behaviour)
        # a flood of advertised endpoints is cut short, not followed (probes/engine.py)
        assert sum(o.probe == "onvif" for o in dev.observations) <= engine.MAX_ONVIF_TARGETS
        assert sum(o.probe == "wsdiscovery" for o in dev.observations) <= 17
        # a hostile device's 200-to-anything answers must not pass for a vendor's paths
        assert dev.oem is None, (ip, dev.oem, [e.detail for e in dev.evidence])
    assert all(s["xxe_fetches"] == 0 for s in stats.values()), stats  # no entity resolved
    growth_mb = (rss1 - rss0) / 1024
    assert growth_mb < RSS_BUDGET_MB, growth_mb
    assert now1 - now0 < RSS_BUDGET_MB, (now0, now1)
    assert len(baseline) == 1
    want, got = _stable(baseline[0]), _stable(by_ip[NORMAL_IP])
    assert not {k for k in want if want[k] != got[k]}, {
        k: (want[k], got[k]) for k in want if want[k] != got[k]
    }
    assert baseline[0].model and baseline[0].oem == "Hikvision"
    report(
        "hostile_scan",
        {
            "hostile_devices": len(hostile_ips),
            "behaviours_survived": sorted(set(survived)),
            "behaviours_count": len(set(survived)),
            "scan_s": round(took, 2),
            "baseline_scan_s": round(base_took, 2),
            "bound_s": DISCOVERY + 2 * TIMEOUT + chain,
            "peak_rss_growth_mb": round(growth_mb, 1),
            "rss_before_after_mb": [round(now0, 1), round(now1, 1)],
            "bytes_sent_by_hostile_devices": sum(s["bytes_sent"] for s in stats.values()),
            "datagrams_sent_by_hostile_devices": sum(s["datagrams_sent"] for s in stats.values()),
            "external_entity_fetches": sum(s["xxe_fetches"] for s in stats.values()),
            "normal_device_identical": True,
        },
    )
