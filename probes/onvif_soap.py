"""The zeep/onvif-zeep-async glue for the ONVIF probe: shared WSDL, safe parsing, caps.

Why not ``onvif.ONVIFCamera`` itself: per device it opens three aiohttp sessions
(devicemgmt, media, snapshot), uses 90 s timeouts, reads replies without a size
cap, and parses device XML with ``onvif.settings.DEFAULT_SETTINGS``, which turns
on ``xml_huge_tree`` (lxml's protections off). So we keep onvif-zeep-async's parts
(its bundled WSDLs, its process-wide parsed-WSDL cache with camera-tolerant date
types, its ``ZeepAsyncClient``, its aiohttp transport and its clock-adjusted
``UsernameDigestTokenDtDiff``, the same mechanism ``ONVIFCamera(adjust_time=True)``
uses) and assemble them per device with our own safety settings.

Cost model (see the module docstring of ``probes.onvif`` for measurements): parsing
devicemgmt.wsdl + media.wsdl takes about a second of CPU, so it happens once per
process (:func:`prepare`); per device we only build cheap client objects around the
shared documents.

No zeep or lxml type leaves this module: :func:`plain` turns replies into JSON data.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import weakref
from pathlib import Path
from typing import Any

import aiohttp
import zeep.exceptions
import zeep.helpers
from lxml import etree
from onvif import client as onvif_client
from onvif.client import UsernameDigestTokenDtDiff, ZeepAsyncClient
from onvif.definition import SERVICES
from onvif.zeep_aiohttp import AIOHTTPTransport
from zeep.proxy import AsyncOperationProxy, AsyncServiceProxy, OperationProxy
from zeep.settings import Settings
from zeep.wsdl import Document

from auditor.errors import ProbeError

MAX_REPLY_BYTES = 256 * 1024  # a 32-channel NVR's GetProfiles fits; a hostile flood does not
MAX_STR = 512
# Connections per device and identity. The probe sends up to five independent calls at
# once (one round trip per stage); fewer connections would queue them and a camera that
# takes a second per answer would pay that second several times. A browser opens six.
SESSION_CONNECTIONS = 6

# Device replies are untrusted. lxml limits stay on (no huge_tree), any DTD is
# refused (SOAP 1.1/1.2 forbid a DOCTYPE in a message, so no camera needs one),
# entities are forbidden and nothing external is fetched. strict=True turns off
# lxml's recover mode, so truncated or broken XML is an error, not a half-filled
# reply. zeep's schema tolerance for the extra/misordered elements real cameras send
# comes from the WSDL documents' own settings (onvif's, strict=False), not these.
DEVICE_SETTINGS = Settings(
    strict=True,
    xml_huge_tree=False,
    forbid_dtd=True,
    forbid_entities=True,
    forbid_external=True,
    xsd_ignore_sequence_order=True,
)

_WSDL_DIR = Path(onvif_client.__file__).parent / "wsdl"
USED_SERVICES = ("devicemgmt", "media")

_documents: dict[str, Document] = {}
# One lock per event loop: onvif's own cache has no lock, so 250 devices starting
# together would each parse the WSDL in a thread (minutes of CPU) before the first
# one lands in the cache.
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


async def prepare() -> None:
    """Parse the WSDL documents the probe uses, once per process (idempotent).

    The scan engine may call this before fanning out; :func:`device_clients` calls
    it anyway. Raises ProbeError if the bundled WSDL cannot be loaded.
    """
    if all(name in _documents for name in USED_SERVICES):
        return
    loop = asyncio.get_running_loop()
    lock = _locks.setdefault(loop, asyncio.Lock())
    async with lock:
        for name in USED_SERVICES:
            if name in _documents:
                continue
            path = str(_WSDL_DIR / SERVICES[name]["wsdl"])
            try:
                # onvif's cache: parsed off the loop, date types made camera-tolerant.
                _documents[name] = await onvif_client._cached_document(path)
            except (OSError, zeep.exceptions.Error) as exc:
                raise ProbeError(f"cannot load ONVIF WSDL {path}: {exc}") from exc


class HttpAuthRequired(ProbeError):
    """The device answered HTTP 401/403 (HTTP Digest/Basic instead of WS-Security)."""

    def __init__(self, status: int, challenge: str | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.challenge = clip(challenge) if challenge else None


class CappedTransport(AIOHTTPTransport):
    """onvif's aiohttp transport with a reply size cap and a DTD refusal."""

    async def _post_internal(
        self, address: str, message: str | bytes, headers: dict[str, str]
    ) -> tuple[aiohttp.ClientResponse, bytes]:
        headers = dict(headers or {})
        headers.setdefault("Content-Type", 'application/soap+xml; charset="utf-8"')
        data = message.encode("utf-8") if isinstance(message, str) else message
        response = await self.session.post(address, data=data, headers=headers)
        if response.status in (401, 403):
            # With credentials the digest middleware already answered the challenge;
            # a 401 here means none were given or they were refused.
            challenge = response.headers.get("WWW-Authenticate")
            response.close()
            raise HttpAuthRequired(response.status, challenge)
        try:
            declared = response.content_length
            if declared is not None and declared > MAX_REPLY_BYTES:
                raise ProbeError(f"reply larger than {MAX_REPLY_BYTES} bytes")
            chunks: list[bytes] = []
            size = 0
            while True:
                # Counts decompressed bytes, so a gzip bomb stops here too.
                chunk = await response.content.read(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_REPLY_BYTES:
                    raise ProbeError(f"reply larger than {MAX_REPLY_BYTES} bytes")
                chunks.append(chunk)
        except BaseException:
            response.close()
            raise
        response.release()
        content = b"".join(chunks)
        head = content[:4096]
        if b"<!DOCTYPE" in head or b"<!ENTITY" in content:
            raise ProbeError("reply carries a DTD (refused: SOAP forbids it)")
        return response, content


def open_session(
    timeout: float, credentials: tuple[str, str] | None = None
) -> aiohttp.ClientSession:
    """Return a session for one device; HTTP Digest is answered only with credentials."""
    middlewares: tuple[aiohttp.DigestAuthMiddleware, ...] = ()
    if credentials is not None:
        # Some cameras (Axis, newer Hikvision) want HTTP Digest instead of, or on
        # top of, WS-Security. The middleware only reacts to a 401 challenge.
        middlewares = (aiohttp.DigestAuthMiddleware(*credentials),)
    return aiohttp.ClientSession(
        # Cameras serve self-signed certificates; identification must still work, and
        # no password crosses the wire in clear (WS-Security and HTTP Digest hash it).
        connector=aiohttp.TCPConnector(limit=SESSION_CONNECTIONS, ssl=False),
        timeout=aiohttp.ClientTimeout(total=timeout, connect=timeout, sock_read=timeout),
        middlewares=middlewares,
        trust_env=False,  # never route camera traffic through an environment proxy
    )


class _LazyOperations(dict[str, OperationProxy]):
    """Operation proxies made on first use, not one per operation of the binding."""

    def __init__(self, proxy: AsyncServiceProxy) -> None:
        super().__init__()
        self.proxy = proxy

    def __missing__(self, name: str) -> OperationProxy:
        try:
            self.proxy._binding.get(name)  # zeep's own lookup: ValueError if unknown
        except ValueError:
            raise KeyError(name) from None  # ServiceProxy turns it into AttributeError
        op = self[name] = AsyncOperationProxy(self.proxy, name)
        return op


class LazyServiceProxy(AsyncServiceProxy):
    """zeep's AsyncServiceProxy without the up-front proxy for each of ~100 operations.

    zeep builds an operation proxy for every operation of the binding when a service
    proxy is created; a probe makes four such proxies per camera and calls a dozen
    operations in all. Measured on the 250-camera lab: 0.25 s of CPU and the objects'
    memory, per scan, for nothing.
    """

    def __init__(self, client: Any, binding: Any, **binding_options: Any) -> None:
        # deliberately not super().__init__: that is where every operation is built
        self._client = client
        self._binding_options = binding_options
        self._binding = binding
        self._operations = _LazyOperations(self)


class DeviceClients:
    """Service proxies for one device and one identity (anonymous or a credential)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        credentials: tuple[str, str] | None,
        dt_diff: dt.timedelta | None,
    ) -> None:
        self.session = session
        self.credentials = credentials
        transport = CappedTransport(session=session, verify_ssl=False)
        wsse = None
        if credentials is not None:
            # PasswordDigest over a Created time shifted to the camera's clock.
            wsse = UsernameDigestTokenDtDiff(*credentials, dt_diff=dt_diff, use_digest=True)
        self._clients: dict[str, ZeepAsyncClient] = {}
        for name in USED_SERVICES:
            self._clients[name] = ZeepAsyncClient(
                wsdl=_documents[name], wsse=wsse, transport=transport, settings=DEVICE_SETTINGS
            )
        self._proxies: dict[tuple[str, str], AsyncServiceProxy] = {}

    def service(self, name: str, xaddr: str) -> AsyncServiceProxy:
        key = (name, xaddr)
        if key not in self._proxies:
            spec = SERVICES[name]
            binding = "{{{}}}{}".format(spec["ns"], spec["binding"])
            client = self._clients[name]
            self._proxies[key] = LazyServiceProxy(
                client, client.wsdl.bindings[binding], address=xaddr
            )
        return self._proxies[key]

    async def close(self) -> None:
        await self.session.close()


async def device_clients(
    timeout: float, credentials: tuple[str, str] | None, dt_diff: dt.timedelta | None
) -> DeviceClients:
    await prepare()
    return DeviceClients(open_session(timeout, credentials), credentials, dt_diff)


# --- outcome classification -------------------------------------------------------

AUTH_WORDS = ("notauthorized", "not authorized", "unauthorized", "authority failure")
UNSUPPORTED_WORDS = ("actionnotsupported", "not supported", "notsupported", "no such operation")


def _subcodes(fault: zeep.exceptions.Fault) -> str:
    codes = fault.subcodes or []
    return " ".join(getattr(c, "localname", None) or str(c) for c in codes).lower()


def classify(exc: BaseException) -> str:
    """Return the ``calls`` outcome for an exception: "auth", "not supported" or text."""
    if isinstance(exc, HttpAuthRequired):
        return "auth"
    if isinstance(exc, zeep.exceptions.Fault):
        text = f"{_subcodes(exc)} {exc.message or ''} {exc.code or ''}".lower()
        if any(w in text for w in AUTH_WORDS):
            return "auth"
        if any(w in text for w in UNSUPPORTED_WORDS):
            return "not supported"
        return clip(f"fault: {exc.message or exc.code or 'unknown'}")
    if isinstance(exc, zeep.exceptions.TransportError):
        if exc.status_code in (401, 403):
            return "auth"
        if exc.status_code == 404 or exc.status_code == 405:
            return "not supported"
        msg = str(exc.message or "").split("\n", 1)[0]
        if "invalid XML" in msg:
            return clip("malformed XML: " + msg.split("invalid XML:", 1)[-1].strip())
        return clip(f"HTTP {exc.status_code}")
    if isinstance(exc, zeep.exceptions.DTDForbidden | zeep.exceptions.EntitiesForbidden):
        return "reply carries a DTD (refused)"
    if isinstance(exc, zeep.exceptions.XMLSyntaxError):
        return clip(f"malformed XML: {exc}")
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return "connection refused"
        return clip(f"cannot connect: {exc.os_error}")
    if isinstance(exc, ProbeError):
        return clip(str(exc))
    return clip(f"{type(exc).__name__}: {exc}")


# Why each is expected when talking to a camera.
CALL_ERRORS: tuple[type[BaseException], ...] = (
    zeep.exceptions.Error,  # Fault, TransportError, XMLSyntaxError, DTDForbidden, ...
    aiohttp.ClientError,  # refused, reset, bad HTTP
    TimeoutError,  # silent device
    ProbeError,  # oversized reply, DTD refused (ours)
    ValueError,  # zeep on values it cannot coerce (odd dates, ints)
    AttributeError,  # zeep on half-empty replies from recover-mode parsing
    LookupError,  # zeep on elements missing from a reply
)


def clip(text: str, limit: int = MAX_STR) -> str:
    return text if len(text) <= limit else text[:limit]


def plain(obj: Any, depth: int = 0) -> Any:
    """Return ``obj`` (a zeep reply) as JSON data; unknown types become short strings."""
    if depth == 0:
        obj = zeep.helpers.serialize_object(obj, target_cls=dict)
    if depth > 24:
        return None
    if obj is None or isinstance(obj, bool | int | float):
        return obj
    if isinstance(obj, str):
        return clip(str(obj))
    if isinstance(obj, decimal.Decimal):
        return float(obj)
    if isinstance(obj, dt.datetime | dt.date | dt.time):
        return obj.isoformat()
    if isinstance(obj, dt.timedelta):
        return obj.total_seconds()
    if isinstance(obj, bytes):
        return obj[:256].hex()
    if isinstance(obj, dict):
        # "_value_1" holds xs:any content as raw lxml elements: zeep puts schema
        # elements there when a vendor's extension order confuses it (Hikvision's
        # NetworkInterface Extension/InterfaceType lands there), so keep it as "_any".
        out: dict[str, Any] = {}
        for k, v in list(obj.items())[:64]:
            key = "_any" if k == "_value_1" else str(k)
            if key.startswith("_") and key != "_any":
                continue  # _attr_1 and other zeep internals
            out[key] = plain(v, depth + 1)
        return out
    if isinstance(obj, list | tuple):
        return [plain(v, depth + 1) for v in obj[:64]]
    if isinstance(obj, etree._Element):
        return _element(obj, depth)
    if isinstance(obj, etree.QName):  # xs:QName values, e.g. an analytics rule's Type
        return _qname(obj)
    return None  # foreign objects carry nothing we report


ONVIF_SCHEMA_NS = "http://www.onvif.org/ver10/schema"


def _qname(q: etree.QName) -> str:
    """``tt:Local`` for the ONVIF schema namespace (as the specs write it), else ``Local``."""
    local = clip(str(q.localname), 128)
    return f"tt:{local}" if q.namespace == ONVIF_SCHEMA_NS else local


def _element(el: etree._Element, depth: int) -> dict[str, Any] | None:
    """Return an lxml element as ``{localname: text or {child: ...}}``."""
    if depth > 24 or not isinstance(el.tag, str):
        return None  # comments and processing instructions
    name = etree.QName(el).localname
    children = [c for c in el[:64] if isinstance(c.tag, str)]
    if not children:
        return {name: clip((el.text or "").strip())}
    merged: dict[str, Any] = {}
    for child in children:
        merged.update(_element(child, depth + 1) or {})
    return {name: merged}
