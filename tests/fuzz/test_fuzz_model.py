"""Observations as stored or ingested (any JSON a probe, an old version or an attacker with a
probe token could send) through classification, rules, policy and every report format;
and the system outputs the probe reads (``ip -j addr``), and offline bundles."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from fuzzset import fuzz, ran
from hypothesis import given
from hypothesis import strategies as st

from auditor.bundle import read_bundle
from auditor.classify import classify
from auditor.errors import CamauditError
from auditor.export import to_csv, to_sarif
from auditor.model import Observation, ScanResult
from auditor.policy import apply_policy
from auditor.report import render_html
from probes.netinfo import parse_ip_addr

PROBES = ["arp", "wsdiscovery", "portscan", "http", "rtsp", "onvif", "vendor_port", "flows",
          "air", "defaultcreds", "engine", "vendor_api"]  # fmt: skip
KEYS = ["server", "title", "realm", "headers", "paths", "bogus_path_status", "device_info",
        "manufacturer", "model", "firmware", "serial", "hardware_id", "interfaces", "if_type",
        "mac", "scopes", "types", "xaddrs", "endpoint", "tcp_open", "fields", "service",
        "stream_uris", "dot11", "supported", "status", "ssid", "calls", "capabilities", "auth",
        "describe_status", "rtp_received", "frame_decoded", "sdp", "flows", "peer", "names",
        "kind", "ssids", "role", "tls", "subject", "www_authenticate", "proto", "banner_hex",
        "clock_offset_s", "users", "analytics", "accepted", "dns_queries", "upnp",
        "cloud", "enabled", "source"]  # fmt: skip

_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
    st.sampled_from(["HIKVISION", "Dahua", "App-webs/", "uc-httpd 1.0.0", "Login to X",
                     "198.18.0.9", "aa:bb:cc:dd:ee:ff", "onvif://www.onvif.org/hardware/DS-2"]),
)  # fmt: skip
_JSON = st.recursive(
    _LEAF,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=25,
)
_OBS = st.fixed_dictionaries(
    {
        "probe": st.sampled_from(PROBES),
        "ip": st.sampled_from(["198.18.0.9", "198.18.0.10", "127.0.0.1", "*", ""]),
        "data": st.dictionaries(st.sampled_from(KEYS), _JSON, max_size=8),
        "port": st.none() | st.integers(0, 65535),
        "mac": st.none() | st.sampled_from(["aa:bb:cc:dd:ee:ff", "02:00:00:00:00:01", "zz"]),
        "at": st.floats(0, 2e9),
        "error": st.none() | st.text(max_size=60),
    }
)


@fuzz(150)
@given(st.lists(_OBS, max_size=6))
def test_classify_rules_and_reports_never_raise(raw: list[dict[str, Any]]) -> None:
    ran("classify+rules+reports")
    obs = [Observation.from_dict(json.loads(json.dumps(o))) for o in raw]
    devices = classify([o for o in obs if o.ip != "*"])
    apply_policy(devices, None, dt.date(2026, 1, 1))
    result = ScanResult("fuzz", ["198.18.0.0/24"], 0.0, 1.0, devices, obs)
    json.dumps(result.to_dict())
    render_html(result)
    to_csv(result)
    json.dumps(to_sarif(result))


@fuzz(200)
@given(st.one_of(st.text(max_size=300), _JSON.map(json.dumps)))
def test_ip_addr_output(text: str) -> None:
    ran("netinfo-ip-addr")
    with contextlib.suppress(CamauditError):
        parse_ip_addr(text)


@fuzz(150)
@given(st.binary(max_size=3000))
def test_bundle_reader_on_any_bytes(blob: bytes) -> None:
    ran("offline-bundle")
    d = Path(os.environ.get("TMPDIR", "/tmp")) / f"camaudit-fuzz-{os.getpid()}"
    d.mkdir(mode=0o700, exist_ok=True)
    path = d / "scan.bundle"
    path.write_bytes(blob)

    def no_key(key_id: str, probe: str) -> Any:
        raise CamauditError(f"unknown key {key_id}")

    with contextlib.suppress(CamauditError):
        read_bundle(path, no_key)


def _signed_bundle() -> tuple[bytes, Any]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from auditor.bundle import write_bundle

    key = Ed25519PrivateKey.generate()
    d = Path(os.environ.get("TMPDIR", "/tmp")) / f"camaudit-fuzz-{os.getpid()}"
    d.mkdir(mode=0o700, exist_ok=True)
    scan = json.dumps({"scan": {"id": "s-1"}, "devices": [{"ip": "198.18.0.9"}]}).encode()
    write_bundle(d / "good.bundle", "probe-1", [("s-1.json", scan)], key)
    return (d / "good.bundle").read_bytes(), key.public_key()


GOOD_BUNDLE, GOOD_KEY = _signed_bundle()


@fuzz(150)
@given(st.integers(0, len(GOOD_BUNDLE) - 1), st.binary(min_size=1, max_size=4), st.booleans())
def test_tampered_bundle_is_refused_or_unchanged(at: int, patch: bytes, cut: bool) -> None:
    ran("offline-bundle-tampered")
    blob = GOOD_BUNDLE[:at] if cut else GOOD_BUNDLE[:at] + patch + GOOD_BUNDLE[at + len(patch) :]
    d = Path(os.environ.get("TMPDIR", "/tmp")) / f"camaudit-fuzz-{os.getpid()}"
    path = d / "tampered.bundle"
    path.write_bytes(blob)
    try:
        got = read_bundle(path, lambda key_id, probe: GOOD_KEY)
    except CamauditError:
        return
    # a change that survives verification can only be in bytes the signature does not
    # cover (tar padding, header fields): the scans themselves are what was signed
    assert [s.data for s in got.scans] == [
        {"scan": {"id": "s-1"}, "devices": [{"ip": "198.18.0.9"}]}
    ]


def test_non_list_traffic_fields_are_no_rows() -> None:
    # found by `make fuzz`: `dns_queries: true` in a flows observation crashed the rules
    obs = Observation(
        "flows", "198.18.0.9",
        {"kind": "device", "flows": [], "dns_queries": True, "upnp": "x"},
    )  # fmt: skip
    devices = classify([Observation("portscan", "198.18.0.9", {"tcp_open": [80]}), obs])
    apply_policy(devices, None, dt.date(2026, 1, 1))
    assert devices and devices[0].ip == "198.18.0.9"


def test_non_list_flow_rows_and_names_are_ignored() -> None:
    # found by `make fuzz`: `flows: true` or `names: true` crashed the traffic rules
    for data in ({"kind": "device", "flows": True},
                 {"kind": "device", "flows": [{"peer": "198.19.1.1", "names": True}]}):  # fmt: skip
        devices = classify([Observation("flows", "198.18.0.9", data)])
        apply_policy(devices, None, dt.date(2026, 1, 1))
        assert [d.ip for d in devices] == ["198.18.0.9"]
