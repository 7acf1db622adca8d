"""Build observations the way probes report them (docs/observations.md), for unit tests.

Each helper returns one :class:`Observation` with the documented keys filled with
realistic values; keyword arguments override any key of ``data``.
"""

from __future__ import annotations

from typing import Any

from auditor.model import Observation

T0 = 1_700_000_000.0


def arp(ip: str, mac: str) -> Observation:
    return Observation("arp", ip, {"method": "arp"}, mac=mac, at=T0)


def portscan(ip: str, *ports: int) -> Observation:
    return Observation(
        "portscan", ip, {"tcp_open": list(ports), "scanned": 30, "rtt_ms": 0.4}, at=T0
    )


def http(ip: str, port: int = 80, **data: Any) -> Observation:
    d: dict[str, Any] = {
        "scheme": "http",
        "status": 200,
        "server": None,
        "title": None,
        "www_authenticate": [],
        "realm": None,
        "auth_schemes": [],
        "headers": {},
        "body_sample": "",
        "tls": None,
        "paths": {},
    }
    d.update(data)
    return Observation("http", ip, d, port=port, at=T0)


def rtsp(ip: str, port: int = 554, **data: Any) -> Observation:
    d: dict[str, Any] = {
        "server": None,
        "public": ["OPTIONS", "DESCRIBE", "SETUP", "PLAY", "TEARDOWN"],
        "path": "/",
        "describe_status": 401,
        "auth": "digest",
        "realm": None,
        "sdp": None,
        "media": [],
        "rtp_received": False,
        "rtp_packets": 0,
        "frame_decoded": None,
        "frame_sha256": None,
        "frame_size": None,
        "bogus_path_status": 401,
    }
    d.update(data)
    return Observation("rtsp", ip, d, port=port, at=T0)


def onvif(
    ip: str,
    port: int = 80,
    *,
    manufacturer: str | None = None,
    model: str | None = None,
    firmware: str | None = None,
    serial: str | None = None,
    hardware_id: str | None = None,
    **data: Any,
) -> Observation:
    info = None
    if manufacturer or model:
        info = {
            "manufacturer": manufacturer,
            "model": model,
            "firmware": firmware,
            "serial": serial,
            "hardware_id": hardware_id,
        }
    d: dict[str, Any] = {
        "xaddr": f"http://{ip}:{port}/onvif/device_service",
        "clock_offset_s": 0.4,
        "auth": "digest",
        "device_info": info,
        "capabilities": {"media": True, "ptz": False, "dot11": False, "analytics": True},
        "services": [
            "http://www.onvif.org/ver10/device/wsdl",
            "http://www.onvif.org/ver10/media/wsdl",
        ],
        "interfaces": [
            {"token": "eth0", "name": "eth0", "mac": None, "if_type": 6, "enabled": True}
        ],
        "scopes": ["onvif://www.onvif.org/type/video_encoder"],
        "profiles": [
            {"token": "Profile_1", "name": "main", "video_encoding": "H264", "audio": False}
        ],
        "stream_uris": [f"rtsp://{ip}:554/stream1"],
        "calls": {"GetDeviceInformation": "ok"},
    }
    d.update(data)
    return Observation("onvif", ip, d, port=port, at=T0)


def wsd(ip: str, *types: str, scopes: list[str] | None = None, **data: Any) -> Observation:
    d: dict[str, Any] = {
        "endpoint": "urn:uuid:3fa85f64-5717-4562-b3fc-2c963f66afa6",
        "types": list(types) or ["dn:NetworkVideoTransmitter", "tds:Device"],
        "scopes": scopes if scopes is not None else [],
        "xaddrs": [f"http://{ip}/onvif/device_service"],
        "metadata_version": 1,
        "via": "multicast",
        "probe_types": ["dn:NetworkVideoTransmitter"],
    }
    d.update(data)
    return Observation("wsdiscovery", ip, d, port=3702, at=T0)


def vendor_port(ip: str, port: int, service: str, proto: str = "tcp", **fields: Any) -> Observation:
    d = {"proto": proto, "service": service, "banner_hex": None, "fields": fields}
    return Observation("vendor_port", ip, d, port=port, at=T0)
