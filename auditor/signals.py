"""Turn observations (docs/observations.md) into fingerprintable fields, services, radios.

Everything here reads only the keys documented in ``docs/observations.md`` and tolerates
missing or wrongly typed values: observations come from devices that may misbehave.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from auditor.model import Observation, Radio, Service
from auditor.vendor_api import vendor_api_radios

# Field values are cut here before matching: probes already cap strings at 512 (bodies
# at 2048); this keeps a hostile or future probe from feeding megabytes to the regexes.
MAX_VALUE = 4096

WELL_KNOWN_TCP: dict[int, str] = {
    21: "ftp", 22: "ssh", 23: "telnet", 80: "http", 443: "https", 554: "rtsp",
    1756: "bosch-rcp", 2323: "telnet", 3389: "rdp", 445: "smb", 515: "lpd", 631: "ipp",
    8000: "http-alt", 8080: "http-alt", 8443: "https-alt", 8554: "rtsp", 9000: "media",
    9100: "jetdirect", 34567: "xiongmai-netip", 37777: "dahua-dvrip",
}  # fmt: skip

IF_TYPE_RADIO = {71: "wifi", 243: "cellular", 244: "cellular"}  # IANA ifType


@dataclass(frozen=True)
class Field:
    """One value a fingerprint may read: ``source`` (see fingerprints.SOURCES), the value,
    and ``origin``, the probe and port it came from as cited in evidence (``http:80``)."""

    source: str
    value: str
    origin: str


def origin(obs: Observation) -> str:
    """Return how evidence cites an observation: ``probe:port`` or ``probe``."""
    return f"{obs.probe}:{obs.port}" if obs.port is not None else obs.probe


def _s(value: Any) -> str | None:
    """Return a non-empty stripped string (capped), or None for anything else."""
    if isinstance(value, str):
        v = value.strip()
        return v[:MAX_VALUE] if v else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def device_info(obs: Observation) -> dict[str, str]:
    """Return the ONVIF GetDeviceInformation fields present in an onvif observation."""
    info = _dict(obs.data.get("device_info"))
    out = {}
    for key in ("manufacturer", "model", "firmware", "serial", "hardware_id"):
        v = _s(info.get(key))
        if v:
            out[key] = v
    return out


def fields(obs: Observation) -> Iterator[Field]:
    """Yield every fingerprintable field of one observation."""
    d, where = obs.data, origin(obs)

    def f(source: str, value: Any) -> Iterator[Field]:
        v = _s(value)
        if v is not None:
            yield Field(source, v, where)

    if obs.probe == "http":
        yield from f("http.server", d.get("server"))
        yield from f("http.title", d.get("title"))
        yield from f("http.body", d.get("body_sample"))
        yield from f("http.realm", d.get("realm"))
        for challenge in _list(d.get("www_authenticate")):
            yield from f("http.realm", _realm_of(challenge))
        for name, value in list(_dict(d.get("headers")).items())[:40]:
            yield from f("http.header", f"{str(name).lower()}: {value}")
        bogus = d.get("bogus_path_status")
        for path, status in list(_dict(d.get("paths")).items())[:40]:
            if bogus is not None and status == bogus:
                continue  # the device answers a made-up path the same way: proves nothing
            yield from f("http.path", f"{path} {status}")
        tls = _dict(d.get("tls"))
        yield from f("tls.subject", tls.get("subject"))
        yield from f("tls.issuer", tls.get("issuer"))
    elif obs.probe == "rtsp":
        yield from f("rtsp.server", d.get("server"))
        yield from f("rtsp.realm", d.get("realm"))
        yield from f("rtsp.sdp", d.get("sdp"))
    elif obs.probe == "onvif":
        info = device_info(obs)
        for key in ("manufacturer", "model", "firmware", "hardware_id"):
            yield from f(f"onvif.{key}", info.get(key))
        for scope in _list(d.get("scopes")):
            yield from f("onvif.scopes", scope)
    elif obs.probe == "wsdiscovery":
        for t in _list(d.get("types")):
            yield from f("wsd.types", t)
        for scope in _list(d.get("scopes")):
            yield from f("wsd.scopes", scope)
    elif obs.probe == "vendor_port":
        yield from f("vendor_port.service", d.get("service"))
        for name, value in list(_dict(d.get("fields")).items())[:20]:
            yield from f("vendor_port.field", f"{name}={value}")
        if obs.port is not None:
            yield from f("port.open", obs.port)
    elif obs.probe == "portscan":
        for port in _list(d.get("tcp_open"))[:1000]:
            yield from f("port.open", port)


def _realm_of(challenge: Any) -> str | None:
    """Return the realm quoted in a WWW-Authenticate challenge string, if any."""
    if not isinstance(challenge, str):
        return None
    lower = challenge.lower()
    i = lower.find('realm="')
    if i < 0:
        return None
    start = i + len('realm="')
    end = challenge.find('"', start)
    return challenge[start:end] if end > start else None


def _http_auth(d: dict[str, Any]) -> str | None:
    schemes = [str(s).lower() for s in _list(d.get("auth_schemes"))]
    if "basic" in schemes:
        return "basic"  # the weakest offered is what an attacker gets
    if "digest" in schemes:
        return "digest"
    if schemes:
        return schemes[0]
    status = d.get("status")
    if isinstance(status, int) and 200 <= status < 300:
        return "none"
    return None


def services(observations: list[Observation]) -> list[Service]:
    """Return the services seen on one host, one per (port, proto, name), sorted by port.

    Port-scan results give generic names that HTTP/RTSP/vendor-port observations refine;
    ONVIF shares its port with HTTP and is listed as its own entry. ``verified_stream``
    is True only when RTP arrived or a frame decoded: a 200 to DESCRIBE proves nothing.
    """
    by_key: dict[tuple[int, str], Service] = {}
    extra: list[Service] = []

    def put(svc: Service) -> None:
        by_key[(svc.port, svc.proto)] = svc

    for obs in observations:
        if obs.probe == "portscan":
            for port in _list(obs.data.get("tcp_open")):
                if isinstance(port, int) and (port, "tcp") not in by_key:
                    put(Service(port, "tcp", WELL_KNOWN_TCP.get(port, "unknown")))
        elif obs.probe == "wsdiscovery" and (3702, "udp") not in by_key:
            put(Service(3702, "udp", "ws-discovery"))
    for obs in observations:
        d = obs.data
        if obs.port is None:
            continue
        if obs.probe == "http":
            scheme = _s(d.get("scheme")) or "http"
            put(Service(obs.port, "tcp", scheme, _s(d.get("server")), None, _http_auth(d)))
        elif obs.probe == "rtsp":
            proven = d.get("rtp_received") is True or d.get("frame_decoded") is True
            auth = _s(d.get("auth"))
            put(Service(obs.port, "tcp", "rtsp", _s(d.get("server")), proven, auth))
        elif obs.probe == "vendor_port":
            proto = _s(d.get("proto")) or "tcp"
            name = _s(d.get("service")) or "unknown"
            flds = _dict(d.get("fields"))
            banner = ", ".join(f"{k}={v}" for k, v in list(flds.items())[:6]) or None
            put(Service(obs.port, proto, name, banner))
    for obs in observations:
        if obs.probe == "onvif" and obs.port is not None:
            info = device_info(obs)
            banner = " ".join(v for v in (info.get("manufacturer"), info.get("model")) if v)
            svc = Service(obs.port, "tcp", "onvif", banner or None, None, _s(obs.data.get("auth")))
            if (obs.port, "tcp") in by_key and by_key[(obs.port, "tcp")].name != "onvif":
                extra.append(svc)
            else:
                put(svc)
    out = list(by_key.values()) + extra
    out.sort(key=lambda s: (s.port, s.proto, s.name))
    return out


def radios(observations: list[Observation]) -> list[Radio]:
    """Return radios an ONVIF device reported: Wi-Fi/cellular interfaces, Dot11 support,
    then those only a vendor API (``vendor_api`` observations) listed."""
    out: list[Radio] = []
    seen: set[tuple[str, str | None]] = set()
    for obs in observations:
        if obs.probe != "onvif":
            continue
        for iface in _list(obs.data.get("interfaces")):
            iface = _dict(iface)
            if_type = iface.get("if_type")
            kind = IF_TYPE_RADIO.get(if_type) if isinstance(if_type, int) else None
            if kind is None:
                continue
            mac = _s(iface.get("mac"))
            if (kind, mac) in seen:
                continue
            seen.add((kind, mac))
            name = _s(iface.get("name")) or _s(iface.get("token")) or "?"
            state = "enabled" if iface.get("enabled") is True else "disabled or unknown"
            detail = f"interface {name} ifType {iface.get('if_type')} ({state})"
            out.append(Radio(kind, mac, "onvif-interfaces", detail))
        if _dict(obs.data.get("capabilities")).get("dot11") is True and not any(
            r.kind == "wifi" for r in out
        ):
            seen.add(("wifi", None))
            out.append(Radio("wifi", None, "onvif-dot11", "device reports Dot11 capability"))
    # the vendor's own API (opt-in, credentials) lists radios ONVIF may leave out
    return out + vendor_api_radios(observations, out)
