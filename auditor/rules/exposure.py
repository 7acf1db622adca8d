"""Exposure rules: services that hand out video, control or credentials too easily."""

from __future__ import annotations

from auditor.model import Device, Evidence, Severity
from auditor.rules.facts import CAMERA_LIKE, cite, observations, open_tcp_ports
from auditor.rules.registry import Hit, rule


@rule(
    "CAM-EXP-RTSP-NOAUTH",
    severity=Severity.HIGH,
    title="Video stream available without authentication",
    rationale="""RTSP answered DESCRIBE without asking for credentials and media actually
    flowed (RTP received or a frame decoded): anyone on the network can watch.""",
    remediation="""Require digest authentication for RTSP on the device (and the NVR);
    restrict RTSP to the recorder's address with an ACL or VLAN rule.""",
)
def rtsp_noauth(dev: Device) -> Hit | None:
    proven, unproven = [], []
    for obs in observations(dev, "rtsp"):
        d = obs.data
        if d.get("auth") != "none" or d.get("describe_status") != 200:
            continue
        path = d.get("path")
        if d.get("rtp_received") is True or d.get("frame_decoded") is True:
            proven.append(cite(obs, f"DESCRIBE {path} without auth; RTP received", path))
        elif d.get("bogus_path_status") != 200:
            unproven.append(cite(obs, f"DESCRIBE {path} answered 200 without auth", path))
    if proven:
        return Hit(proven)
    if unproven:
        return Hit(
            unproven,
            title="RTSP answers DESCRIBE without authentication (no media proven)",
            severity=Severity.MEDIUM,
        )
    return None


@rule(
    "CAM-EXP-RTSP-ANYPATH",
    severity=Severity.LOW,
    title="RTSP says yes to any path",
    rationale="""The device answered 200 to DESCRIBE of a random path. Scanners that trust a
    200 report streams that do not exist; camaudit only reports a stream when media
    arrives. The behaviour also hides which paths are real.""",
    remediation="""Treat stream reports from other tools with care for this device; update
    the firmware if the vendor fixed path validation.""",
)
def rtsp_anypath(dev: Device) -> Hit | None:
    ev = [
        cite(o, "DESCRIBE of a random path answered 200", o.data.get("bogus_path_status"))
        for o in observations(dev, "rtsp")
        if o.data.get("bogus_path_status") == 200
    ]
    return Hit(ev) if ev else None


@rule(
    "CAM-EXP-ONVIF-ANON",
    severity=Severity.HIGH,
    title="ONVIF answers without authentication",
    rationale="""ONVIF device calls worked without credentials. ONVIF can read the device's
    configuration and stream addresses and, on many firmwares, change them.""",
    remediation="""Enable ONVIF user authentication (WS-UsernameToken digest) on the
    device, or disable ONVIF if the recorder does not need it.""",
)
def onvif_anon(dev: Device) -> Hit | None:
    ev = []
    for obs in observations(dev, "onvif"):
        if obs.data.get("auth") != "none":
            continue
        calls = obs.data.get("calls") if isinstance(obs.data.get("calls"), dict) else {}
        ok = sorted(k for k, v in (calls or {}).items() if v == "ok")
        ev.append(cite(obs, "ONVIF calls answered without credentials", ", ".join(ok) or None))
    return Hit(ev) if ev else None


@rule(
    "CAM-EXP-HTTP-CLEARTEXT",
    severity=Severity.MEDIUM,
    title="Management page over cleartext HTTP",
    rationale="""The device's web interface is served over plain HTTP. Session cookies and
    anything typed into the page cross the network unencrypted.""",
    remediation="""Enable HTTPS on the device and disable plain HTTP (or redirect it to
    HTTPS); use a certificate from the city's internal CA.""",
)
def http_cleartext(dev: Device) -> Hit | None:
    if dev.device_type not in (*CAMERA_LIKE, "unknown"):
        return None  # printers and switches have their own audits; keep this report on cameras
    ev = []
    for obs in observations(dev, "http"):
        d = obs.data
        status = d.get("status")
        if d.get("scheme") != "http" or not isinstance(status, int):
            continue
        headers = d.get("headers") if isinstance(d.get("headers"), dict) else {}
        location = str((headers or {}).get("location", ""))
        if 300 <= status < 400 and location.lower().startswith("https://"):
            continue  # redirects to HTTPS: the page itself is not served in clear
        if status < 500:
            ev.append(cite(obs, f"HTTP {status} served without TLS", d.get("server")))
    return Hit(ev) if ev else None


@rule(
    "CAM-EXP-BASIC-OVER-HTTP",
    severity=Severity.HIGH,
    title="Password sent in clear (Basic auth without TLS)",
    rationale="""The device asks for HTTP Basic authentication over an unencrypted
    connection (HTTP or RTSP): the password crosses the network base64-encoded, readable
    by anyone who can see the traffic.""",
    remediation="""Switch the device to digest authentication and HTTPS; change the
    password, which must be presumed exposed.""",
)
def basic_over_http(dev: Device) -> Hit | None:
    ev = []
    for obs in observations(dev, "http"):
        schemes = obs.data.get("auth_schemes")
        if obs.data.get("scheme") == "http" and isinstance(schemes, list) and "basic" in schemes:
            ev.append(cite(obs, "HTTP Basic challenge over plain HTTP", obs.data.get("realm")))
    for obs in observations(dev, "rtsp"):
        if obs.data.get("auth") == "basic":
            ev.append(cite(obs, "RTSP Basic challenge (RTSP is cleartext)", obs.data.get("realm")))
    return Hit(ev) if ev else None


@rule(
    "CAM-EXP-TELNET",
    severity=Severity.HIGH,
    title="Telnet open",
    rationale="""Telnet gives a shell with a cleartext password; on many cameras it is a
    debug login with a firmware-wide default password (the Mirai botnet's way in).""",
    remediation="""Disable telnet in the device settings or firmware; if it cannot be
    disabled, block TCP 23/2323 to the device and ask the vendor for a fix.""",
)
def telnet(dev: Device) -> Hit | None:
    ports = open_tcp_ports(dev)
    ev = [
        Evidence(src, f"TCP {p} (telnet) open", str(p))
        for p, src in ports.items()
        if p in (23, 2323)
    ]
    return Hit(ev) if ev else None


@rule(
    "CAM-EXP-FTP",
    severity=Severity.MEDIUM,
    title="FTP open",
    rationale="""FTP sends credentials and files (recordings, snapshots, configuration
    backups) in clear.""",
    remediation="""Disable the FTP server on the device; if recordings must be pushed, use
    SFTP or the recorder's authenticated protocol.""",
)
def ftp(dev: Device) -> Hit | None:
    ports = open_tcp_ports(dev)
    ev = [Evidence(src, "TCP 21 (ftp) open", "21") for p, src in ports.items() if p == 21]
    return Hit(ev) if ev else None
