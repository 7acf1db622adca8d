"""Vendor configuration APIs of Hikvision- and Dahua-board lab cameras (read-only).

The camera's own view of its network interfaces, as its vendor API gives it to an
operator who logs in: unlike ONVIF (where a hidden module is left out), the vendor's
API lists the Wi-Fi interface, because that is where the vendor's own tools configure
it. Answers are built on request from the device (nothing is stored per camera):

- Hikvision ISAPI: ``GET /ISAPI/System/Network/interfaces`` (a NetworkInterfaceList:
  ``id``, ``Link/MACAddress``, a ``Wireless`` child on the Wi-Fi interface),
  ``.../interfaces/<id>/wireless`` (``enabled``, ``wirelessNetworkMode``, ``ssid``,
  ``WirelessSecurity``) and ``.../interfaces/<id>/wirelessServer`` (``wifiApEnabled``:
  the camera's own access point); a resource the device lacks answers 403 with a
  ResponseStatus ``notSupport``, an unknown id 404.
- Dahua: ``GET /cgi-bin/configManager.cgi?action=getConfig&name=WLan`` and
  ``name=Network`` (``table.<name>.<iface>.<Key>=value`` lines); a device without Wi-Fi
  answers ``name=WLan`` with ``Error`` (HTTP 400), as Dahua firmware does for a config it
  does not have.
- The vendor cloud platform (``camlab.features`` ``cloud_platform``): ISAPI ``GET
  /ISAPI/System/Network/EZVIZ`` (Hik-Connect: ``enabled``, ``registerStatus`` -- false:
  the lab has no internet, so the platform never confirms a registration --
  ``serverAddress``, ``verificationCode``, ``bindStatus``) and Dahua ``name=T2UServer``
  (``table.T2UServer.Enable``). Every Hikvision/Dahua-board camera answers, on or off.

- Radios beyond Wi-Fi and where footage goes (issues 5 and 7): ISAPI ``GET /ISAPI/System/
  Network/WirelessDial/Interfaces/1/dial`` answers on a Hikvision board with a cellular
  radio (``camlab.features`` ``cellular_modem``), ``notSupport`` elsewhere. Its element
  names are the lab's own: no public schema of the dial parameters was found, and the
  scanner reads nothing inside. ISAPI ``GET /ISAPI/System/Network/ftp`` (an
  FTPNotificationList: ``enabled``, ``addressingFormatType``, ``hostName`` /
  ``ipAddress``, ``portNo``, ``userName``, ``password``) and Dahua
  ``name=RecordStoragePoint`` (``table.RecordStoragePoint[0].<Type>.<Point>=true|false``)
  tell the ``remote_storage`` feature. Dahua's WLan ``LinkMode`` is ``Auto``, ``Ad-hoc``
  or ``Infrastructure`` (Dahua NetSDK ``CFG_WLAN_INFO``): it has no access-point value,
  so a Dahua radio running its own network (``air_mode`` ``ap`` / ``ap-hidden``) says
  ``Ad-hoc``.

Every answer needs the HTTP authentication of the admin page (Digest in the profiles).
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from ..spec import LabDevice

NS = "http://www.hikvision.com/ver20/XMLSchema"
ISAPI = "/ISAPI/System/Network/interfaces"
ISAPI_CLOUD = "/ISAPI/System/Network/EZVIZ"
#: a lab-only Hik-Connect verification code: a scanner must never copy it into a report
LAB_CLOUD_CODE = "lab-vcode-0000"
DAHUA = "/cgi-bin/configManager.cgi"
WIFI_IFACE = "eth2"  # Dahua names its Wi-Fi interface eth2
#: a lab-only Wi-Fi key: a scanner must never copy it into a report
LAB_WIFI_KEY = "lab-wifi-psk-0000"
ISAPI_DIAL = "/ISAPI/System/Network/WirelessDial/Interfaces/1/dial"
ISAPI_FTP = "/ISAPI/System/Network/ftp"
#: a lab-only FTP upload password: a scanner must never copy it into a report
LAB_FTP_PASSWORD = "lab-ftp-pass-0000"
LAB_APN_PASSWORD = "lab-apn-pass-0000"  # the cellular dial login, as secret
#: Dahua record and snapshot types of RecordStoragePoint, and its storage points
DAHUA_RECORD_TYPES = ("TimingRecord", "VideoDetectRecord", "AlarmRecord", "EventRecord",
                      "TimingSnapShot", "VideoDetectSnapShot", "AlarmSnapShot",
                      "EventSnapShot")  # fmt: skip
DAHUA_POINTS = ("AutoSync", "Custom", "FTP", "Local", "LocalForEmergency", "Redundant", "Remote")
#: what the remote_storage feature sends to the FTP point on a Dahua board
DAHUA_UPLOADED = ("EventRecord", "EventSnapShot", "VideoDetectSnapShot")

Answer = tuple[int, bytes, str]  # status, body, content type


def api_of(dev: LabDevice) -> str | None:
    """``"isapi"`` for Hikvision boards, ``"dahua"`` for Dahua boards, else None."""
    if dev.kind != "camera" or not dev.http:
        return None
    return {"hikvision": "isapi", "dahua": "dahua"}.get(dev.oem.lower())


def _wifi(dev: LabDevice) -> dict[str, Any] | None:
    return next((r for r in dev.radios if r.get("kind") == "wifi"), None)


def _xml(body: str) -> Answer:
    return 200, ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode(), "application/xml"


def _not_supported(target: str) -> Answer:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ResponseStatus version="2.0" xmlns="{NS}">'
        f"<requestURL>{escape(target)}</requestURL><statusCode>4</statusCode>"
        "<statusString>Invalid Operation</statusString><subStatusCode>notSupport"
        "</subStatusCode></ResponseStatus>"
    )
    return 403, body.encode(), "application/xml"


def _isapi_wireless_element(radio: dict[str, Any], tag: str = "Wireless") -> str:
    client = radio.get("air_mode", "client") == "client"
    ssid = str(radio.get("air_ssid") or "") if client else ""
    return (
        f'<{tag} version="2.0"><enabled>true</enabled>'
        f"<wirelessNetworkMode>infrastructure</wirelessNetworkMode><channel>auto</channel>"
        f"<ssid>{escape(ssid)}</ssid><WirelessSecurity><securityMode>WPA2-personal"
        f"</securityMode><WPA><algorithmType>AES</algorithmType><sharedKey>{LAB_WIFI_KEY}"
        f"</sharedKey><wpaKeyLength>{len(LAB_WIFI_KEY)}</wpaKeyLength></WPA>"
        f"</WirelessSecurity></{tag}>"
    )


def _isapi_cloud(dev: LabDevice) -> Answer:
    on = bool(dev.http.get("cloud_platform"))
    return _xml(
        f'<EZVIZ version="2.0" xmlns="{NS}"><enabled>{str(on).lower()}</enabled>'
        "<registerStatus>false</registerStatus><redirect>true</redirect><serverAddress>"
        "<addressingFormatType>hostname</addressingFormatType><hostName>dev.hik-connect.com"
        f"</hostName></serverAddress><verificationCode>{LAB_CLOUD_CODE if on else ''}"
        f"</verificationCode><bindStatus>unbind</bindStatus></EZVIZ>"
    )


def _isapi_ftp(dev: LabDevice) -> Answer:
    upload = dev.http.get("remote_storage") or {}
    host = str(upload.get("host") or "0.0.0.0")
    by_name = not host.replace(".", "").isdigit()
    addr = (f"<addressingFormatType>hostname</addressingFormatType><hostName>{escape(host)}"
            "</hostName>" if by_name else
            f"<addressingFormatType>ipaddress</addressingFormatType><ipAddress>{host}"
            "</ipAddress>")  # fmt: skip
    return _xml(
        f'<FTPNotificationList version="2.0" xmlns="{NS}"><FTPNotification><id>1</id>'
        f"<enabled>{str(bool(upload)).lower()}</enabled>{addr}<portNo>21</portNo>"
        f"<userName>camlab</userName><password>{LAB_FTP_PASSWORD if upload else ''}"
        "</password><uploadProtocolType>FTP</uploadProtocolType></FTPNotification>"
        "</FTPNotificationList>"
    )


def _isapi_dial(dev: LabDevice, target: str) -> Answer:
    if not any(r.get("kind") == "cellular" for r in dev.radios):
        return _not_supported(target)
    # the lab's own element names (see the module docstring); the APN login is a secret
    return _xml(
        f'<WirelessDial version="2.0" xmlns="{NS}"><id>1</id><enabled>true</enabled>'
        f"<APNname>camlab.apn</APNname><userName>camlab</userName><password>"
        f"{LAB_APN_PASSWORD}</password></WirelessDial>"
    )


def _isapi(dev: LabDevice, path: str, target: str) -> Answer | None:
    if path == ISAPI_CLOUD:
        return _isapi_cloud(dev)
    if path == ISAPI_DIAL:
        return _isapi_dial(dev, target)
    if path == ISAPI_FTP:
        return _isapi_ftp(dev)
    if path != ISAPI and not path.startswith(ISAPI + "/"):
        return None
    radio = _wifi(dev)
    if path == ISAPI:
        ifaces = [
            f'<NetworkInterface version="2.0"><id>1</id><IPAddress version="2.0">'
            f"<ipVersion>v4</ipVersion><addressingType>static</addressingType>"
            f'<ipAddress>{dev.ip}</ipAddress></IPAddress><Link version="2.0">'
            f"<MACAddress>{dev.mac}</MACAddress><autoNegotiation>true</autoNegotiation>"
            f"<speed>0</speed><duplex>full</duplex><MTU>1500</MTU></Link></NetworkInterface>"
        ]
        if radio is not None:
            ifaces.append(
                f'<NetworkInterface version="2.0"><id>2</id><IPAddress version="2.0">'
                f"<ipVersion>v4</ipVersion><addressingType>dynamic</addressingType>"
                f'</IPAddress><Link version="2.0"><MACAddress>{radio["mac"]}</MACAddress>'
                f"</Link>{_isapi_wireless_element(radio)}</NetworkInterface>"
            )
        return _xml(f'<NetworkInterfaceList version="2.0" xmlns="{NS}">{"".join(ifaces)}'
                    "</NetworkInterfaceList>")  # fmt: skip
    iid, _, resource = path[len(ISAPI) + 1 :].partition("/")
    if iid not in (("1", "2") if radio is not None else ("1",)):
        return 404, b"", "application/xml"
    if resource not in ("wireless", "wirelessServer") or iid == "1" or radio is None:
        return _not_supported(target)
    if resource == "wireless":
        return _xml(
            _isapi_wireless_element(radio).replace("<Wireless ", f'<Wireless xmlns="{NS}" ', 1)
        )
    ap = radio.get("air_mode") in ("ap", "ap-hidden")
    ssid = str(radio.get("air_ssid") or radio.get("ssid") or "") if ap else ""
    hidden = radio.get("air_mode") == "ap-hidden"
    return _xml(
        f'<WirelessServer version="2.0" xmlns="{NS}"><wifiApEnabled>{str(ap).lower()}'
        f"</wifiApEnabled><broadcastEnabled>{str(not hidden).lower()}</broadcastEnabled>"
        f"<ssid>{escape(ssid)}</ssid><WirelessSecurity><securityMode>WPA2-personal"
        f"</securityMode><WPA><sharedKey>{LAB_WIFI_KEY}</sharedKey></WPA>"
        f"</WirelessSecurity></WirelessServer>"
    )


def _dahua(dev: LabDevice, path: str, target: str) -> Answer | None:
    if path != DAHUA:
        return None
    query = dict(p.partition("=")[::2] for p in target.partition("?")[2].split("&"))
    if query.get("action") != "getConfig":
        return None
    radio = _wifi(dev)
    name = query.get("name")
    lines: list[str] = []
    if name == "Network":
        lines = [
            "table.Network.DefaultInterface=eth0",
            f"table.Network.Hostname={dev.name.upper()}",
            "table.Network.eth0.DhcpEnable=false",
            f"table.Network.eth0.IPAddress={dev.ip}",
            "table.Network.eth0.MTU=1500",
            f"table.Network.eth0.PhysicalAddress={dev.mac}",
        ]
        if radio is not None:
            lines += [
                f"table.Network.{WIFI_IFACE}.DhcpEnable=true",
                f"table.Network.{WIFI_IFACE}.MTU=1500",
                f"table.Network.{WIFI_IFACE}.PhysicalAddress={radio['mac']}",
            ]
    elif name == "WLan" and radio is not None:
        client = radio.get("air_mode", "client") == "client"
        ssid = str(radio.get("air_ssid") or "") if client else str(radio.get("ssid") or "")
        w = f"table.WLan.{WIFI_IFACE}"
        lines = [
            f"{w}.ConnectEnable={'true' if client else 'false'}",
            f"{w}.Enable=true", f"{w}.Encryption=On", f"{w}.KeyFlag=true",
            f"{w}.KeyID=0", f"{w}.KeyType=Hex", f"{w}.Keys[0]={LAB_WIFI_KEY}",
            f"{w}.LinkEnable=true", f"{w}.LinkMode={'Auto' if client else 'Ad-hoc'}",
            f"{w}.SSID={ssid}",
        ]  # fmt: skip
    elif name == "RecordStoragePoint":
        upload = bool(dev.http.get("remote_storage"))
        sent = DAHUA_UPLOADED if upload else ()
        lines = [
            f"table.RecordStoragePoint[0].{kind}.{point}="
            + str(point == "Local" or (point == "FTP" and kind in sent)).lower()
            for kind in DAHUA_RECORD_TYPES
            for point in DAHUA_POINTS
        ]
    elif name == "T2UServer":
        lines = [f"table.T2UServer.Enable={str(bool(dev.http.get('cloud_platform'))).lower()}"]
    else:
        return 400, b"Error\r\nBad Request!\r\n", "text/plain"
    return 200, ("\r\n".join(lines) + "\r\n").encode(), "text/plain"


def answer(dev: LabDevice, path: str, target: str) -> Answer | None:
    """The vendor API's answer to ``target`` (path and query), or None if not an API URL."""
    api = api_of(dev)
    if api == "isapi":
        return _isapi(dev, path, target)
    if api == "dahua":
        return _dahua(dev, path, target)
    return None
