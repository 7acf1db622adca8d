"""The ONVIF probe asks a device that admits to 802.11 what its radio does (issue 5).

The Xiongmai fixture lists a wlan0 (ifType 71) while its capabilities deny Dot11. Its
recorded firmware has no Dot11 replies, so the GetDot11Status / ScanAvailableDot11Networks
answers below are written from the ONVIF device-management schema (tt:Dot11Status,
tt:Dot11AvailableNetworks), not recorded: they check that the probe asks, records and
decodes (SSIDs are hexBinary); GetDot11Capabilities is left unanswered, like a camera
without it.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "probes"))

from onvif_server import FakeOnvifDevice, OnvifServer

from probes.onvif import probe_onvif

HIK = "hikvision-ds2cd2143g0-v5.6.3"
XM = "xiongmai-ipg-50hv20pes-v4.02.r12"
_ENV = (
    '<?xml version="1.0" encoding="UTF-8"?><env:Envelope '
    'xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
    'xmlns:tt="http://www.onvif.org/ver10/schema"><env:Body>{}</env:Body></env:Envelope>'
)
SSID_HEX = b"CamLink".hex().upper()
STATUS = _ENV.format(
    "<tds:GetDot11StatusResponse><tds:Status>"
    f"<tt:SSID>{SSID_HEX}</tt:SSID><tt:BSSID>02:aa:bb:cc:00:01</tt:BSSID>"
    "<tt:PairCipher>CCMP</tt:PairCipher><tt:GroupCipher>CCMP</tt:GroupCipher>"
    "<tt:SignalStrength>Good</tt:SignalStrength><tt:ActiveConfigAlias>wlan0</tt:ActiveConfigAlias>"
    "</tds:Status></tds:GetDot11StatusResponse>"
).encode()
SCAN = _ENV.format(
    "<tds:ScanAvailableDot11NetworksResponse><tds:Networks>"
    f"<tt:SSID>{SSID_HEX}</tt:SSID><tt:BSSID>02:aa:bb:cc:00:01</tt:BSSID>"
    "<tt:AuthAndMangementSuite>PSK</tt:AuthAndMangementSuite>"
    "<tt:SignalStrength>Good</tt:SignalStrength>"
    "</tds:Networks></tds:ScanAvailableDot11NetworksResponse>"
).encode()


async def test_wifi_interface_gets_dot11_calls() -> None:
    dev = FakeOnvifDevice(XM, raw={"GetDot11Status": STATUS, "ScanAvailableDot11Networks": SCAN})
    async with OnvifServer(dev, "127.0.3.40") as srv:
        obs = await probe_onvif("127.0.3.40", srv.port, xaddr=None, timeout=2.0, credentials=[])
    d = obs.data
    assert obs.error is None, obs.error
    assert d["calls"]["GetDot11Status"] == "ok"
    assert d["calls"]["ScanAvailableDot11Networks"] == "ok"
    assert d["calls"]["GetDot11Capabilities"] != "ok"  # unanswered: recorded as such
    dot11 = d["dot11"]
    assert dot11["supported"] is True and dot11["interface"] == "wlan0"
    assert dot11["status"]["ssid"] == "CamLink"
    assert dot11["status"]["bssid"] == "02:aa:bb:cc:00:01"
    assert dot11["networks"][0]["ssid"] == "CamLink" and dot11["networks"][0]["auth"] == "PSK"


async def test_no_dot11_advertised_costs_no_call() -> None:
    dev = FakeOnvifDevice(HIK)
    async with OnvifServer(dev, "127.0.3.41") as srv:
        obs = await probe_onvif("127.0.3.41", srv.port, xaddr=None, timeout=2.0, credentials=[])
    assert obs.data["dot11"] == {"supported": False, "reason": "no Dot11 advertised"}
    assert not any("Dot11" in op for op in dev.requests)
