"""Hostile ONVIF replies: malformed XML, entity bombs, external entities, floods."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest
import zeep.exceptions
from onvif_server import FakeOnvifDevice, OnvifServer
from zeep.loader import parse_xml

from probes import onvif_soap
from probes.onvif import probe_onvif

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "onvif"
HIK = "hikvision-ds2cd2143g0-v5.6.3"


async def _probe_with(raw: bytes, host: str) -> tuple[dict[str, object], str | None, float]:
    dev = FakeOnvifDevice(HIK, raw={"GetDeviceInformation": raw})
    async with OnvifServer(dev, host) as srv:
        started = time.monotonic()
        obs = await probe_onvif(host, srv.port, xaddr=None, timeout=2.0, credentials=[])
    return obs.data, obs.error, time.monotonic() - started


async def test_malformed_xml_is_recorded() -> None:
    raw = (FIX / "hostile-malformed-GetDeviceInformation.xml").read_bytes()
    data, error, _ = await _probe_with(raw, "127.0.3.30")
    assert data["device_info"] is None or data["device_info"]["serial"] is None
    assert error is not None


@pytest.mark.parametrize("name", ["billion-laughs", "xxe"])
async def test_dtd_documents_are_refused_unexpanded(name: str) -> None:
    raw = (FIX / f"hostile-{name}-GetDeviceInformation.xml").read_bytes()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    data, error, took = await _probe_with(raw, "127.0.3.31")
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert error is not None and "DTD" in error
    assert data["device_info"] is None
    assert took < 1.5 and grown_kib < 50_000
    assert "root:" not in str(data)


async def test_oversized_reply_is_capped() -> None:
    huge = b"<a>" + b"x" * (onvif_soap.MAX_REPLY_BYTES + 10) + b"</a>"
    _, error, _ = await _probe_with(huge, "127.0.3.32")
    assert error == f"reply larger than {onvif_soap.MAX_REPLY_BYTES} bytes"


@pytest.mark.parametrize("name", ["billion-laughs", "xxe"])
def test_zeep_settings_are_a_second_wall(name: str) -> None:
    # Even if the transport's DTD check were bypassed, zeep parses device replies
    # with lxml limits on (libxml2 stops the bomb at its amplification limit) and
    # DTDs forbidden.
    raw = (FIX / f"hostile-{name}-GetDeviceInformation.xml").read_bytes()
    refused = (
        zeep.exceptions.DTDForbidden,
        zeep.exceptions.EntitiesForbidden,
        zeep.exceptions.XMLSyntaxError,
    )
    started = time.monotonic()
    with pytest.raises(refused):
        parse_xml(raw, None, settings=onvif_soap.DEVICE_SETTINGS)
    assert time.monotonic() - started < 1.0
    assert onvif_soap.DEVICE_SETTINGS.xml_huge_tree is False
