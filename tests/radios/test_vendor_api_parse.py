"""Parsers of vendor API replies (Hikvision ISAPI XML, Dahua key=value config): the
documented shapes, and bad input that must give a clear error, never a crash or a hang."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from auditor.errors import ParseError
from probes import vendor_api as va

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "vendor_api"
HIK_WIRED = "hikvision-ds-2cd2043g2-v5.7.3"
HIK_IW = "hikvision-ds-2cd2021g1-iw-v5.5.0"
DAHUA_W = "dahua-ipc-hfw1235s-w-v2.800"


def fixture(name: str) -> bytes:
    return (FIX / name).read_bytes()


def test_isapi_wired_camera_lists_one_ethernet_interface() -> None:
    ifaces = va.parse_isapi_interfaces(fixture(f"{HIK_WIRED}-interfaces.xml"))
    assert [(i["id"], i["kind"], i["mac"]) for i in ifaces] == [
        ("1", "ethernet", "c0:56:e3:4a:10:22")
    ]


def test_isapi_wifi_model_lists_its_wireless_interface() -> None:
    ifaces = va.parse_isapi_interfaces(fixture(f"{HIK_IW}-interfaces.xml"))
    wifi = [i for i in ifaces if i["kind"] == "wifi"]
    assert len(ifaces) == 2 and len(wifi) == 1
    assert wifi[0]["id"] == "2" and wifi[0]["mac"] == "44:19:b6:7c:21:0b"
    assert wifi[0]["enabled"] is True and wifi[0]["mode"] == "station"
    assert wifi[0]["ssid"] == "CamLink"


def test_isapi_wireless_keeps_mode_and_ssid_never_the_key() -> None:
    body = fixture(f"{HIK_IW}-wireless-2.xml")
    w = va.parse_isapi_wireless(body)
    assert w["enabled"] is True and w["mode"] == "station" and w["ssid"] == "CamLink"
    assert w["security"] == "WPA2-personal"
    assert b"fixture-psk-do-not-copy" in body  # the reply has it ...
    assert "fixture-psk-do-not-copy" not in repr(w)  # ... the parsed result does not


def test_isapi_wireless_server_says_the_access_point_is_on() -> None:
    ap = va.parse_isapi_wireless_server(fixture(f"{HIK_IW}-wirelessserver-2.xml"))
    assert ap == {"ap_enabled": True, "ssid": "HAP-21000"}


def test_isapi_not_supported_status_is_recognised() -> None:
    root = va.parse_xml(fixture(f"{HIK_WIRED}-notsupport.xml"))
    assert va.isapi_not_supported(root)
    assert va._classify_call(403, fixture(f"{HIK_WIRED}-notsupport.xml"), "isapi") == (
        "not supported"
    )


def test_dahua_tables_merge_into_interfaces_without_keys() -> None:
    net = va.parse_dahua_table(fixture(f"{DAHUA_W}-network.txt"), "Network")
    wlan = va.parse_dahua_table(fixture(f"{DAHUA_W}-wlan.txt"), "WLan")
    ifaces = va.dahua_interfaces(wlan, net)
    assert [(i["id"], i["kind"], i["mac"]) for i in ifaces] == [
        ("eth0", "ethernet", "3c:ef:8c:12:34:56"),
        ("eth2", "wifi", "3c:ef:8c:12:34:58"),
    ]
    eth2 = ifaces[1]
    assert eth2["enabled"] is True and eth2["connected"] is True and eth2["ssid"] == "CityCam-Ops"
    assert eth2["mode"] is None and eth2["mode_raw"] == "Auto"  # "Auto" claims nothing
    assert "do-not-copy" not in repr(wlan) + repr(ifaces)


def test_dahua_error_reply_is_an_error_not_a_table() -> None:
    body = fixture("dahua-ipc-hfw2431s-v2.800-wlan-error.txt")
    with pytest.raises(ParseError, match="Error Bad Request"):
        va.parse_dahua_table(body, "WLan")
    assert va._classify_call(400, body, "dahua-cgi") == "not supported"


@pytest.mark.parametrize(
    "body, why",
    [
        (b"", "malformed XML"),
        (b"<NetworkInterfaceList><NetworkInterface><id>1", "malformed XML"),
        (b"\xff\xfe\x00<garbage", "malformed XML"),
        (b"<html><body>Login</body></html>", "not a NetworkInterfaceList"),
        (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<NetworkInterfaceList>&x;</NetworkInterfaceList>",
            "XML refused",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">'
            b"]><NetworkInterfaceList>&c;</NetworkInterfaceList>",
            "XML refused",
        ),
        (b"<a>" * 40 + b"x" * (va.MAX_REPLY), "larger than"),
    ],
    ids=["empty", "truncated", "binary", "html", "xxe", "entity-bomb", "huge"],
)
def test_bad_isapi_bodies_give_a_clear_error(body: bytes, why: str) -> None:
    with pytest.raises(ParseError, match=why):
        va.parse_isapi_interfaces(body)


def test_interface_flood_is_capped_quickly() -> None:
    one = (
        b"<NetworkInterface><id>%d</id><Link><MACAddress>00:00:00:00:00:01</MACAddress>"
        b"</Link></NetworkInterface>"
    )
    body = (
        b"<NetworkInterfaceList>"
        + b"".join(one % i for i in range(500))
        + b"</NetworkInterfaceList>"
    )
    t0 = time.perf_counter()
    ifaces = va.parse_isapi_interfaces(body[: va.MAX_REPLY])
    assert len(ifaces) == va.MAX_IFACES
    assert time.perf_counter() - t0 < 1.0


def test_dahua_absurd_lines_are_clipped_and_counted() -> None:
    long_ssid = "S" * 5000
    body = (f"table.WLan.eth2.SSID={long_ssid}\r\n" + "table.WLan.eth2.Enable=true\r\n").encode()
    table = va.parse_dahua_table(body, "WLan")
    assert len(table["eth2"]["SSID"]) == va.SSID_CAP
    flood = "".join(
        f"table.Network.eth{i}.PhysicalAddress=00:00:00:00:00:{i % 99:02d}\r\n" for i in range(3000)
    )
    net = va.parse_dahua_table(flood.encode()[: va.MAX_REPLY], "Network")
    assert len(net) <= va.MAX_IFACES * 4
    assert len(va.dahua_interfaces(None, net)) == va.MAX_IFACES
    with pytest.raises(ParseError, match=r"no table\.WLan"):
        va.parse_dahua_table(b"<html>login</html>", "WLan")


def test_wifi_modes_are_normalised() -> None:
    assert [va._mode(m) for m in ("infrastructure", "adhoc", "Ad-hoc", "AP", "Auto", "", None)] == [
        "station", "adhoc", "adhoc", "ap", None, None, None,
    ]  # fmt: skip
