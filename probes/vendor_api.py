"""Opt-in vendor API probe: what the camera's own configuration API says about its radios.

Runs during identification, per host, and only when the operator gave credentials
(``camaudit scan --credentials FILE``) and what is known of the host (WS-Discovery
scopes, else its web banners) names a Hikvision-family or Dahua-family board
(``auditor.classify``: the real maker behind the label, so an Annke or an Amcrest is
asked too). Read-only GETs over the port the host serves HTTP(S) on. The first call
(the interface list) goes alone and proves the credential; the others then go at once
on up to :data:`CONNECTIONS` connections (see :func:`_walk`):

- Hikvision ISAPI: ``/ISAPI/System/Network/interfaces`` (NetworkInterfaceList: ids,
  ``Link/MACAddress``, a ``Wireless`` child on Wi-Fi interfaces), then per listed id
  ``.../interfaces/<id>/wireless`` (``enabled``, ``wirelessNetworkMode``, ``ssid``) and,
  on Wi-Fi interfaces, ``.../interfaces/<id>/wirelessServer`` (``wifiApEnabled``: the
  camera's own access point).
- Dahua CGI: ``/cgi-bin/configManager.cgi?action=getConfig&name=WLan`` (``table.WLan.
  <iface>.Enable / SSID / ConnectEnable / LinkMode``) and ``name=Network``
  (``table.Network.<iface>.PhysicalAddress``).
- Vendor cloud platform (issue 7): ISAPI ``GET /ISAPI/System/Network/EZVIZ``
  (Hik-Connect/EZVIZ platform access: ``enabled``, ``registerStatus``,
  ``serverAddress``, ``bindStatus``; the ``verificationCode`` is a secret and never
  read) and Dahua
  ``configManager.cgi?action=getConfig&name=T2UServer`` (the P2P / Easy4IP cloud:
  ``table.T2UServer.Enable``, some firmware ``table.T2UServer[0].Enable``).
- Cellular modem (ISAPI only): ``GET /ISAPI/System/Network/
  WirelessDial/Interfaces/1/dial``; a document there (not ``notSupport``) lists a
  ``cellular`` interface. Dahua's documented WLan ``LinkMode`` is ``Auto``, ``Ad-hoc`` or
  ``Infrastructure``: a Dahua board running its own network says ``Ad-hoc``.
- Where footage goes (issue 7 "recording to cloud"): ISAPI ``GET /ISAPI/
  System/Network/ftp`` (FTP/SFTP upload servers: ``enabled``, host, port; never the user
  or password) and Dahua ``getConfig&name=RecordStoragePoint`` (which record and snapshot
  types go to the ``FTP`` or ``Remote`` storage point).

HTTP Digest answers the challenge; Basic is sent only over HTTPS (a Basic password over
plain HTTP is readable by anyone on the VLAN). Every call's outcome is recorded: ``ok``,
``not supported`` (404/501, an ISAPI ``notSupport`` ResponseStatus, a Dahua ``Error``
body), ``auth failed`` or ``error: ...``. Replies are capped at :data:`MAX_REPLY` bytes,
XML is parsed with defusedxml (no DTD, no entities, no network), and only parsed,
non-secret fields are kept: never a Wi-Fi key or PSK, never the password. The
observation's keys are in docs/observations.md (probe ``vendor_api``).
"""

from __future__ import annotations

import asyncio
import logging
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from auditor.classify import classify as classify_hosts
from auditor.errors import ParseError, ProbeError
from auditor.model import Observation
from auditor.oui import OuiTable
from probes.transport import clip

log = logging.getLogger(__name__)
_V = TypeVar("_V")

