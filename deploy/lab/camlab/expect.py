"""Which audit findings each lab device should produce: the lab's own ground truth.

Derived only from what the device is configured to expose (its profile, features,
quirks, radios and the advisories its profile names), never from camaudit's code: the
lab does not import the scanner, so a bug in a rule and the same bug here cannot hide
each other. ``LabDevice.truth()`` carries the result as ``expected_rules`` (what
``camaudit scan`` with the operator's credentials -- the lab password -- should report)
and ``expected_rules_optin`` (what only ``--check-default-creds`` adds).

What an operator "can read" matters: a camera left on its vendor default password
refuses the operator's password, so nothing behind ONVIF authentication (model,
firmware, interfaces, profiles) is visible, unless the camera answers ONVIF without
authentication anyway. Rules that need a traffic capture, an over-the-air capture or a
site policy are not expected from a scan and are left out (see :data:`SCAN_RULES`).
"""

from __future__ import annotations

from .spec import LabDevice

# Companies named in NDAA FY2019 section 889 (video surveillance and telecoms).
NDAA_889 = frozenset({"hikvision", "dahua", "huawei", "zte", "hytera"})
CLOCK_SKEW_LIMIT_S = 300.0  # five minutes: the audit's threshold for a wrong clock
TELNET_PORTS = (23, 2323)
#: every rule a network scan alone (no capture, no policy) can produce
SCAN_RULES = (
    "CAM-CLOCK-NO-NTP", "CAM-CLOCK-SKEW", "CAM-DEV-MISBEHAVING", "CAM-EXP-BASIC-OVER-HTTP",
    "CAM-EXP-FTP", "CAM-EXP-HTTP-CLEARTEXT", "CAM-EXP-ONVIF-ANON", "CAM-EXP-ONVIF-USERS",
    "CAM-EXP-RTSP-ANYPATH", "CAM-EXP-RTSP-NOAUTH", "CAM-EXP-SSH", "CAM-EXP-TELNET",
    "CAM-EXP-UPNP", "CAM-ID-LABEL-MISMATCH", "CAM-ID-OEM-REBRAND", "CAM-POL-NDAA-889",
    "CAM-PRIV-ANALYTICS",
    "CAM-PRIV-AUDIO", "CAM-PRIV-CLOUD-PLATFORM", "CAM-PRIV-REMOTE-STORAGE",
    "CAM-PRIV-NO-MASKS", "CAM-RADIO-CELLULAR", "CAM-RADIO-WIFI-IFACE",
    "CAM-RADIO-ONVIF-OMITS", "CAM-RADIO-OWN-AP",
    "CAM-VULN-CVE", "CAM-VULN-KEV",
)  # fmt: skip
OPTIN_RULES = ("CAM-EXP-DEFAULT-CREDS",)


def _tcp_ports(dev: LabDevice) -> set[int]:
    return {int(s["port"]) for s in dev.services() if s["proto"] == "tcp"}


def onvif_readable(dev: LabDevice) -> bool:
    """Whether the operator (with the lab password) can read ONVIF beyond the clock."""
    onvif = dev.onvif or {}
    return bool(dev.onvif) and (not dev.default_password or onvif.get("auth") == "anonymous")


