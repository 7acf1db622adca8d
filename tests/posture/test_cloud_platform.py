"""Vendor cloud platform (issue 7, "recording to cloud"): what the camera's own API says
about Hik-Connect (ISAPI EZVIZ) and Dahua P2P (T2UServer), and CAM-PRIV-CLOUD-PLATFORM.

Replies come from tests/fixtures/vendor_api (written from public documentation, see its
README) through the probe's ``fetcher`` seam, so the auditor reads exactly what the probe
writes; tests/lab_services/test_cloud_platform_lab.py runs the same over HTTP Digest."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from auditor.classify import classify
from auditor.errors import ParseError
from auditor.model import Device, Observation, Severity
from auditor.policy import apply_policy, parse_policy
from auditor.rules import evaluate
from probes import vendor_api as va
from probes.vendor_api import (
    DAHUA_CLOUD,
    DAHUA_NETWORK,
    DAHUA_WLAN,
    ISAPI_CLOUD,
    ISAPI_IFACES,
    parse_dahua_cloud,
    parse_isapi_cloud,
    probe_vendor_api,
)

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "vendor_api"
IP = "198.18.0.65"
RULE = "CAM-PRIV-CLOUD-PLATFORM"
HIK_ON = "hikvision-ds-2cd2021g1-iw-v5.5.0-ezviz.xml"
HIK_OFF = "hikvision-ds-2cd2043g2-v5.7.3-ezviz-off.xml"
DAHUA_ON = "dahua-ipc-hfw1235s-w-v2.800-t2userver.txt"
DAHUA_OFF = "dahua-ipc-hfw2431s-v2.800-t2userver-off.txt"
SECRET = "do-not-copy"  # the fixtures' verification code and Wi-Fi key start with this

Replies = dict[str, tuple[int, bytes]]


def fx(name: str) -> bytes:
    return (FIX / name).read_bytes()


def hik_http() -> Observation:
    data = {"scheme": "http", "status": 200, "server": "App-webs/", "auth_schemes": [],
            "headers": {"server": "App-webs/"}, "body_sample": ""}  # fmt: skip
    return Observation("http", IP, data, port=80)


def dahua_http() -> Observation:
    realm = "Login to 4J0123PAZ1A2B3"
    data = {"scheme": "http", "status": 200, "title": "WEB SERVICE", "realm": realm,
            "www_authenticate": [f'Digest realm="{realm}"'], "auth_schemes": ["digest"],
            "headers": {}, "body_sample": "<title>WEB SERVICE</title>",
            "paths": {"/cgi-bin/magicBox.cgi?action=getSystemInfo": 401},
            "bogus_path_status": 404}  # fmt: skip
    return Observation("http", IP, data, port=80)


def hik_replies(cloud: tuple[int, bytes] | None) -> Replies:
    wired = "hikvision-ds-2cd2043g2-v5.7.3"
    replies: Replies = {
        ISAPI_IFACES: (200, fx(f"{wired}-interfaces.xml")),
        f"{ISAPI_IFACES}/1/wireless": (403, fx(f"{wired}-notsupport.xml")),
    }
    if cloud is not None:
        replies[ISAPI_CLOUD] = cloud
    return replies


def dahua_replies(cloud: tuple[int, bytes] | None) -> Replies:
    replies: Replies = {
        DAHUA_NETWORK: (200, fx("dahua-ipc-hfw1235s-w-v2.800-network.txt")),
        DAHUA_WLAN: (400, fx("dahua-ipc-hfw2431s-v2.800-wlan-error.txt")),
    }
    if cloud is not None:
        replies[DAHUA_CLOUD] = cloud
    return replies


async def ask(
    seen: Observation, replies: Replies, password: str = "right", asked: list[str] | None = None
) -> Observation:
    def fetcher(scheme: str, port: int, cred: tuple[str, str]) -> va.Fetch:
        async def fetch(path: str) -> tuple[int, bytes]:
            if asked is not None:
                asked.append(path)
            if cred[1] != password:
                return 401, b"<html>401 Unauthorized</html>"
            return replies.get(path, (404, b""))

        return fetch

    (obs,) = await probe_vendor_api(IP, [seen], credentials=[("admin", "right")], fetcher=fetcher)
    return obs


def audit(observations: list[Observation]) -> Device:
    (dev,) = classify(observations)
    evaluate([dev])
    return dev


def finding(dev: Device, rule: str = RULE) -> dict[str, Any] | None:
    return next((f.to_dict() for f in dev.findings if f.rule == rule), None)


# ---------------------------------------------------------------- parsers


def test_isapi_ezviz_reply_is_read_without_the_verification_code() -> None:
    on = parse_isapi_cloud(fx(HIK_ON))
    assert on == {
        "platform": "hik-connect", "enabled": True, "registered": True,
        "server": "dev.hik-connect.com", "bound": True, "source": ISAPI_CLOUD,
    }  # fmt: skip
    assert SECRET not in json.dumps(on)
    off = parse_isapi_cloud(fx(HIK_OFF))
    assert (off["enabled"], off["registered"], off["bound"]) == (False, False, False)


def test_dahua_t2userver_both_line_forms() -> None:
    assert parse_dahua_cloud(fx(DAHUA_ON)) == {
        "platform": "dahua-p2p", "enabled": True, "source": DAHUA_CLOUD
    }  # fmt: skip
    assert parse_dahua_cloud(fx(DAHUA_OFF))["enabled"] is False  # table.T2UServer[0].Enable


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"<EZVIZ><enabled>true</enabled>", "malformed XML"),  # truncated
        (b"", "malformed XML"),
        (b"<ResponseStatus><statusCode>1</statusCode></ResponseStatus>", "not an EZVIZ"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><EZVIZ><enabled>&a;</enabled></EZVIZ>', "refused"),
        (b"<EZVIZ>" + b"x" * (va.MAX_REPLY + 1) + b"</EZVIZ>", "larger than"),
    ],
)
def test_malformed_ezviz_replies_are_a_parse_error(body: bytes, needle: str) -> None:
    with pytest.raises(ParseError, match=needle):
        parse_isapi_cloud(body)


def test_odd_ezviz_values_are_unknown_not_guessed() -> None:
    got = parse_isapi_cloud(b"<EZVIZ><enabled>maybe</enabled><bindStatus>?</bindStatus></EZVIZ>")
    assert got["enabled"] is None and got["registered"] is None and got["bound"] is None
    assert got["server"] is None


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"Error\r\nBad Request!\r\n", "Error Bad Request"),
        (b"table.Network.eth0.MTU=1500\r\n", "no table.T2UServer.Enable"),
        (b"table.T2UServer.Enable=sometimes\r\n", "not true/false"),
        (b"\xff\xfe\x00garbage", "no table.T2UServer.Enable"),
        (b"table.T2UServer.Enable=true" + b"x" * va.MAX_REPLY, "larger than"),
    ],
)
def test_malformed_t2userver_replies_are_a_parse_error(body: bytes, needle: str) -> None:
    with pytest.raises(ParseError, match=needle):
        parse_dahua_cloud(body)


# ---------------------------------------------------------------- probe


async def test_probe_asks_the_platform_last_and_keeps_no_secret() -> None:
    asked: list[str] = []
    obs = await ask(hik_http(), hik_replies((200, fx(HIK_ON))), asked=asked)
    # after the radios (a slow device spends its time there first); only where footage
    # goes (tests/radios/test_vendor_api_cellular_storage.py) comes later
    assert asked[-2] == ISAPI_CLOUD and asked[-1] == "/ISAPI/System/Network/ftp"
    assert obs.data["calls"][ISAPI_CLOUD] == "ok"
    assert obs.data["cloud"]["enabled"] is True and obs.data["cloud"]["server"]
    assert SECRET not in json.dumps(obs.to_dict()) and "right" not in json.dumps(obs.to_dict())
    dahua = await ask(dahua_http(), dahua_replies((200, fx(DAHUA_ON))))
    assert dahua.data["calls"][DAHUA_CLOUD] == "ok" and dahua.data["cloud"]["enabled"] is True


async def test_probe_records_unsupported_broken_and_refused_platform_calls() -> None:
    gone = await ask(hik_http(), hik_replies(None))  # firmware without platform access: 404
    assert gone.data["calls"][ISAPI_CLOUD] == "not supported" and gone.data["cloud"] is None
    broken = await ask(hik_http(), hik_replies((200, b"<EZVIZ><enabled>tr")))
    assert broken.data["calls"][ISAPI_CLOUD].startswith("error: malformed XML")
    assert broken.data["cloud"] is None
    dahua = await ask(dahua_http(), dahua_replies((400, b"Error\r\nBad Request!\r\n")))
    assert dahua.data["calls"][DAHUA_CLOUD] == "not supported" and dahua.data["cloud"] is None
    asked: list[str] = []
    refused = await ask(hik_http(), hik_replies((200, fx(HIK_ON))), password="x", asked=asked)
    assert ISAPI_CLOUD not in asked and refused.data["cloud"] is None  # no extra lockout try


# ---------------------------------------------------------------- rule


async def test_hik_connect_on_is_a_medium_finding_citing_the_reply() -> None:
    dev = audit([hik_http(), await ask(hik_http(), hik_replies((200, fx(HIK_ON))))])
    f = finding(dev)
    assert f is not None and f["severity"] == "medium"
    assert f["title"] == "Hik-Connect (EZVIZ) cloud platform access is switched on"
    (ev,) = f["evidence"]
    assert ev["source"] == "vendor_api:80"
    assert ev["detail"] == (
        "Hikvision ISAPI GET /ISAPI/System/Network/EZVIZ: Hik-Connect (EZVIZ) platform access "
        "enabled, registered with dev.hik-connect.com, bound to a cloud account"
    )
    assert SECRET not in json.dumps(f)
    # configuration, not traffic: the capture rule stays silent without a capture
    assert finding(dev, "CAM-NET-CLOUD") is None


async def test_dahua_p2p_on_is_a_finding() -> None:
    dev = audit([dahua_http(), await ask(dahua_http(), dahua_replies((200, fx(DAHUA_ON))))])
    f = finding(dev)
    assert (
        f is not None and f["title"] == "Dahua P2P (Easy4IP) cloud platform access is switched on"
    )
    assert "Dahua configManager GET " + DAHUA_CLOUD in f["evidence"][0]["detail"]


async def test_platform_off_unsupported_or_unasked_is_silent() -> None:
    for replies in (hik_replies((200, fx(HIK_OFF))), hik_replies(None)):
        assert finding(audit([hik_http(), await ask(hik_http(), replies)])) is None
    off = await ask(dahua_http(), dahua_replies((200, fx(DAHUA_OFF))))
    assert finding(audit([dahua_http(), off])) is None
    assert finding(audit([hik_http()])) is None  # no --credentials: nothing is claimed


def test_odd_cloud_data_never_crashes_and_never_claims() -> None:
    odd: list[Any] = [
        None, 5, "on", [], {"enabled": True},  # no source: not tied to a call that answered
        {"enabled": "true", "source": ISAPI_CLOUD, "platform": "hik-connect"},
        {"enabled": True, "source": ["x"], "platform": 3},
    ]  # fmt: skip
    for value in odd:
        data = {"api": "isapi", "calls": {ISAPI_CLOUD: "ok"}, "cloud": value}
        dev = audit([hik_http(), Observation("vendor_api", IP, data, port=80)])
        assert finding(dev) is None, value
    # enabled, but the call was not the one that answered ok: not trusted either
    cloud = {"enabled": True, "source": ISAPI_CLOUD, "platform": "hik-connect"}
    data = {"api": "isapi", "calls": {ISAPI_CLOUD: "error: timeout"}, "cloud": cloud}
    assert finding(audit([hik_http(), Observation("vendor_api", IP, data, port=80)])) is None


async def test_site_policy_can_accept_the_cloud_use() -> None:
    obs = [hik_http(), await ask(hik_http(), hik_replies((200, fx(HIK_ON))))]
    policy = parse_policy(
        f'[[accepted_risk]]\nrule = "{RULE}"\ndevice = {{ ip = "{IP}" }}\n'
        'justification = "Hik-Connect approved for the depot camera (ticket 4711)"\n'
        "expires = 2027-06-30\n",
        "site.toml",
    )
    (dev,) = classify(obs)
    apply_policy([dev], policy, dt.date(2026, 11, 24))
    f = next(f for f in dev.findings if f.rule == RULE)
    assert f.severity == Severity.INFO and f.title.startswith("Accepted risk: ")
    assert "ticket 4711" in json.dumps(f.to_dict())