PROBE = "vendor_api"
MAX_REPLY = 64 * 1024  # an interface list is a few KiB; anything larger is not one
MAX_IFACES = 4  # a camera has one to three interfaces; a list of hundreds is a flood
MAX_LINES = 2000  # Dahua key=value lines read from one reply
MAX_CREDENTIALS = 3  # cameras lock accounts out after a few failures
CONNECTIONS = 3  # per camera at once: embedded web servers serve only a few
SSID_CAP = 64
ISAPI_IFACES = "/ISAPI/System/Network/interfaces"
DAHUA_WLAN = "/cgi-bin/configManager.cgi?action=getConfig&name=WLan"
DAHUA_NETWORK = "/cgi-bin/configManager.cgi?action=getConfig&name=Network"
ISAPI_CLOUD = "/ISAPI/System/Network/EZVIZ"  # Hik-Connect / EZVIZ platform access
DAHUA_CLOUD = "/cgi-bin/configManager.cgi?action=getConfig&name=T2UServer"  # P2P cloud
#: Hikvision wireless dial (cellular modem) parameters of dial interface 1; the ISAPI
#: developer guide lists ``GET /ISAPI/System/Network/WirelessDial/Interfaces/<ID>/dial``
#: and Hikvision's web client asks interface 1
ISAPI_DIAL = "/ISAPI/System/Network/WirelessDial/Interfaces/1/dial"
ISAPI_FTP = "/ISAPI/System/Network/ftp"  # FTPNotificationList: where captures are uploaded
#: Dahua record storage point mapping (per channel, per record/snapshot type: Local, FTP,
#: Remote, Redundant, ... true/false)
DAHUA_STORAGE = "/cgi-bin/configManager.cgi?action=getConfig&name=RecordStoragePoint"
#: Dahua storage points that put footage on another machine (``Remote``: network storage)
DAHUA_OFF_CAMERA = ("FTP", "Remote")
MAX_TARGETS = 4  # upload targets kept from one reply
HOST_CAP = 253  # a DNS name is at most 253 characters
#: maker (as auditor.classify names the board) -> API family
BOARDS = {"hikvision": "isapi", "dahua": "dahua-cgi"}
BOARD_NAMES = {"isapi": "Hikvision", "dahua-cgi": "Dahua"}

#: ``fetch(path)`` -> (HTTP status, body up to MAX_REPLY bytes). Raises TimeoutError,
#: OSError, aiohttp.ClientError or :class:`ReplyTooLarge`; tests pass their own.
Fetch = Callable[[str], Awaitable[tuple[int, bytes]]]


class ReplyTooLarge(ParseError):
    """The device sent more than MAX_REPLY bytes for one call."""


class BasicOverHttp(ProbeError):
    """The device wants HTTP Basic on plain HTTP: the password would cross in clear."""


# ---------------------------------------------------------------- parsers (pure)


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def parse_xml(body: bytes) -> ET.Element:
    """Parse a device's XML safely; raise :class:`ParseError` (DTDs/entities refused)."""
    if len(body) > MAX_REPLY:
        raise ReplyTooLarge(f"reply larger than {MAX_REPLY} bytes")
    try:
        root: ET.Element = SafeET.fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:  # a DTD or entity: XXE and bombs stop here
        raise ParseError(f"XML refused: {type(exc).__name__}") from exc
    except ET.ParseError as exc:  # truncated or not XML at all
        raise ParseError(f"malformed XML: {exc}") from exc
    return root


def _child(el: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in el if _local(c.tag) == name), None)


def _text(el: ET.Element | None, name: str, cap: int = 128) -> str | None:
    c = _child(el, name) if el is not None else None
    if c is None or c.text is None:
        return None
    return clip(c.text.strip(), cap)


def _bool(value: str | None) -> bool | None:
    if value is None:
        return None
    low = value.strip().lower()
    return True if low == "true" else False if low == "false" else None


def isapi_not_supported(root: ET.Element) -> bool:
    """Whether an ISAPI ``ResponseStatus`` says the resource is not supported."""
    if _local(root.tag) != "ResponseStatus":
        return False
    sub = (_text(root, "subStatusCode") or "").lower()
    status = (_text(root, "statusString") or "").lower()
    return sub in ("notsupport", "invalidoperation") or "not support" in status


def _mode(value: str | None) -> str | None:
    """Normalise a vendor's Wi-Fi mode to ``station`` / ``adhoc`` / ``ap`` (or None)."""
    if not value:
        return None
    low = value.strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    # Dahua's "Auto" says nothing about who runs the network: left unknown
    if low in ("infrastructure", "station", "sta", "client", "managed"):
        return "station"
    if low in ("adhoc", "ibss"):
        return "adhoc"
    if low in ("ap", "accesspoint", "master", "hotspot", "softap"):
        return "ap"
    return None


