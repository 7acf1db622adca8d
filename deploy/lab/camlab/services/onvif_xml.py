"""SOAP 1.2 envelopes for the ONVIF answers (element order follows onvif.xsd/devicemgmt.wsdl
so schema-driven clients such as zeep parse them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from ..spec import SITE_NTP_IP, LabDevice

_NS = (
    'xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
    'xmlns:trt="http://www.onvif.org/ver10/media/wsdl" '
    'xmlns:tt="http://www.onvif.org/ver10/schema" '
    'xmlns:ter="http://www.onvif.org/ver10/error"'
)
DEVICE_NS = "http://www.onvif.org/ver10/device/wsdl"
MEDIA_NS = "http://www.onvif.org/ver10/media/wsdl"


def envelope(body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<env:Envelope {_NS}>'
        f"<env:Body>{body}</env:Body></env:Envelope>"
    ).encode()


def fault(status: int, code: str, subcode: str, reason: str) -> tuple[int, bytes]:
    body = (
        f"<env:Fault><env:Code><env:Value>{code}</env:Value><env:Subcode>"
        f"<env:Value>{subcode}</env:Value></env:Subcode></env:Code>"
        f'<env:Reason><env:Text xml:lang="en">{escape(reason)}</env:Text></env:Reason>'
        "</env:Fault>"
    )
    return status, envelope(body)


def _e(value: object) -> str:
    return escape(str(value))


def _date_time(when: datetime) -> str:
    return (
        f"<tt:Time><tt:Hour>{when.hour}</tt:Hour><tt:Minute>{when.minute}</tt:Minute>"
        f"<tt:Second>{when.second}</tt:Second></tt:Time>"
        f"<tt:Date><tt:Year>{when.year}</tt:Year><tt:Month>{when.month}</tt:Month>"
        f"<tt:Day>{when.day}</tt:Day></tt:Date>"
    )


def system_date_and_time(now: datetime, ntp: bool = True) -> bytes:
    return envelope(
        "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
        f"<tt:DateTimeType>{'NTP' if ntp else 'Manual'}</tt:DateTimeType>"
        "<tt:DaylightSavings>false</tt:DaylightSavings>"
        "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>"
        f"<tt:UTCDateTime>{_date_time(now)}</tt:UTCDateTime>"
        f"<tt:LocalDateTime>{_date_time(now)}</tt:LocalDateTime>"
        "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
    )


def device_information(dev: LabDevice) -> bytes:
    manufacturer = (dev.onvif or {}).get("manufacturer", dev.vendor)
    return envelope(
        "<tds:GetDeviceInformationResponse>"
        f"<tds:Manufacturer>{_e(manufacturer)}</tds:Manufacturer>"
        f"<tds:Model>{_e(dev.model)}</tds:Model>"
        f"<tds:FirmwareVersion>{_e(dev.firmware)}</tds:FirmwareVersion>"
        f"<tds:SerialNumber>{_e(dev.serial)}</tds:SerialNumber>"
        f"<tds:HardwareId>{_e(dev.hardware_id)}</tds:HardwareId>"
        "</tds:GetDeviceInformationResponse>"
    )


def capabilities(base: str, wifi: bool, analytics: bool = False) -> bytes:
    dot11 = "<tt:Extension><tt:Dot11Configuration>true</tt:Dot11Configuration></tt:Extension>"
    analytics_el = (
        f"<tt:Analytics><tt:XAddr>{base}/onvif/analytics_service</tt:XAddr>"
        "<tt:RuleSupport>true</tt:RuleSupport><tt:AnalyticsModuleSupport>true"
        "</tt:AnalyticsModuleSupport></tt:Analytics>"
    )
    return envelope(
        "<tds:GetCapabilitiesResponse><tds:Capabilities>"
        f"{analytics_el if analytics else ''}"
        f"<tt:Device><tt:XAddr>{base}/onvif/device_service</tt:XAddr>"
        "<tt:Network><tt:IPFilter>false</tt:IPFilter><tt:ZeroConfiguration>false"
        "</tt:ZeroConfiguration><tt:IPVersion6>false</tt:IPVersion6><tt:DynDNS>false</tt:DynDNS>"
        f"{dot11 if wifi else ''}</tt:Network>"
        "<tt:System><tt:DiscoveryResolve>false</tt:DiscoveryResolve><tt:DiscoveryBye>true"
        "</tt:DiscoveryBye><tt:RemoteDiscovery>false</tt:RemoteDiscovery><tt:SystemBackup>false"
        "</tt:SystemBackup><tt:SystemLogging>false</tt:SystemLogging><tt:FirmwareUpgrade>true"
        "</tt:FirmwareUpgrade><tt:SupportedVersions><tt:Major>2</tt:Major><tt:Minor>40"
        "</tt:Minor></tt:SupportedVersions></tt:System>"
        "<tt:Security><tt:TLS1.1>false</tt:TLS1.1><tt:TLS1.2>false</tt:TLS1.2>"
        "<tt:OnboardKeyGeneration>false</tt:OnboardKeyGeneration><tt:AccessPolicyConfig>false"
        "</tt:AccessPolicyConfig><tt:X.509Token>false</tt:X.509Token><tt:SAMLToken>false"
        "</tt:SAMLToken><tt:KerberosToken>false</tt:KerberosToken><tt:RELToken>false"
        "</tt:RELToken></tt:Security></tt:Device>"
        f"<tt:Media><tt:XAddr>{base}/onvif/media_service</tt:XAddr>"
        "<tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast>"
        "<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP>"
        "</tt:StreamingCapabilities></tt:Media>"
        "</tds:Capabilities></tds:GetCapabilitiesResponse>"
    )


def services(base: str, media2: str | None = None) -> bytes:
    """GetServices: device and media, plus Media2 at ``media2`` (an XAddr) when given."""
    items = [(DEVICE_NS, f"{base}/onvif/device_service", 2, 40),
             (MEDIA_NS, f"{base}/onvif/media_service", 2, 40)]  # fmt: skip
    if media2:
        items.append(("http://www.onvif.org/ver20/media/wsdl", media2, 2, 40))
    body = "".join(
        f"<tds:Service><tds:Namespace>{ns}</tds:Namespace>"
        f"<tds:XAddr>{xaddr}</tds:XAddr>"
        f"<tds:Version><tt:Major>{major}</tt:Major><tt:Minor>{minor}</tt:Minor></tds:Version>"
        "</tds:Service>"
        for ns, xaddr, major, minor in items
    )
    return envelope(f"<tds:GetServicesResponse>{body}</tds:GetServicesResponse>")


def _interface(token: str, mac: str, iftype: int, ip: str | None, extra: str = "") -> str:
    ipv4 = (
        "<tt:IPv4><tt:Enabled>true</tt:Enabled><tt:Config><tt:Manual>"
        f"<tt:Address>{ip}</tt:Address><tt:PrefixLength>22</tt:PrefixLength></tt:Manual>"
        "<tt:DHCP>false</tt:DHCP></tt:Config></tt:IPv4>"
        if ip
        else ""
    )
    return (
        f'<tds:NetworkInterfaces token="{token}"><tt:Enabled>true</tt:Enabled>'
        f"<tt:Info><tt:Name>{token}</tt:Name><tt:HwAddress>{mac}</tt:HwAddress>"
        "<tt:MTU>1500</tt:MTU></tt:Info>"
        f"{ipv4}<tt:Extension><tt:InterfaceType>{iftype}</tt:InterfaceType>{extra}"
        "</tt:Extension></tds:NetworkInterfaces>"
    )


def network_interfaces(dev: LabDevice, ip: str) -> bytes:
    """Ethernet (ifType 6) always; Wi-Fi (71) and cellular (243) only when *reported*."""
    parts = [_interface("eth0", dev.mac, 6, ip)]
    for radio in dev.radios:
        if not radio.get("reported"):
            continue  # the hidden module: the device does not admit to it
        if radio["kind"] == "wifi":
            ssid = radio["ssid"].encode().hex().upper()
            dot11 = (
                f"<tt:Dot11><tt:SSID>{ssid}</tt:SSID><tt:Mode>managed</tt:Mode>"
                f"<tt:Alias>wlan0</tt:Alias><tt:Priority>1</tt:Priority>"
                "<tt:Security><tt:Mode>PSK</tt:Mode><tt:Algorithm>CCMP</tt:Algorithm>"
                "</tt:Security></tt:Dot11>"
            )
            parts.append(_interface("wlan0", radio["mac"], 71, None, dot11))
        elif radio["kind"] == "cellular":
            parts.append(_interface("wwan0", "00:00:00:00:00:00", 243, None))
    return envelope(
        f"<tds:GetNetworkInterfacesResponse>{''.join(parts)}</tds:GetNetworkInterfacesResponse>"
    )


def scopes(items: list[str]) -> bytes:
    body = "".join(
        f"<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef><tt:ScopeItem>{_e(s)}</tt:ScopeItem>"
        "</tds:Scopes>"
        for s in items
    )
    return envelope(f"<tds:GetScopesResponse>{body}</tds:GetScopesResponse>")


def hostname(name: str) -> bytes:
    return envelope(
        "<tds:GetHostnameResponse><tds:HostnameInformation><tt:FromDHCP>false</tt:FromDHCP>"
        f"<tt:Name>{_e(name)}</tt:Name></tds:HostnameInformation></tds:GetHostnameResponse>"
    )


def dot11(op: str, dev: LabDevice) -> bytes:
    radio = next(r for r in dev.radios if r["kind"] == "wifi" and r["reported"])
    ssid = radio["ssid"].encode().hex().upper()
    if op == "GetDot11Capabilities":
        return envelope(
            "<tds:GetDot11CapabilitiesResponse><tds:Capabilities><tt:TKIP>false</tt:TKIP>"
            "<tt:ScanAvailableNetworks>true</tt:ScanAvailableNetworks><tt:MultipleConfiguration>"
            "false</tt:MultipleConfiguration><tt:AdHocStationMode>false</tt:AdHocStationMode>"
            "<tt:WEP>false</tt:WEP></tds:Capabilities></tds:GetDot11CapabilitiesResponse>"
        )
    if op == "GetDot11Status":
        return envelope(
            f"<tds:GetDot11StatusResponse><tds:Status><tt:SSID>{ssid}</tt:SSID>"
            f"<tt:BSSID>{radio['mac']}</tt:BSSID><tt:PairCipher>CCMP</tt:PairCipher>"
            "<tt:GroupCipher>CCMP</tt:GroupCipher><tt:SignalStrength>Good</tt:SignalStrength>"
            "<tt:ActiveConfigAlias>wlan0</tt:ActiveConfigAlias></tds:Status>"
            "</tds:GetDot11StatusResponse>"
        )
    return envelope(
        "<tds:ScanAvailableDot11NetworksResponse><tds:Networks>"
        f"<tt:SSID>{ssid}</tt:SSID><tt:BSSID>{radio['mac']}</tt:BSSID>"
        "<tt:AuthAndMangementSuite>PSK</tt:AuthAndMangementSuite><tt:PairCipher>CCMP"
        "</tt:PairCipher><tt:GroupCipher>CCMP</tt:GroupCipher><tt:SignalStrength>Good"
        "</tt:SignalStrength></tds:Networks></tds:ScanAvailableDot11NetworksResponse>"
    )


_AUDIO_SOURCE = (
    '<tt:AudioSourceConfiguration token="AudioSourceConfig_1"><tt:Name>AudioSource_1</tt:Name>'
    "<tt:UseCount>2</tt:UseCount><tt:SourceToken>AudioSource_1</tt:SourceToken>"
    "</tt:AudioSourceConfiguration>"
)
_AUDIO_ENCODER = (
    '<tt:AudioEncoderConfiguration token="AudioEncoder_1"><tt:Name>AudioEncoder_1</tt:Name>'
    "<tt:UseCount>2</tt:UseCount><tt:Encoding>G711</tt:Encoding><tt:Bitrate>64</tt:Bitrate>"
    "<tt:SampleRate>8</tt:SampleRate><tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type>"
    "<tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address><tt:Port>0</tt:Port><tt:TTL>0</tt:TTL>"
    "<tt:AutoStart>false</tt:AutoStart></tt:Multicast><tt:SessionTimeout>PT60S"
    "</tt:SessionTimeout></tt:AudioEncoderConfiguration>"
)


def profiles(items: list[dict[str, Any]], audio: bool = False) -> bytes:
    """Media profiles; with ``audio`` each carries an audio source and a G.711 encoder."""
    body = "".join(
        f'<trt:Profiles token="{p["token"]}" fixed="true"><tt:Name>{p["name"]}</tt:Name>'
        '<tt:VideoSourceConfiguration token="VideoSourceConfig_1"><tt:Name>VideoSource_1'
        "</tt:Name><tt:UseCount>2</tt:UseCount><tt:SourceToken>VideoSource_1</tt:SourceToken>"
        '<tt:Bounds x="0" y="0" width="1920" height="1080"/></tt:VideoSourceConfiguration>'
        f"{_AUDIO_SOURCE if audio else ''}"
        f'<tt:VideoEncoderConfiguration token="VideoEncoder_{i + 1}"><tt:Name>VideoEncoder_'
        f"{i + 1}</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>"
        f"<tt:Resolution><tt:Width>{p['width']}</tt:Width><tt:Height>{p['height']}"
        "</tt:Height></tt:Resolution><tt:Quality>5</tt:Quality></tt:VideoEncoderConfiguration>"
        f"{_AUDIO_ENCODER if audio else ''}"
        "</trt:Profiles>"
        for i, p in enumerate(items)
    )
    return envelope(f"<trt:GetProfilesResponse>{body}</trt:GetProfilesResponse>")


def stream_uri(uri: str) -> bytes:
    return envelope(
        f"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{_e(uri)}</tt:Uri>"
        "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false"
        "</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri>"
        "</trt:GetStreamUriResponse>"
    )


def ntp(enabled: bool) -> bytes:
    """GetNTP: the site's NTP server when synchronised, no server when set by hand."""
    manual = (
        f"<tt:NTPManual><tt:Type>IPv4</tt:Type><tt:IPv4Address>{SITE_NTP_IP}</tt:IPv4Address>"
        "</tt:NTPManual>"
        if enabled
        else ""
    )
    return envelope(
        "<tds:GetNTPResponse><tds:NTPInformation><tt:FromDHCP>false</tt:FromDHCP>"
        f"{manual}</tds:NTPInformation></tds:GetNTPResponse>"
    )


