"""ONVIF Media2 ``GetMasks``: which privacy masks a camera has defined (issue 7).

Media2 (namespace ``http://www.onvif.org/ver20/media/wsdl``, ONVIF Media2 Service
Specification) is where ONVIF puts privacy masks: ``tr2:GetMasks`` (optional ``Token``
and ``ConfigurationToken`` filters; none = every mask) answers with ``tr2:Masks``
elements of type ``tr2:Mask``: attribute ``token``, then ``ConfigurationToken`` (the
video source configuration it covers), ``Polygon`` (``tt:Point`` x/y), ``Type``
(``Color``, ``Pixelated`` or ``Blurred``), optional ``Color`` and ``Enabled``.

onvif-zeep-async ships no Media2 WSDL, so this one call is built by hand: the same
aiohttp session, the same WS-Security UsernameToken (zeep's, with the camera clock
offset) and the same capped transport as every other ONVIF call of the probe; the reply
is parsed with zeep's hardened parser settings (no DTD, no entities, nothing external,
lxml limits on). No zeep or lxml type leaves this module.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from lxml import etree
from onvif.client import UsernameDigestTokenDtDiff
from zeep.exceptions import Error as ZeepError
from zeep.loader import parse_xml

from probes.onvif_soap import (
    AUTH_WORDS,
    CALL_ERRORS,
    DEVICE_SETTINGS,
    UNSUPPORTED_WORDS,
    CappedTransport,
    DeviceClients,
    classify,
    clip,
)

MEDIA2_NS = "http://www.onvif.org/ver20/media/wsdl"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
TT = "http://www.onvif.org/ver10/schema"
MAX_MASKS = 64
MASK_TYPES = ("Color", "Pixelated", "Blurred")  # tr2:MaskType in the Media2 spec


def _request(credentials: tuple[str, str] | None, dt_diff: dt.timedelta | None) -> bytes:
    env = etree.Element(f"{{{SOAP12}}}Envelope", nsmap={"env": SOAP12, "tr2": MEDIA2_NS})
    etree.SubElement(env, f"{{{SOAP12}}}Header")
    body = etree.SubElement(env, f"{{{SOAP12}}}Body")
    etree.SubElement(body, f"{{{MEDIA2_NS}}}GetMasks")  # no filter: every mask
    if credentials is not None:
        # The same PasswordDigest over a Created time on the camera's clock as the rest
        # of the probe (onvif_soap.DeviceClients), or skewed cameras refuse it.
        token = UsernameDigestTokenDtDiff(*credentials, dt_diff=dt_diff, use_digest=True)
        env, _ = token.apply(env, {})
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


def _text(el: Any, path: str) -> str | None:
    found = el.find(path, {"tr2": MEDIA2_NS, "tt": TT})
    if found is None or found.text is None:
        return None
    return clip(found.text.strip(), 128)


def parse_masks_reply(content: bytes) -> tuple[str, list[dict[str, Any]] | None]:
    """Return (outcome, masks) for a GetMasks reply body.

    Outcome is ``"ok"`` with the masks (``[{token, configuration_token, type, enabled,
    points}]``, ``enabled`` None when the element is missing), or ``"auth"``, ``"not
    supported"``, or a short error text with None. Raises nothing: malformed XML, a DTD
    or entities are reported as the outcome.
    """
    try:
        # bytes, not str: lxml refuses a str carrying an encoding declaration (zeep's
        # hint says str; its own transport passes bytes too)
        root = parse_xml(content, None, settings=DEVICE_SETTINGS)  # type: ignore[arg-type]
    except (ZeepError, etree.XMLSyntaxError, ValueError) as exc:  # hostile or broken
        return clip(f"malformed XML: {exc}"), None
    fault = root.find(f".//{{{SOAP12}}}Fault")
    if fault is not None:
        text = " ".join(t.strip() for t in fault.itertext() if t.strip()).lower()
        if any(w in text for w in AUTH_WORDS):
            return "auth", None
        if any(w in text for w in UNSUPPORTED_WORDS):
            return "not supported", None
        return clip(f"fault: {text or 'unknown'}"), None
    reply = root.find(f".//{{{MEDIA2_NS}}}GetMasksResponse")
    if reply is None:
        return "malformed reply: no GetMasksResponse", None
    masks: list[dict[str, Any]] = []
    for el in reply.findall(f"{{{MEDIA2_NS}}}Masks")[:MAX_MASKS]:
        enabled = _text(el, "tr2:Enabled")
        masks.append(
            {
                "token": clip(el.get("token") or "", 128) or None,
                "configuration_token": _text(el, "tr2:ConfigurationToken"),
                "type": _text(el, "tr2:Type"),
                "enabled": None if enabled is None else enabled.lower() in ("true", "1"),
                "points": len(el.findall(f"tr2:Polygon/{{{TT}}}Point", {"tr2": MEDIA2_NS})),
            }
        )
    return "ok", masks


async def get_masks(
    clients: DeviceClients, xaddr: str, dt_diff: dt.timedelta | None, timeout: float
) -> tuple[str, list[dict[str, Any]] | None]:
    """Ask the Media2 service at ``xaddr`` (already pinned to the target) for its masks.

    Uses ``clients``' session and identity (anonymous or the credential that worked).
    Returns :func:`parse_masks_reply`'s (outcome, masks); never raises for a device's
    misbehaviour (refusal, timeout, oversized or malformed reply).
    """
    transport = CappedTransport(session=clients.session, verify_ssl=False)
    headers = {
        "Content-Type": f'application/soap+xml; charset="utf-8"; action="{MEDIA2_NS}/GetMasks"'
    }
    try:
        async with asyncio.timeout(timeout):
            response, content = await transport._post_internal(
                xaddr, _request(clients.credentials, dt_diff), headers
            )
    except CALL_ERRORS as exc:  # refused, reset, 401, oversized, DTD, silent: see CALL_ERRORS
        return classify(exc), None
    if response.status in (404, 405):
        return "not supported", None
    if response.status >= 300 and not content.strip():
        return f"HTTP {response.status}", None
    return parse_masks_reply(content)