def _wireless_fields(el: ET.Element) -> dict[str, Any]:
    # sharedKey, WEP keys and every other WirelessSecurity child are never read
    raw_mode = _text(el, "wirelessNetworkMode")
    sec = _child(el, "WirelessSecurity")
    return {
        "enabled": _bool(_text(el, "enabled")),
        "mode": _mode(raw_mode),
        "mode_raw": raw_mode,
        "ssid": _text(el, "ssid", SSID_CAP),
        "channel": _text(el, "channel", 16),
        "security": _text(sec, "securityMode", 32) if sec is not None else None,
    }


def parse_isapi_interfaces(body: bytes) -> list[dict[str, Any]]:
    """Return ``[{id, mac, kind, enabled, mode, ssid}]`` from a NetworkInterfaceList.

    ``kind`` is ``wifi`` when the interface carries a ``Wireless`` element, else
    ``ethernet`` when it has a ``Link``. Raises :class:`ParseError` for bad XML or a
    document that is not a NetworkInterfaceList.
    """
    root = parse_xml(body)
    if _local(root.tag) not in ("NetworkInterfaceList", "NetworkInterface"):
        raise ParseError(f"not a NetworkInterfaceList: <{clip(_local(root.tag), 64)}>")
    items = [root] if _local(root.tag) == "NetworkInterface" else list(root)
    out: list[dict[str, Any]] = []
    for el in items:
        if _local(el.tag) != "NetworkInterface":
            continue
        if len(out) >= MAX_IFACES:
            break
        link = _child(el, "Link")
        wireless = _child(el, "Wireless")
        iface: dict[str, Any] = {
            "id": _text(el, "id", 16),
            "name": None,
            "mac": _text(link, "MACAddress", 32) if link is not None else None,
            "kind": "wifi" if wireless is not None else "ethernet" if link is not None else None,
            "enabled": None,
            "mode": None,
            "ssid": None,
            "source": ISAPI_IFACES,
        }
        if wireless is not None:
            w = _wireless_fields(wireless)
            iface.update(enabled=w["enabled"], mode=w["mode"], ssid=w["ssid"])
        out.append(iface)
    return out


def parse_isapi_wireless(body: bytes) -> dict[str, Any]:
    """Return ``{enabled, mode, mode_raw, ssid, channel, security}`` of a ``Wireless``
    document (keys are never read). Raises :class:`ParseError`."""
    root = parse_xml(body)
    if _local(root.tag) != "Wireless":
        raise ParseError(f"not a Wireless document: <{clip(_local(root.tag), 64)}>")
    return _wireless_fields(root)


def parse_isapi_wireless_server(body: bytes) -> dict[str, Any]:
    """Return ``{ap_enabled, ssid}`` of a ``WirelessServer`` document (the camera's own
    access point). Raises :class:`ParseError`."""
    root = parse_xml(body)
    if _local(root.tag) != "WirelessServer":
        raise ParseError(f"not a WirelessServer document: <{clip(_local(root.tag), 64)}>")
    return {
        "ap_enabled": _bool(_text(root, "wifiApEnabled")),
        "ssid": _text(root, "ssid", SSID_CAP),
    }


def parse_dahua_table(body: bytes, name: str) -> dict[str, dict[str, str]]:
    """Parse ``table.<name>.<iface>.<Key>=value`` lines into ``{iface: {Key: value}}``.

    Lines of other tables, array members (``Keys[0]``) and key material are skipped.
    Raises :class:`ParseError` when the body is an ``Error`` reply or holds no line of
    the table.
    """
    if len(body) > MAX_REPLY:
        raise ReplyTooLarge(f"reply larger than {MAX_REPLY} bytes")
    text = body.decode("utf-8", "replace")
    if text.lstrip().lower().startswith("error"):
        raise ParseError(clip(" ".join(text.split()), 128))
    prefix = f"table.{name}."
    out: dict[str, dict[str, str]] = {}
    seen = False
    for line in text.splitlines()[:MAX_LINES]:
        key, sep, value = line.strip().partition("=")
        if not sep or not key.startswith(prefix):
            continue
        seen = True
        parts = key[len(prefix) :].split(".")
        if len(parts) != 2 or "[" in parts[1] or parts[1].lower().startswith(("key", "psk")):
            continue  # nested settings, arrays (Keys[0]) and secrets are not needed
        iface, field = clip(parts[0], 32), clip(parts[1], 64)
        if iface not in out and len(out) >= MAX_IFACES * 4:
            continue
        out.setdefault(iface, {})[field] = clip(value.strip(), SSID_CAP)
    if not seen:
        raise ParseError(f"no table.{name} line in the reply")
    return out


