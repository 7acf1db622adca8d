"""ONVIF: SOAP replies (recorded, then mutated) through zeep and the probe's conversion."""

from __future__ import annotations

import asyncio
import json
from functools import cache
from pathlib import Path
from typing import Any

from fuzzset import fuzz, ran
from hypothesis import given
from hypothesis import strategies as st
from zeep.loader import parse_xml

from probes import onvif, onvif_soap

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "onvif"
DEVICE_OPS = ("GetDeviceInformation", "GetCapabilities", "GetNetworkInterfaces", "GetScopes",
              "GetSystemDateAndTime", "GetServices")  # fmt: skip
MEDIA_OPS = ("GetProfiles", "GetStreamUri")
REPLIES = sorted(
    p for p in FIX.glob("*.xml") if not p.name.startswith("hostile") and p.stem.split("-")[-1]
    in DEVICE_OPS + MEDIA_OPS
)  # fmt: skip


@cache
def _binding(service: str) -> Any:
    """The probe's own WSDL document (onvif's, camera-tolerant) for ``service``."""
    asyncio.run(onvif_soap.prepare())
    doc = onvif_soap._documents[service]
    spec = onvif_soap.SERVICES[service]
    return doc.bindings["{{{}}}{}".format(spec["ns"], spec["binding"])]


def _convert(raw: bytes, op: str) -> Any:
    """What the probe does with a reply body: parse, bind to the operation, make plain."""
    binding = _binding("media" if op in MEDIA_OPS else "devicemgmt")
    envelope = parse_xml(raw, None, settings=onvif_soap.DEVICE_SETTINGS)
    return onvif_soap.plain(binding.get(op).process_reply(envelope))


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, str]:
    path = draw(st.sampled_from(REPLIES))
    raw = bytearray(path.read_bytes())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(raw)))
        kind = draw(st.sampled_from(["cut", "flip", "insert", "text"]))
        if kind == "cut":
            del raw[at : at + draw(st.integers(1, 64))]
        elif kind == "flip" and at < len(raw):
            raw[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            raw[at:at] = draw(st.binary(max_size=40))
        else:  # replace an element's text with arbitrary text
            start = raw.find(b">", at)
            end = raw.find(b"<", start + 1)
            if 0 <= start < end:
                text = draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
                raw[start + 1 : end] = text.replace(b"<", b"").replace(b"&", b"")
    return bytes(raw), path.stem.split("-")[-1]


def test_fixtures_convert_cleanly() -> None:
    assert len(REPLIES) >= 10
    for path in REPLIES:
        out = _convert(path.read_bytes(), path.stem.split("-")[-1])
        assert out and json.dumps(out)


@fuzz(200)
@given(mutated())
def test_mutated_replies_convert_or_fail_as_the_probe_expects(case: tuple[bytes, str]) -> None:
    ran("onvif-soap-reply")
    raw, op = case
    try:
        out = _convert(raw, op)
    except onvif_soap.CALL_ERRORS:
        return  # recorded by the probe as the call's outcome
    text = json.dumps(out)  # plain JSON, bounded
    assert len(text) < 64 * 1024 * 4


@fuzz(200)
@given(st.text(max_size=300), st.sampled_from(["127.0.0.1", "198.18.0.10"]), st.integers(1, 65535))
def test_url_helpers_never_raise(url: str, ip: str, port: int) -> None:
    ran("onvif-url-helpers")
    pinned = onvif.pin_host(url, ip, port)
    assert pinned is None or ip in pinned  # a device's URL never moves us off its host
    stripped = onvif.strip_userinfo(url)
    assert "@" not in stripped.split("//", 1)[-1].split("/", 1)[0] or stripped == url
