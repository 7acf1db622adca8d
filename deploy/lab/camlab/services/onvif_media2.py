"""ONVIF Media2 (``http://www.onvif.org/ver20/media/wsdl``) for the lab: GetMasks only.

Written from the ONVIF Media2 Service Specification: ``tr2:GetMasksResponse`` holds one
``tr2:Masks`` element per privacy mask (type ``tr2:Mask``: attribute ``token``, then
``ConfigurationToken``, ``Polygon`` of ``tt:Point x= y=``, ``Type`` Color / Pixelated /
Blurred, optional ``Color``, ``Enabled``). A device's masks come from
``onvif["masks"]`` (camlab.features ``privacy_masks``); a device without
``onvif["media2"]`` advertises no Media2 service and refuses the call.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

MEDIA2_NS = "http://www.onvif.org/ver20/media/wsdl"
MEDIA2_PATH = "media2_service"  # /onvif/media2_service
MEDIA2_OPS = frozenset({"GetMasks"})
_NS = (
    'xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
    f'xmlns:tr2="{MEDIA2_NS}" xmlns:tt="http://www.onvif.org/ver10/schema"'
)


def _point(x: float, y: float) -> str:
    return f'<tt:Point x="{x:.2f}" y="{y:.2f}"/>'


def _mask(m: dict[str, Any]) -> str:
    points = "".join(_point(float(x), float(y)) for x, y in m.get("polygon", []))
    color = (
        '<tr2:Color X="16" Y="128" Z="128" Colorspace="http://www.onvif.org/ver10/colorspace/YCbCr"/>'
        if m.get("type") == "Color"
        else ""
    )
    return (
        f'<tr2:Masks token="{escape(str(m["token"]))}">'
        f"<tr2:ConfigurationToken>{escape(str(m.get('configuration', 'VideoSourceConfig_1')))}"
        "</tr2:ConfigurationToken>"
        f"<tr2:Polygon>{points}</tr2:Polygon><tr2:Type>{escape(str(m['type']))}</tr2:Type>"
        f"{color}<tr2:Enabled>{'true' if m.get('enabled', True) else 'false'}</tr2:Enabled>"
        "</tr2:Masks>"
    )


def masks(items: list[dict[str, Any]]) -> bytes:
    """The GetMasksResponse envelope for ``items`` (an empty list: no mask defined)."""
    body = "".join(_mask(m) for m in items)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<env:Envelope {_NS}><env:Body>'
        f"<tr2:GetMasksResponse>{body}</tr2:GetMasksResponse></env:Body></env:Envelope>"
    ).encode()