def dahua_interfaces(
    wlan: dict[str, dict[str, str]] | None, network: dict[str, dict[str, str]] | None
) -> list[dict[str, Any]]:
    """Merge Dahua ``WLan`` and ``Network`` tables into the interface list shape."""
    out: list[dict[str, Any]] = []
    network = network or {}
    wlan = wlan or {}
    names = [n for n, v in network.items() if "PhysicalAddress" in v]
    names += [n for n in wlan if n not in names]
    for name in names[:MAX_IFACES]:
        w = wlan.get(name)
        iface: dict[str, Any] = {
            "id": name,
            "name": name,
            "mac": (network.get(name) or {}).get("PhysicalAddress") or None,
            "kind": "wifi" if w is not None else "ethernet",
            "enabled": None,
            "mode": None,
            "ssid": None,
            "source": DAHUA_WLAN if w is not None else DAHUA_NETWORK,
        }
        if w is not None:
            iface.update(
                enabled=_bool(w.get("Enable")),
                connected=_bool(w.get("ConnectEnable")),
                mode=_mode(w.get("LinkMode")),
                mode_raw=w.get("LinkMode"),
                ssid=w.get("SSID") or None,
            )
        out.append(iface)
    return out


def parse_isapi_cloud(body: bytes) -> dict[str, Any]:
    """Return ``{platform, enabled, registered, server, bound, source}`` of an ISAPI
    ``EZVIZ`` document (Hik-Connect platform access). The ``verificationCode`` (the
    secret that binds the camera to a cloud account) is never read. Raises
    :class:`ParseError` for bad XML or another document."""
    root = parse_xml(body)
    if _local(root.tag) != "EZVIZ":
        raise ParseError(f"not an EZVIZ document: <{clip(_local(root.tag), 64)}>")
    addr = _child(root, "serverAddress")
    server = None
    if addr is not None:  # hostName or ipAddress, whichever addressingFormatType names
        server = _text(addr, "hostName", HOST_CAP) or _text(addr, "ipAddress", 64) or None
    bind = (_text(root, "bindStatus", 16) or "").lower()
    return {
        "platform": "hik-connect",
        "enabled": _bool(_text(root, "enabled")),
        "registered": _bool(_text(root, "registerStatus")),
        "server": server,
        "bound": True if bind == "bind" else False if bind == "unbind" else None,
        "source": ISAPI_CLOUD,
    }


def parse_dahua_cloud(body: bytes) -> dict[str, Any]:
    """Return ``{platform, enabled, source}`` of a Dahua ``T2UServer`` config (the P2P /
    Easy4IP cloud). Accepts ``table.T2UServer.Enable`` and ``table.T2UServer[0].Enable``;
    nothing else of the table is kept. Raises :class:`ParseError` for an ``Error`` body or
    a reply without an ``Enable`` line."""
    if len(body) > MAX_REPLY:
        raise ReplyTooLarge(f"reply larger than {MAX_REPLY} bytes")
    text = body.decode("utf-8", "replace")
    if text.lstrip().lower().startswith("error"):
        raise ParseError(clip(" ".join(text.split()), 128))
    for line in text.splitlines()[:MAX_LINES]:
        key, sep, value = line.strip().partition("=")
        if sep and key in ("table.T2UServer.Enable", "table.T2UServer[0].Enable"):
            enabled = _bool(value)
            if enabled is None:
                raise ParseError(f"T2UServer.Enable is not true/false: {clip(value, 32)!r}")
            return {"platform": "dahua-p2p", "enabled": enabled, "source": DAHUA_CLOUD}
    raise ParseError("no table.T2UServer.Enable line in the reply")