def users(items: list[dict[str, Any]]) -> bytes:
    """GetUsers: names and levels only (a camera never returns passwords here)."""
    body = "".join(
        f"<tds:User><tt:Username>{_e(u['username'])}</tt:Username>"
        f"<tt:UserLevel>{_e(u['level'])}</tt:UserLevel></tds:User>"
        for u in items
    )
    return envelope(f"<tds:GetUsersResponse>{body}</tds:GetUsersResponse>")


def _config(tag: str, name: str, kind: str) -> str:
    # Type is an xs:QName: ONVIF rule types carry the tt: prefix, vendor ones a vendor
    # namespace (declared here as "vnd")
    qname = kind if ":" in kind else f"vnd:{kind}"
    return (
        f'<tt:{tag} Name="{_e(name)}" Type="{_e(qname)}"><tt:Parameters>'
        f'<tt:SimpleItem Name="Sensitivity" Value="50"/></tt:Parameters></tt:{tag}>'
    )


def analytics_configurations(kinds: list[str]) -> bytes:
    """GetVideoAnalyticsConfigurations: one configuration holding each rule type."""
    if not kinds:
        return envelope("<trt:GetVideoAnalyticsConfigurationsResponse/>")
    rules = "".join(_config("Rule", f"Rule{i + 1}", k) for i, k in enumerate(kinds))
    module = _config("AnalyticsModule", "Module1", "tt:CellMotionEngine")
    return envelope(
        '<trt:GetVideoAnalyticsConfigurationsResponse xmlns:vnd="http://www.camlab.example/analytics">'
        '<trt:Configurations token="VideoAnalytics_1"><tt:Name>VideoAnalytics_1</tt:Name>'
        "<tt:UseCount>2</tt:UseCount>"
        f"<tt:AnalyticsEngineConfiguration>{module}</tt:AnalyticsEngineConfiguration>"
        f"<tt:RuleEngineConfiguration>{rules}</tt:RuleEngineConfiguration>"
        "</trt:Configurations></trt:GetVideoAnalyticsConfigurationsResponse>"
    )
