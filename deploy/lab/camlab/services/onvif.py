"""ONVIF device and media services (SOAP 1.2 over HTTP) for one simulated device.

Requests are parsed with defusedxml (entity and DTD tricks are refused). WS-Security
UsernameToken is checked like a camera does: PasswordDigest =
Base64(SHA1(nonce + created + password)), and ``Created`` must lie within
``AUTH_WINDOW_S`` of the *device's* clock, so a client that ignores the camera's clock
skew fails exactly as it would on a real camera.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import secrets
from datetime import datetime
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from . import onvif_media2 as M2
from . import onvif_xml as X
from .common import DeviceContext

log = logging.getLogger(__name__)

AUTH_WINDOW_S = 300
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
SOAP_ENV = "http://www.w3.org/2003/05/soap-envelope"
# ONVIF Core "access classes": PRE_AUTH operations need no credentials.
PRE_AUTH = frozenset({"GetSystemDateAndTime", "GetCapabilities", "GetServices",
                      "GetServiceCapabilities", "GetWsdlUrl", "GetHostname",
                      "GetEndpointReference"})  # fmt: skip
DEVICE_OPS = frozenset({
    "GetSystemDateAndTime", "GetDeviceInformation", "GetCapabilities", "GetServices",
    "GetNetworkInterfaces", "GetScopes", "GetHostname", "GetDot11Capabilities",
    "GetDot11Status", "ScanAvailableDot11Networks", "GetUsers", "GetNTP",
})  # fmt: skip
MEDIA_OPS = frozenset({"GetProfiles", "GetStreamUri", "GetVideoAnalyticsConfigurations"})
# ONVIF Core access class READ_SYSTEM_SECRET: a device that lets anyone read its
# configuration may still want credentials for its user list.
SECRET_OPS = frozenset({"GetUsers"})


class OnvifService:
    def __init__(self, ctx: DeviceContext) -> None:
        self.ctx = ctx
        self.dev = ctx.device
        onvif = self.dev.onvif or {}
        self.auth_required = onvif.get("auth", "required") == "required"
        self.users_anonymous = bool(onvif.get("users_anonymous"))
        self.digest_only = "digest_only" in self.dev.quirks
        self.wifi_reported = any(r["kind"] == "wifi" and r["reported"] for r in self.dev.radios)

    def handle(self, path: str, body: bytes) -> tuple[int, bytes]:
        """Answer one SOAP request: (HTTP status, SOAP envelope bytes)."""
        try:
            root = fromstring(body)
        except (ParseError, DefusedXmlException) as exc:
            return X.fault(400, "env:Sender", "ter:WellFormed", f"malformed request: {exc}")
        body_el = root.find(f"{{{SOAP_ENV}}}Body")
        if body_el is None or len(body_el) == 0:
            return X.fault(400, "env:Sender", "ter:WellFormed", "no SOAP Body")
        op_el = body_el[0]
        op = op_el.tag.rpartition("}")[2]
        service = "media" if "media" in path.lower() else "device"
        known = MEDIA_OPS if service == "media" else DEVICE_OPS
        if M2.MEDIA2_PATH in path.lower():  # Media2 only where the device has it
            known = M2.MEDIA2_OPS if (self.dev.onvif or {}).get("media2") else frozenset()
        if op not in known:
            return X.fault(500, "env:Receiver", "ter:ActionNotSupported",
                           f"{op} is not supported")  # fmt: skip
        if self.auth_required and op not in PRE_AUTH and not self.authenticated(root):
            return X.fault(400, "env:Sender", "ter:NotAuthorized", "Sender not Authorized")
        if op in SECRET_OPS and not self.users_anonymous and not self.authenticated(root):
            return X.fault(400, "env:Sender", "ter:NotAuthorized", "Sender not Authorized")
        return self.answer(op, op_el)

    def authenticated(self, root: Element) -> bool:
        token = root.find(f".//{{{WSSE}}}UsernameToken")
        if token is None:
            return False
        user = token.findtext(f"{{{WSSE}}}Username", "")
        pw_el = token.find(f"{{{WSSE}}}Password")
        if user != self.dev.username or pw_el is None:
            return False
        password = pw_el.text or ""
        if pw_el.get("Type", "").endswith("#PasswordText"):
            return not self.digest_only and secrets.compare_digest(password, self.dev.password)
        created = token.findtext(f"{{{WSU}}}Created", "")
        nonce_b64 = token.findtext(f"{{{WSSE}}}Nonce", "")
        when = _parse_time(created)
        if when is None or abs((when - self.ctx.now()).total_seconds()) > AUTH_WINDOW_S:
            return False  # stale or from a clock that disagrees with the camera's
        try:
            nonce = base64.b64decode(nonce_b64, validate=True)
        except binascii.Error:
            return False
        digest = hashlib.sha1(nonce + created.encode() + self.dev.password.encode(),
                              usedforsecurity=False).digest()  # fmt: skip
        return secrets.compare_digest(base64.b64encode(digest).decode(), password.strip())

    def answer(self, op: str, op_el: Element) -> tuple[int, bytes]:
        dev, ip = self.dev, self.ctx.ip
        port = int((dev.onvif or {}).get("port", 80))
        base = f"http://{ip}:{port}" if port != 80 else f"http://{ip}"
        onvif = dev.onvif or {}
        if op == "GetSystemDateAndTime":
            return 200, X.system_date_and_time(self.ctx.now(), ntp=onvif.get("ntp", True))
        if op == "GetNTP":
            return 200, X.ntp(onvif.get("ntp", True))
        if op == "GetUsers":
            return 200, X.users(onvif.get("users", []))
        if op == "GetVideoAnalyticsConfigurations":
            return 200, X.analytics_configurations(onvif.get("analytics", []))
        if op == "GetDeviceInformation":
            return 200, X.device_information(dev)
        if op == "GetCapabilities":
            return 200, X.capabilities(base, self.wifi_reported, bool(onvif.get("analytics")))
        if op == "GetServices":
            media2 = f"{base}/onvif/{M2.MEDIA2_PATH}" if onvif.get("media2") else None
            return 200, X.services(base, media2)
        if op == "GetMasks":
            return 200, M2.masks(onvif.get("masks") or [])
        if op == "GetNetworkInterfaces":
            return 200, X.network_interfaces(dev, ip)
        if op == "GetScopes":
            return 200, X.scopes((dev.wsdiscovery or {}).get("scopes", []))
        if op == "GetHostname":
            return 200, X.hostname(dev.name)
        if op in ("GetDot11Capabilities", "GetDot11Status", "ScanAvailableDot11Networks"):
            if not self.wifi_reported:
                return X.fault(500, "env:Receiver", "ter:ActionNotSupported",
                               "no IEEE 802.11 interface")  # fmt: skip
            return 200, X.dot11(op, dev)
        if op == "GetProfiles":
            return 200, X.profiles(onvif.get("profiles", []), audio=bool(onvif.get("audio")))
        # GetStreamUri
        token = next((el.text for el in op_el.iter() if el.tag.endswith("ProfileToken")), "")
        profiles = (dev.onvif or {}).get("profiles", [])
        chosen = next(
            (p for p in profiles if p["token"] == token), profiles[0] if profiles else None
        )
        rtsp_port = int((dev.rtsp or {}).get("port", 554))
        path = chosen["path"] if chosen else "/"
        return 200, X.stream_uri(f"rtsp://{ip}:{rtsp_port}{path}")


def _parse_time(text: str) -> datetime | None:
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else None