def expected_rules(dev: LabDevice) -> list[str]:
    """Return the sorted rule ids a scan with the operator's credentials should report."""
    out: set[str] = set()
    camera = dev.kind == "camera"
    onvif = dev.onvif or {}
    rtsp = dev.rtsp or {}
    readable = onvif_readable(dev)
    ports = _tcp_ports(dev)
    # clear-text admin and passwords
    if camera and dev.http:
        out.add("CAM-EXP-HTTP-CLEARTEXT")  # no lab camera serves its admin page over TLS
    if (dev.http.get("auth") == "basic" and dev.http.get("root_auth")) or rtsp.get(
        "auth"
    ) == "basic":
        out.add("CAM-EXP-BASIC-OVER-HTTP")
    if ports & set(TELNET_PORTS):
        out.add("CAM-EXP-TELNET")
    if 21 in ports:
        out.add("CAM-EXP-FTP")
    if 22 in ports and camera:
        out.add("CAM-EXP-SSH")
    if camera and dev.http.get("ssdp"):
        out.add("CAM-EXP-UPNP")  # SSDP answers anyone, no credentials involved
    # RTSP: a lying server is seen (and times out on the frame check) wherever DESCRIBE
    # succeeds: without auth, or with the operator's password
    rtsp_in = rtsp.get("auth", "none") == "none" or not dev.default_password
    if "rtsp_any_path_200" in dev.quirks and rtsp and rtsp_in:
        out |= {"CAM-EXP-RTSP-ANYPATH", "CAM-DEV-MISBEHAVING"}
    elif rtsp and rtsp.get("auth", "none") == "none" and (readable or rtsp.get("documented_path")):
        # the path comes from ONVIF GetStreamUri, or it is the vendor's published default
        out.add("CAM-EXP-RTSP-NOAUTH")
    # ONVIF
    if dev.onvif and onvif.get("auth") == "anonymous":
        out.add("CAM-EXP-ONVIF-ANON")
        if onvif.get("users_anonymous"):
            out.add("CAM-EXP-ONVIF-USERS")
    if readable and onvif.get("audio"):
        out.add("CAM-PRIV-AUDIO")
    if readable and onvif.get("analytics"):
        out.add("CAM-PRIV-ANALYTICS")
    masks = onvif.get("masks") or []
    if readable and onvif.get("media2") and not any(m.get("enabled") for m in masks):
        out.add("CAM-PRIV-NO-MASKS")  # Media2 GetMasks lists no enabled mask
    if dev.onvif and onvif.get("ntp") is False:
        out.add("CAM-CLOCK-NO-NTP")  # GetSystemDateAndTime needs no credentials
    if dev.onvif and abs(dev.clock_skew_s) > CLOCK_SKEW_LIMIT_S:
        out.add("CAM-CLOCK-SKEW")
    for radio in dev.radios if readable else []:
        if radio.get("reported"):
            out.add("CAM-RADIO-WIFI-IFACE" if radio["kind"] == "wifi" else "CAM-RADIO-CELLULAR")
    out |= _vendor_api_rules(dev, readable)
    # identity, law, vulnerabilities
    if camera and dev.vendor.lower() not in (dev.oem.lower(), "generic"):
        out.add("CAM-ID-OEM-REBRAND")
    if camera and dev.counterfeit:
        # another maker's brand on this board; the brand strings (WS-Discovery name
        # scope, ONVIF Manufacturer) and the board's own banners and ports need no login
        out.add("CAM-ID-LABEL-MISMATCH")
    if camera and (dev.oem.lower() in NDAA_889 or dev.vendor.lower() in NDAA_889):
        out.add("CAM-POL-NDAA-889")
    if readable:  # the firmware version is only known to who can read it
        for adv in dev.advisories:
            out.add("CAM-VULN-KEV" if adv["kev"] else "CAM-VULN-CVE")
    return sorted(out)


def vendor_api_readable(dev: LabDevice) -> bool:
    """Whether the operator's password opens the camera's vendor API (ISAPI, Dahua CGI):
    a Hikvision or Dahua board, not left on its default, asking for HTTP Digest (a
    scanner does not send a Basic password over plain HTTP)."""
    from .services.vendorapi import api_of

    return (
        api_of(dev) is not None
        and not dev.default_password
        and dev.http.get("auth", "none") != "basic"
    )


def _vendor_api_rules(dev: LabDevice, onvif_ok: bool) -> set[str]:
    """What the vendor API adds (camlab.services.vendorapi): it lists the Wi-Fi
    interface, hidden from ONVIF or not, and the camera's own network (ISAPI
    wirelessServer, Dahua LinkMode Ad-hoc); ISAPI lists a cellular modem (WirelessDial);
    both say whether the vendor cloud platform is on and whether footage is uploaded."""
    from .services.vendorapi import api_of

    out: set[str] = set()
    if not vendor_api_readable(dev):
        return out
    if dev.http.get("cloud_platform"):
        out.add("CAM-PRIV-CLOUD-PLATFORM")  # ISAPI EZVIZ enabled / Dahua T2UServer.Enable
    if dev.http.get("remote_storage"):
        out.add("CAM-PRIV-REMOTE-STORAGE")  # ISAPI ftp enabled / Dahua FTP storage point
    cell = next((r for r in dev.radios if r.get("kind") == "cellular"), None)
    if cell is not None and api_of(dev) == "isapi":
        out.add("CAM-RADIO-CELLULAR")  # WirelessDial/Interfaces/1/dial answers
        if onvif_ok and not cell.get("reported"):
            out.add("CAM-RADIO-ONVIF-OMITS")
    wifi = next((r for r in dev.radios if r.get("kind") == "wifi"), None)
    if wifi is None:
        return out
    out.add("CAM-RADIO-WIFI-IFACE")
    if onvif_ok and not wifi.get("reported"):
        out.add("CAM-RADIO-ONVIF-OMITS")  # ONVIF answered the operator without it
    if wifi.get("air_mode") in ("ap", "ap-hidden"):
        out.add("CAM-RADIO-OWN-AP")  # ISAPI wirelessServer wifiApEnabled, Dahua Ad-hoc
    return out


def expected_rules_optin(dev: LabDevice) -> list[str]:
    """Rules only ``--check-default-creds`` adds: the camera kept its vendor default and
    an interface the check uses (ONVIF, HTTP) asks for a password at all (a camera that
    answers everything anonymously gives the check nothing to log in to)."""
    asks = (dev.onvif or {}).get("auth") == "required" or dev.http.get("auth", "none") != "none"
    kept = dev.default_password and dev.kind == "camera"
    return ["CAM-EXP-DEFAULT-CREDS"] if kept and asks else []
