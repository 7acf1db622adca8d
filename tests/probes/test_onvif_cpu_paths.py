"""The ONVIF probe's CPU shortcuts send and report exactly what zeep's own paths do.

Issue 4 (scan speed): request envelopes are built once per arguments, WS-Security
headers are filled into a skeleton, replies are converted in one walk, and a login
reuses the anonymous connections. Each must be invisible on the wire and in the data.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

import pytest
import requests
import zeep.helpers
from aiohttp import web
from lxml import etree
from onvif.client import UsernameDigestTokenDtDiff
from onvif.zeep_aiohttp import AIOHTTPTransport
from onvif_server import FakeOnvifDevice, OnvifServer
from zeep.proxy import AsyncOperationProxy
from zeep.xsd.valueobjects import CompoundValue

from probes import onvif_soap
from probes.onvif import probe_onvif

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "onvif"
HIK = "hikvision-ds2cd2143g0-v5.6.3"
MEDIA_OPS = frozenset({"GetProfiles", "GetStreamUri", "GetVideoAnalyticsConfigurations"})
STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
# Every request the probe makes through zeep, with the arguments it passes.
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("GetSystemDateAndTime", {}),
    ("GetDeviceInformation", {}),
    ("GetCapabilities", {"Category": "All"}),
    ("GetServices", {"IncludeCapability": False}),
    ("GetNetworkInterfaces", {}),
    ("GetScopes", {}),
    ("GetUsers", {}),
    ("GetNTP", {}),
    ("GetDot11Capabilities", {}),
    ("GetDot11Status", {"InterfaceToken": "wlan0"}),
    ("ScanAvailableDot11Networks", {"InterfaceToken": "w<&>'\"0"}),  # escaping too
    ("GetProfiles", {}),
    ("GetVideoAnalyticsConfigurations", {}),
    ("GetStreamUri", {"StreamSetup": STREAM_SETUP, "ProfileToken": "Profile_1"}),
]


@dataclass
class RecordingDevice(FakeOnvifDevice):
    """A fake device that also keeps each request's bytes, headers and client port."""

    seen: list[tuple[bytes, str]] = field(default_factory=list)
    peers: set[int] = field(default_factory=set)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer:
            self.peers.add(peer[1])  # one client port per TCP connection
        if self.auth != "none":
            return await super().handle(request)
        body = await request.read()
        self.seen.append((body, request.headers.get("Content-Type", "")))
        m = re.search(rb"<(?:[\w-]+:)?Body[^>]*>\s*<(?:[\w-]+:)?(\w+)", body)
        status, payload = self.reply(m.group(1).decode() if m else "?", body.decode())
        return web.Response(status=status, body=payload, content_type="application/soap+xml")


def _service(op: str) -> str:
    return "media" if op in MEDIA_OPS else "devicemgmt"


@pytest.mark.parametrize("credentials", [None, ("admin", "Camaudit123")])
async def test_requests_are_byte_identical_to_zeeps(credentials: tuple[str, str] | None) -> None:
    dev = RecordingDevice(HIK)
    async with OnvifServer(dev, "127.0.3.70") as srv:
        clients = await onvif_soap.device_clients(2.0, credentials, dt.timedelta(hours=-2))
        tokens = {id(c.wsse): c.wsse for c in clients._clients.values() if c.wsse is not None}
        for token in tokens.values():
            # A fixed nonce and time make both paths' digests comparable.
            token.nonce = "0123456789abcdef"
            token.created = dt.datetime(2026, 11, 25, 1, 2, 3)
        try:
            for op, kwargs in CALLS:
                proxy = clients.service(_service(op), f"http://127.0.3.70:{srv.port}/onvif/x")
                for _ in range(2):  # the first call builds the template, the second reuses it
                    for kind in (onvif_soap.TemplateOperationProxy, AsyncOperationProxy):
                        # a call not in this recording fails: its request is still compared
                        with contextlib.suppress(*onvif_soap.CALL_ERRORS):
                            await kind(proxy, op)(**kwargs)
                    ours, zeeps = dev.seen[-2], dev.seen[-1]
                    assert ours == zeeps, op
                    if credentials is not None:
                        assert b"PasswordDigest" in ours[0] and b"Camaudit123" not in ours[0]
        finally:
            await clients.close()
    assert len(dev.seen) == 4 * len(CALLS)


async def test_signed_calls_pass_a_skewed_camera_and_carry_fresh_nonces() -> None:
    # The random-nonce path, checked by the fake camera's own digest verification.
    dev = RecordingDevice(HIK, users={"admin": "pw"}, auth="wsse", skew=dt.timedelta(minutes=-90))
    async with OnvifServer(dev, "127.0.3.71") as srv:
        clients = await onvif_soap.device_clients(2.0, ("admin", "pw"), dev.skew)
        try:
            proxy = clients.service("devicemgmt", f"http://127.0.3.71:{srv.port}/onvif/x")
            replies = [await proxy.GetScopes() for _ in range(3)]
        finally:
            await clients.close()
    assert all(onvif_soap.plain(r) for r in replies)
    assert dev.requests == ["GetScopes"] * 3
    # each signature is new: nonce, and so digest, differ from one call to the next
    signers = [s for (key, user, _), s in onvif_soap._signers.items() if user == "admin"]
    token = UsernameDigestTokenDtDiff("admin", "pw", dt_diff=None, use_digest=True)
    first, second = (etree.tostring(signers[0].sign(token)) for _ in range(2))
    nonce = re.compile(rb"<wsse:Nonce[^>]*>([^<]+)<")
    digest = re.compile(rb"<wsse:Password[^>]*>([^<]+)<")
    assert nonce.search(first).group(1) != nonce.search(second).group(1)  # type: ignore[union-attr]
    assert digest.search(first).group(1) != digest.search(second).group(1)  # type: ignore[union-attr]