def parse_isapi_dial(body: bytes) -> dict[str, Any]:
    """Return a ``cellular`` interface from a 200 answer to :data:`ISAPI_DIAL`.

    The ISAPI guide names the resource (wireless dial parameters) but no public source
    gives its element names, so nothing inside is read: a device without a modem answers
    ``notSupport`` (or 404), and a well-formed document here means the wireless-dial
    (cellular) function exists. The dial settings may hold an APN user and password:
    never read. Raises :class:`ParseError` for bad XML or a ``ResponseStatus``.
    """
    root = parse_xml(body)
    tag = clip(_local(root.tag), 64)
    if tag == "ResponseStatus":
        raise ParseError("a ResponseStatus, not wireless dial parameters")
    return {
        "id": "dial-1", "name": "WirelessDial 1", "mac": None, "kind": "cellular",
        "enabled": None, "mode": None, "ssid": None, "document": tag, "source": ISAPI_DIAL,
    }  # fmt: skip


def _port(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and 0 < int(value) < 65536 else None


def parse_isapi_ftp(body: bytes) -> dict[str, Any]:
    """Return ``{kind: "ftp", targets: [{id, enabled, host, port, protocol}], source}``
    from an ISAPI ``FTPNotificationList`` (the servers captures are uploaded to). The
    ``userName`` and ``password`` are never read. Raises :class:`ParseError`."""
    root = parse_xml(body)
    tag = _local(root.tag)
    if tag not in ("FTPNotificationList", "FTPNotification"):
        raise ParseError(f"not an FTPNotificationList: <{clip(tag, 64)}>")
    items = [root] if tag == "FTPNotification" else list(root)
    targets: list[dict[str, Any]] = []
    for el in items:
        if _local(el.tag) != "FTPNotification":
            continue
        if len(targets) >= MAX_TARGETS:
            break
        # addressingFormatType says which of the two is meant; either may be left filled
        by_name = (_text(el, "addressingFormatType", 16) or "").lower() == "hostname"
        name, addr = _text(el, "hostName", HOST_CAP), _text(el, "ipAddress", 64)
        targets.append({
            "id": _text(el, "id", 16),
            "enabled": _bool(_text(el, "enabled")),
            "host": (name if by_name else addr) or name or addr or None,
            "port": _port(_text(el, "portNo", 8)),
            "protocol": _text(el, "uploadProtocolType", 16) or "FTP",
        })  # fmt: skip
    return {"kind": "ftp", "targets": targets, "source": ISAPI_FTP}


def parse_dahua_storage(body: bytes) -> dict[str, Any]:
    """Return ``{kind: "storage-point", targets: [{id, enabled, host: None, port: None,
    protocol, uses}], source}`` from Dahua ``RecordStoragePoint`` lines
    (``table.RecordStoragePoint[<ch>].<Type>.<Point>=true``): one target per off-camera
    point (:data:`DAHUA_OFF_CAMERA`), ``uses`` the record/snapshot types sent there.
    Raises :class:`ParseError` for an ``Error`` body or a reply without such a line."""
    if len(body) > MAX_REPLY:
        raise ReplyTooLarge(f"reply larger than {MAX_REPLY} bytes")
    text = body.decode("utf-8", "replace")
    if text.lstrip().lower().startswith("error"):
        raise ParseError(clip(" ".join(text.split()), 128))
    uses: dict[str, list[str]] = {p: [] for p in DAHUA_OFF_CAMERA}
    seen = False
    for line in text.splitlines()[:MAX_LINES]:
        key, sep, value = line.strip().partition("=")
        if not sep or not key.startswith("table.RecordStoragePoint"):
            continue
        seen = True
        parts = key.split(".")
        if len(parts) != 4 or parts[3] not in uses or _bool(value) is not True:
            continue
        kind = clip(parts[2], 32)
        if kind not in uses[parts[3]] and len(uses[parts[3]]) < 16:
            uses[parts[3]].append(kind)
    if not seen:
        raise ParseError("no table.RecordStoragePoint line in the reply")
    targets = [
        {"id": point, "enabled": bool(kinds), "host": None, "port": None,
         "protocol": point, "uses": sorted(kinds)}
        for point, kinds in uses.items()
    ]  # fmt: skip
    return {"kind": "storage-point", "targets": targets, "source": DAHUA_STORAGE}


# ---------------------------------------------------------------- network


def _classify_call(status: int, body: bytes, api: str) -> str | None:
    """Outcome of a non-200 reply (None for 200)."""
    if status == 200:
        return None
    if status == 401:
        return "auth failed"
    if status in (404, 405, 501):
        return "not supported"
    if api == "isapi" and body:
        try:
            if isapi_not_supported(parse_xml(body)):
                return "not supported"
        except ParseError:
            pass  # an error page that is not a ResponseStatus: fall through to the status
    if api == "dahua-cgi" and body.lstrip()[:5].lower() == b"error":
        return "not supported"  # Dahua answers an unknown config name with "Error"
    return f"error: HTTP {status}"


async def _read_capped(resp: aiohttp.ClientResponse) -> bytes:
    declared = resp.content_length
    if declared is not None and declared > MAX_REPLY:
        raise ReplyTooLarge(f"reply larger than {MAX_REPLY} bytes")
    buf = bytearray()
    while True:
        chunk = await resp.content.read(16384)
        if not chunk:
            return bytes(buf)
        buf += chunk  # counts decompressed bytes: a gzip bomb stops here too
        if len(buf) > MAX_REPLY:
            raise ReplyTooLarge(f"reply larger than {MAX_REPLY} bytes")


def http_fetcher(
    session: aiohttp.ClientSession, base: str, credential: tuple[str, str], https: bool
) -> Fetch:
    """A :data:`Fetch` over ``session``: Digest always, Basic only when ``https``."""
    digest = aiohttp.DigestAuthMiddleware(*credential)

    async def fetch(path: str) -> tuple[int, bytes]:
        url = base + path
        async with session.get(url, allow_redirects=False, middlewares=(digest,)) as resp:
            status = resp.status
            challenge = resp.headers.get("WWW-Authenticate", "")
            body = await _read_capped(resp)
        if status == 401 and challenge[:5].lower() == "basic":
            if not https:
                raise BasicOverHttp("device asks for HTTP Basic over plain HTTP; not sent")
            basic = aiohttp.BasicAuth(*credential)
            async with session.get(url, allow_redirects=False, auth=basic) as resp:
                return resp.status, await _read_capped(resp)
        return status, body

    return fetch


def _ordered(record: dict[str, _V], first: list[str]) -> dict[str, _V]:
    keys = [p for p in first if p in record] + [p for p in record if p not in first]
    return {p: record[p] for p in keys}


class _Run:
    """One device's calls under one credential: outcomes and parsed results."""

    def __init__(self, fetch: Fetch, api: str, timeout: float, deadline: float) -> None:
        self.fetch, self.api, self.timeout, self.deadline = fetch, api, timeout, deadline
        self.calls: dict[str, str] = {}
        self.replies: dict[str, dict[str, Any]] = {}

    def put_in_order(self, paths: list[str]) -> None:
        """Record ``paths`` in this order (calls made at once answer in any order; the
        record reads the same every time), the rest after them."""
        self.calls = _ordered(self.calls, paths)
        self.replies = _ordered(self.replies, paths)

    async def call(self, path: str, parse: Callable[[bytes], Any]) -> Any:
        """GET ``path``; record its outcome; return the parsed body or None."""
        status: int | None = None
        body = b""
        left = min(self.timeout, self.deadline - asyncio.get_running_loop().time())
        if left <= 0:
            self.calls[path] = "error: skipped, the step's time budget is spent"
            return None
        try:
            async with asyncio.timeout(left):
                status, body = await self.fetch(path)
        except TimeoutError:
            self.calls[path] = f"error: timeout after {left:.3g}s"
        except (ReplyTooLarge, BasicOverHttp) as exc:
            self.calls[path] = f"error: {exc}"
        except (aiohttp.ClientError, OSError) as exc:  # refused, reset, bad HTTP
            self.calls[path] = f"error: {clip(type(exc).__name__ + ' ' + str(exc), 200)}"
        if status is None:
            self.replies[path] = {"http_status": None, "bytes": 0}
            return None
        self.replies[path] = {"http_status": status, "bytes": len(body)}
        outcome = _classify_call(status, body, self.api)
        if outcome is not None:
            self.calls[path] = outcome
            return None
        try:
            parsed = parse(body)
        except ParseError as exc:
            not_supported = self.api == "dahua-cgi" and body.lstrip()[:5].lower() == b"error"
            self.calls[path] = "not supported" if not_supported else f"error: {clip(exc, 200)}"
            return None
        self.calls[path] = "ok"
        return parsed


async def _isapi_wifi(run: _Run, iid: str, ifaces: list[dict[str, Any]]) -> None:
    """One interface's ``wireless`` resource, then ``wirelessServer`` if it is Wi-Fi."""
    path = f"{ISAPI_IFACES}/{iid}/wireless"
    w = await run.call(path, parse_isapi_wireless)
    iface = next((i for i in ifaces if str(i.get("id")) == iid), None)
    if w is not None:
        if iface is None:  # the list failed but the wireless resource answered
            iface = {"id": iid, "name": None, "mac": None, "source": path}
            ifaces.append(iface)
        iface.update(kind="wifi", enabled=w["enabled"], ssid=w["ssid"], source=path)
        iface.update(mode=w["mode"], mode_raw=w["mode_raw"], security=w["security"])
    if iface is None or iface.get("kind") != "wifi":
        return
    path = f"{ISAPI_IFACES}/{iid}/wirelessServer"
    ap = await run.call(path, parse_isapi_wireless_server)
    if ap is not None:
        iface["ap_enabled"] = ap["ap_enabled"]
        if ap["ap_enabled"]:
            iface.update(mode="ap", ap_ssid=ap["ssid"], source=path)


async def _walk(run: _Run) -> tuple[list[dict[str, Any]], Any, Any]:
    """(interfaces, cloud, storage) as the device's API tells them.

    The first call alone: it proves the credential (a refusal stops here, before a
    lockout counter sees more), and its answer names the interfaces. The rest go at
    once, on a few connections under the same Digest nonce with increasing nonce
    counts: RFC 7616 servers detect a replayed count, not an out-of-order one, and the
    cameras' own web UIs load their pages the same way. A camera at a second per
    answer then costs two round trips after the first call instead of one per call.
    Interfaces come first in the record, then the cellular modem, the cloud platform
    and where captures are uploaded.
    """
    if run.api == "isapi":
        ifaces: list[dict[str, Any]] = await run.call(ISAPI_IFACES, parse_isapi_interfaces) or []
        if run.calls.get(ISAPI_IFACES) == "auth failed":
            return [], None, None
        # Wi-Fi interfaces first: their answers matter most if the budget runs out
        ordered = sorted(ifaces, key=lambda i: i.get("kind") != "wifi")
        ids = [str(i["id"]) for i in ordered if i.get("id")] or ["1"]
        _, dial, cloud, storage = await asyncio.gather(
            asyncio.gather(*(_isapi_wifi(run, iid, ifaces) for iid in ids[:MAX_IFACES])),
            run.call(ISAPI_DIAL, parse_isapi_dial),
            run.call(ISAPI_CLOUD, parse_isapi_cloud),
            run.call(ISAPI_FTP, parse_isapi_ftp),
        )
        if dial is not None:
            ifaces.append(dial)
        walked = [f"{ISAPI_IFACES}/{i}/{r}" for i in ids for r in ("wireless", "wirelessServer")]
        run.put_in_order([ISAPI_IFACES, *walked, ISAPI_DIAL, ISAPI_CLOUD, ISAPI_FTP])
        return ifaces, cloud, storage
    network = await run.call(DAHUA_NETWORK, lambda b: parse_dahua_table(b, "Network"))
    if run.calls.get(DAHUA_NETWORK) == "auth failed":
        return [], None, None
    wlan, cloud, storage = await asyncio.gather(
        run.call(DAHUA_WLAN, lambda b: parse_dahua_table(b, "WLan")),
        run.call(DAHUA_CLOUD, parse_dahua_cloud),
        run.call(DAHUA_STORAGE, parse_dahua_storage),
    )
    run.put_in_order([DAHUA_NETWORK, DAHUA_WLAN, DAHUA_CLOUD, DAHUA_STORAGE])
    return dahua_interfaces(wlan, network), cloud, storage


#: ports to ask when no HTTP banner has been read yet (the API is asked early, beside
#: the banners, when WS-Discovery already named the board): HTTPS first
_GUESSED = ((443, "https"), (8443, "https"), (80, "http"), (8080, "http"))


def _endpoint(mine: list[Observation]) -> tuple[str, int] | None:
    """The host's HTTP(S) port to ask: HTTPS first (Basic is allowed there)."""
    found = [
        (str(o.data.get("scheme")), o.port)
        for o in mine
        if o.probe == "http" and o.port and o.data.get("scheme") in ("http", "https")
        and isinstance(o.data.get("status"), int)
    ]  # fmt: skip
    if not found:
        open_ports = {
            p for o in mine if o.probe == "portscan" for p in o.data.get("tcp_open") or []
        }
        found = [(scheme, port) for port, scheme in _GUESSED if port in open_ports][:1]
    found.sort(key=lambda sp: (sp[0] != "https", sp[1]))
    return found[0] if found else None


def board_api(ip: str, observations: list[Observation]) -> str | None:
    """The vendor API family (``isapi``, ``dahua-cgi``) the evidence so far on ``ip``
    names, or None. The MAC registry (50k entries) is not loaded for this mid-scan
    decision: it would sit on the scan's memory peak; banners and ONVIF name the board."""
    mine = [o for o in observations if o.ip == ip]
    if not mine:
        return None
    (dev,) = classify_hosts(mine, oui=OuiTable())
    return BOARDS.get((dev.oem or "").lower())


async def probe_vendor_api(
    ip: str,
    observations: list[Observation],
    *,
    credentials: list[tuple[str, str]],
    timeout: float = 3.0,
    budget: float | None = None,
    fetcher: Callable[[str, int, tuple[str, str]], Fetch] | None = None,
) -> list[Observation]:
    """Ask a Hikvision- or Dahua-board camera's own API about its interfaces and radios,
    whether its vendor cloud platform (Hik-Connect, Dahua P2P) is switched on, and where
    it uploads captures (``storage``).

    ``observations`` are what identification saw on ``ip`` (they name the board and the
    HTTP port). Returns ``[]`` when there is nothing to ask (no credentials, another
    maker, no HTTP port); otherwise one ``vendor_api`` observation. At most
    :data:`MAX_CREDENTIALS` credentials are tried, the next only after ``auth failed``;
    all calls together stay within ``budget`` seconds (default 2.5 x ``timeout``: the
    engine cuts a step off at 3 x), calls past it are recorded as skipped.
    ``fetcher(scheme, port, credential)`` replaces the HTTP client (tests). Never raises
    for device behaviour.
    """
    if not credentials:
        return []
    mine = [o for o in observations if o.ip == ip]
    api = board_api(ip, mine)
    where = _endpoint(mine)
    if api is None or where is None:
        return []
    scheme, port = where
    data: dict[str, Any] = {
        "api": api, "board": BOARD_NAMES[api], "scheme": scheme, "credential_index": None,
        "calls": {}, "replies": {}, "interfaces": [], "cloud": None, "storage": None,
    }  # fmt: skip
    error: str | None = None
    deadline = asyncio.get_running_loop().time() + (budget if budget else 2.5 * timeout)
    for index, cred in enumerate(credentials[:MAX_CREDENTIALS]):
        session: aiohttp.ClientSession | None = None
        if fetcher is not None:
            fetch = fetcher(scheme, port, cred)
        else:
            session = aiohttp.ClientSession(
                # cameras serve self-signed certificates; Basic is only ever sent here,
                # inside TLS, and Digest never sends the password itself
                connector=aiohttp.TCPConnector(limit=CONNECTIONS, ssl=False),
                timeout=aiohttp.ClientTimeout(total=timeout, connect=timeout),
                trust_env=False,  # never route camera traffic through an environment proxy
            )
            fetch = http_fetcher(session, f"{scheme}://{ip}:{port}", cred, scheme == "https")
        run = _Run(fetch, api, timeout, deadline)
        try:
            ifaces, cloud, storage = await _walk(run)
        finally:
            if session is not None:
                # shielded: a step cut off by the engine's bound must still close it
                await asyncio.shield(session.close())
        data.update(calls=run.calls, replies=run.replies, interfaces=ifaces, cloud=cloud)
        data["storage"] = storage
        refused = bool(run.calls) and all(v == "auth failed" for v in run.calls.values())
        if not refused:
            if "ok" in run.calls.values():
                data["credential_index"] = index
            break
        log.info("%s: vendor API refused credential #%d", ip, index + 1)
    else:
        error = "every credential given was refused"
    return [Observation(PROBE, ip, data, port=port, error=error)]
