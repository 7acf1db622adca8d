from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os

import httpx
import pytest
import zeep.exceptions
from camlab.spec import LabDevice
from onvif import ONVIFCamera

from .conftest import Start, pick

BANNERS = {
    "hikvision-ds2cd2": ("App-webs/", None),
    "dahua-ipc": (None, "WEB SERVICE"),
    "xiongmai-generic": ("uc-httpd 1.0.0", "NETSurveillance WEB"),
    "axis": ("Apache", "AXIS"),
    "reolink-rlc": ("nginx", "Reolink"),
    "hanwha-wisenet": ("nginx", "Wisenet"),
    "netgear-switch": (None, "NETGEAR"),
    "brother-printer": ("debut/1.30", "Brother"),
}


@pytest.mark.parametrize("profile", sorted(BANNERS))
async def test_admin_page_banners(devices: list[LabDevice], serve: Start, profile: str) -> None:
    dev, ip = await serve(pick(devices, profile))
    server, title = BANNERS[profile]
    async with httpx.AsyncClient(timeout=5) as client:
        resp = await client.get(f"http://{ip}:{dev.http['port']}/")
    assert resp.headers.get("server") == server
    if title:
        assert f"<title>{title}" in resp.text


async def test_hikvision_isapi_needs_digest(devices: list[LabDevice], serve: Start) -> None:
    dev, ip = await serve(pick(devices, "hikvision-ds2cd2"))
    url = f"http://{ip}/ISAPI/System/deviceInfo"
    async with httpx.AsyncClient(timeout=5) as client:
        denied = await client.get(url)
        assert denied.status_code == 401
        assert f'realm="IP Camera({dev.serial[-5:]})"' in denied.headers["www-authenticate"]
        ok = await client.get(url, auth=httpx.DigestAuth(dev.username, dev.password))
    assert ok.status_code == 200 and f"<serialNumber>{dev.serial}</serialNumber>" in ok.text


async def test_dahua_realm_names_the_serial(devices: list[LabDevice], serve: Start) -> None:
    dev, ip = await serve(pick(devices, "dahua-ipc"))
    async with httpx.AsyncClient(timeout=5) as client:
        resp = await client.get(f"http://{ip}/cgi-bin/magicBox.cgi?action=getSystemInfo")
        login = await client.post(f"http://{ip}/RPC2_Login", json={"method": "global.login"})
    assert f'realm="Login to {dev.serial}"' in resp.headers["www-authenticate"]
    assert login.json()["params"]["realm"] == f"Login to {dev.serial}"


def _soap(op: str, ns: str = "http://www.onvif.org/ver10/device/wsdl", header: str = "") -> str:
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
        f'<s:Header>{header}</s:Header><s:Body><{op} xmlns="{ns}"/></s:Body></s:Envelope>'
    )


def _token(user: str, password: str, created: str, digest: bool = True) -> str:
    nonce = os.urandom(16)
    value = base64.b64encode(
        hashlib.sha1(nonce + created.encode() + password.encode()).digest()
    ).decode()
    kind = "PasswordDigest" if digest else "PasswordText"
    return (
        '<Security xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">'
        f"<UsernameToken><Username>{user}</Username>"
        '<Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0'
        f'#{kind}">{value if digest else password}</Password>'
        f"<Nonce>{base64.b64encode(nonce).decode()}</Nonce>"
        '<Created xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">'
        f"{created}</Created></UsernameToken></Security>"
    )


async def test_onvif_auth_checks_the_device_clock(devices: list[LabDevice], serve: Start) -> None:
    dev = pick(devices, "dahua-ipc")
    dev.quirks, dev.clock_skew_s = ["clock_skew", "digest_only"], -7200.0
    dev, ip = await serve(dev)
    url = f"http://{ip}/onvif/device_service"
    host_now = dt.datetime.now(dt.UTC)
    cam_now = host_now + dt.timedelta(seconds=dev.clock_skew_s)
    ct = {"Content-Type": "application/soap+xml; charset=utf-8"}
    async with httpx.AsyncClient(timeout=5, headers=ct) as client:
        anon = await client.post(url, content=_soap("GetDeviceInformation"))
        wrong_clock = _token(dev.username, dev.password, f"{host_now:%Y-%m-%dT%H:%M:%SZ}")
        skewed = await client.post(url, content=_soap("GetDeviceInformation", header=wrong_clock))
        right = _token(dev.username, dev.password, f"{cam_now:%Y-%m-%dT%H:%M:%SZ}")
        good = await client.post(url, content=_soap("GetDeviceInformation", header=right))
        text = _token(dev.username, dev.password, "x", digest=False)
        plain = await client.post(url, content=_soap("GetDeviceInformation", header=text))
        clock = await client.post(url, content=_soap("GetSystemDateAndTime"))
        unknown = await client.post(url, content=_soap("SetSystemFactoryDefault"))
    assert anon.status_code == 400 and "ter:NotAuthorized" in anon.text
    assert skewed.status_code == 400 and "ter:NotAuthorized" in skewed.text
    assert good.status_code == 200 and f"<tds:SerialNumber>{dev.serial}<" in good.text
    assert plain.status_code == 400  # digest_only refuses PasswordText
    assert clock.status_code == 200 and f"<tt:Hour>{cam_now.hour}</tt:Hour>" in clock.text
    assert unknown.status_code == 500 and "ter:ActionNotSupported" in unknown.text


async def test_onvif_zeep_client_with_skew(devices: list[LabDevice], serve: Start) -> None:
    """The real onvif-zeep-async client: digest auth works once it adjusts for the skew."""
    dev = pick(devices, "amcrest-ip")
    dev.quirks, dev.clock_skew_s = ["clock_skew", "digest_only"], 3 * 3600.0
    assert dev.onvif is not None
    dev.onvif["auth"] = "required"  # whatever features the seed gave this camera
    wifi = {
        "kind": "wifi",
        "reported": True,
        "mac": "9c:8e:cd:00:00:05",
        "ssid": "Amc",
        "channel": 6,
    }
    dev.radios = [wifi]
    dev, ip = await serve(dev)

    naive = ONVIFCamera(ip, 80, dev.username, dev.password)
    try:
        mgmt = await naive.create_devicemgmt_service()
        with pytest.raises(zeep.exceptions.Fault):
            await mgmt.GetDeviceInformation()
    finally:
        await naive.close()

    cam = ONVIFCamera(ip, 80, dev.username, dev.password, adjust_time=True)
    try:
        await cam.update_xaddrs()
        mgmt = await cam.create_devicemgmt_service()
        info = await mgmt.GetDeviceInformation()
        assert (info.Manufacturer, info.Model, info.SerialNumber) == (
            "Amcrest", dev.model, dev.serial,
        )  # fmt: skip
        assert info.HardwareId == dev.hardware_id
        ifaces = await mgmt.GetNetworkInterfaces()
        assert [i.Info.HwAddress for i in ifaces] == [dev.mac, wifi["mac"]]
        media = await cam.create_media_service()
        profiles = await media.GetProfiles()
        uri = await media.GetStreamUri(
            {"StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
             "ProfileToken": profiles[0].token}
        )  # fmt: skip
        assert uri.Uri == f"rtsp://{ip}:554/cam/realmonitor?channel=1&subtype=0"
    finally:
        await cam.close()