def _recorded_replies() -> list[tuple[str, bytes]]:
    now = dt.datetime.now(dt.UTC)
    out = []
    for path in sorted(FIX.glob("*.xml")):
        m = re.search(r"-((?:Get|Scan)\w+)\.xml$", path.name)
        if m is None or path.name.startswith("hostile") or m.group(1) == "GetMasks":
            continue  # GetMasks is Media2: parsed without zeep (onvif_media2)
        text = Template(path.read_text()).safe_substitute(
            year=now.year, month=now.month, day=now.day, hour=now.hour, minute=now.minute,
            second=now.second, channel="101", profile="Profile_1",
        )  # fmt: skip
        out.append((m.group(1), text.encode()))
    return out


async def test_one_walk_conversion_equals_serialize_object_then_plain() -> None:
    """``plain`` walks zeep's objects directly; the result is what it gives for
    zeep's own ``serialize_object`` copy (plain dicts and lists) of the same reply."""
    clients = await onvif_soap.device_clients(2.0, None, None)
    try:
        replies = _recorded_replies()
        assert len(replies) >= 20
        for op, body in replies:
            proxy = clients.service(_service(op), "http://127.0.3.72/onvif/x")
            reply = requests.Response()
            reply.status_code, reply._content = 200, body
            reply.headers["Content-Type"] = "application/soap+xml"
            result = proxy._binding.process_reply(proxy._client, proxy._binding.get(op), reply)
            assert onvif_soap.plain(result) == onvif_soap.plain(
                zeep.helpers.serialize_object(result, target_cls=dict)
            ), op
            if isinstance(result, CompoundValue):
                # zeep objects inside a tuple were never unpacked: still reported as nothing
                assert onvif_soap.plain((result,)) == [None]
    finally:
        await clients.close()


async def test_login_reuses_the_anonymous_connections() -> None:
    dev = RecordingDevice(HIK, users={"admin": "pw"}, auth="wsse")
    async with OnvifServer(dev, "127.0.3.73") as srv:
        obs = await probe_onvif(
            "127.0.3.73", srv.port, xaddr=None, timeout=2.0, credentials=[("admin", "pw")]
        )
    assert obs.error is None and obs.data["auth"] == "digest"
    # 16 requests, at most SESSION_CONNECTIONS at once, and the authenticated calls ride
    # the keep-alive connections the anonymous round opened (10 connections before)
    assert len(dev.requests) >= 15
    assert len(dev.peers) <= onvif_soap.SESSION_CONNECTIONS


async def test_shared_pool_is_closed_by_its_owner_only() -> None:
    anon = await onvif_soap.device_clients(2.0, None, None)
    authed = await onvif_soap.device_clients(2.0, ("admin", "pw"), None, share_with=anon)
    pool = anon.session.connector
    assert pool is not None and authed.session.connector is pool
    await authed.close()  # a refused credential's clients close first, mid-probe
    assert not pool.closed
    await anon.close()
    assert pool.closed


async def test_request_templates_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    # Profile tokens come from the device: a hostile one could name endlessly many.
    monkeypatch.setattr(onvif_soap, "MAX_TEMPLATES", len(onvif_soap._templates) + 2)
    dev = RecordingDevice(HIK)
    async with OnvifServer(dev, "127.0.3.74") as srv:
        clients = await onvif_soap.device_clients(2.0, None, None)
        try:
            proxy = clients.service("media", f"http://127.0.3.74:{srv.port}/onvif/Media")
            uris = [
                onvif_soap.plain(
                    await proxy.GetStreamUri(StreamSetup=STREAM_SETUP, ProfileToken=f"Profile_{i}")
                )
                for i in range(6)
            ]
        finally:
            await clients.close()
    assert len(onvif_soap._templates) == onvif_soap.MAX_TEMPLATES
    assert all(u["Uri"].startswith("rtsp://") for u in uris)
    assert [b.count(b"Profile_") for b, _ in dev.seen] == [1] * 6
    assert all(f"Profile_{i}".encode() in dev.seen[i][0] for i in range(6))


async def test_transport_has_what_onvifs_constructor_sets() -> None:
    # CappedTransport skips the constructors (they build a requests.Session only to
    # drop it): it must still carry every attribute they set, with the same values.
    session = onvif_soap.open_session(2.0)
    try:
        ours = vars(onvif_soap.CappedTransport(session=session, verify_ssl=False))
        theirs = vars(AIOHTTPTransport(session=session, verify_ssl=False))
    finally:
        await session.close()
    assert ours == theirs


async def test_probe_observation_is_plain_json_and_complete() -> None:
    dev = FakeOnvifDevice(HIK, users={"admin": "pw"}, auth="wsse", skew=dt.timedelta(hours=3))
    async with OnvifServer(dev, "127.0.3.73") as srv:
        obs = await asyncio.wait_for(
            probe_onvif("127.0.3.73", srv.port, xaddr=None, timeout=2.0,
                        credentials=[("admin", "bad"), ("admin", "pw")]),
            10,
        )  # fmt: skip
    assert obs.error is None and obs.data["credential_index"] == 1
    assert json.loads(json.dumps(obs.to_dict())) == obs.to_dict()  # no zeep/lxml types
    assert obs.data["device_info"]["serial"] == "DS-2CD2143G0-I20190601AAWRD12345678"
    assert obs.data["stream_uris"] and obs.data["interfaces"][0]["if_type"] == 6
