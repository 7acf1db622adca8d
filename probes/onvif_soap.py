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
shared documents. Per call, what is the same for every camera is reused (issue 4,
tests/bench/bench_onvif.py: 14 -> 10.5 ms of CPU per camera): request envelopes
(:class:`TemplateOperationProxy`), WS-Security header layout (``onvif_wsse``), and a
login borrows the anonymous session's keep-alive connections (``share_with``). Replies
are still parsed by zeep, and every shortcut sends the bytes zeep would
(tests/probes/test_onvif_cpu_paths.py).

No zeep or lxml type leaves this module: :func:`plain` turns replies into JSON data.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import decimal
import itertools
import logging
import weakref
from pathlib import Path
from typing import Any

import aiohttp
import zeep.exceptions
from lxml import etree
from onvif import client as onvif_client
from onvif.client import UsernameDigestTokenDtDiff, ZeepAsyncClient
from onvif.definition import SERVICES
from onvif.zeep_aiohttp import AIOHTTPTransport
from zeep.proxy import AsyncOperationProxy, AsyncServiceProxy, OperationProxy
from zeep.settings import Settings
from zeep.wsdl import Document
from zeep.wsdl.utils import etree_to_string
from zeep.xsd.valueobjects import CompoundValue

from auditor.errors import ProbeError
from probes import onvif_wsse

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
_ZEEP_TRANSPORT_LOG = logging.getLogger("zeep.transports")  # zeep Transport's own

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


class SoapReply:
    """What zeep's ``process_reply`` reads of an HTTP reply, without a requests.Response.

    onvif's transport converts every aiohttp reply into a ``requests.Response`` (cookie
    jar, policy and lock included) only for zeep to read these four fields.
    """

    __slots__ = ("content", "encoding", "headers", "status_code")

    def __init__(self, response: aiohttp.ClientResponse, content: bytes) -> None:
        self.status_code = response.status
        self.content = content
        # zeep reads Content-Type only (multipart or not). requests' header dict kept the
        # last of repeated headers; so does this.
        types = response.headers.getall("Content-Type", ())
        self.headers = {"Content-Type": types[-1]} if types else {}
        self.encoding = response.charset


class CappedTransport(AIOHTTPTransport):
    """onvif's aiohttp transport with a reply size cap and a DTD refusal."""

    def __init__(self, session: aiohttp.ClientSession, verify_ssl: bool = False) -> None:
        # Deliberately not super().__init__: zeep's Transport.__init__ builds a
        # requests.Session (adapters, cookie jar, locks) that AIOHTTPTransport at once
        # replaces with the aiohttp session; up to three transports per camera. These
        # are the attributes the two constructors leave (a test compares them).
        self.cache = None
        self.load_timeout = session.timeout.total
        self.operation_timeout = session.timeout.sock_read
        self.logger = _ZEEP_TRANSPORT_LOG
        self._close_session = False  # never close the session we were given
        self.session = session
        self.verify_ssl = verify_ssl
        self.proxy = None
        self._client_timeout = session.timeout

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

    async def post_message(self, address: str, message: bytes, headers: dict[str, str]) -> Any:
        """``post_xml`` for a message already serialized (zeep's reply object back)."""
        response, content = await self._post_internal(address, message, headers)
        return SoapReply(response, content)

    async def post_xml(
        self, address: str, envelope: etree._Element, headers: dict[str, str]
    ) -> Any:
        return await self.post_message(address, etree_to_string(envelope), headers)


def open_session(
    timeout: float,
    credentials: tuple[str, str] | None = None,
    connector: aiohttp.BaseConnector | None = None,
) -> aiohttp.ClientSession:
    """Return a session for one device; HTTP Digest is answered only with credentials.

    With ``connector`` (another session's, for the same device) the session borrows
    that connection pool instead of opening its own and leaves closing it to its owner.
    """
    middlewares: tuple[aiohttp.DigestAuthMiddleware, ...] = ()
    if credentials is not None:
        # Some cameras (Axis, newer Hikvision) want HTTP Digest instead of, or on
        # top of, WS-Security. The middleware only reacts to a 401 challenge.
        middlewares = (aiohttp.DigestAuthMiddleware(*credentials),)
    owner = connector is None
    if connector is None:
        # Cameras serve self-signed certificates; identification must still work, and
        # no password crosses the wire in clear (WS-Security and HTTP Digest hash it).
        connector = aiohttp.TCPConnector(limit=SESSION_CONNECTIONS, ssl=False)
    return aiohttp.ClientSession(
        connector=connector,
        connector_owner=owner,
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
        op = self[name] = TemplateOperationProxy(self.proxy, name)
        return op


# Request envelopes by (binding, operation, arguments), before WS-Security is added.
# The probe sends the same dozen requests to every camera (tokens aside), and zeep
# would build each one again from the schema: a tenth of the probe's CPU on the
# 250-camera lab. Bounded: device-chosen tokens (profiles, interfaces) are part of
# the key, and a hostile device could name endlessly many; past the bound requests
# are built as before, only not kept.
MAX_TEMPLATES = 512
_templates: dict[tuple[Any, ...], tuple[etree._Element, bytes, dict[str, str]]] = {}
# The same requests with a WS-Security header laid out for one username (onvif_wsse).
_signers: dict[tuple[Any, ...], onvif_wsse.DigestSigner] = {}
_KEY_SCALARS = (str, bool, int, type(None))


def _template_key(binding: Any, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Return a cache key, or None when an argument is not plain data (built each time)."""

    def plain_data(value: Any) -> bool:
        if isinstance(value, _KEY_SCALARS):
            return True
        if type(value) is dict:
            return all(type(k) is str and plain_data(v) for k, v in value.items())
        if type(value) is list:
            return all(plain_data(v) for v in value)
        return False

    if not (plain_data(list(args)) and plain_data(kwargs)):
        return None
    # repr tells True from "True" and 1 from "1", as the rendered XML would not
    return (binding, op, repr(args), repr(kwargs))


class TemplateOperationProxy(AsyncOperationProxy):
    """zeep's async operation call with the request envelope built once per arguments.

    The steps are those of ``SoapBinding.send_async`` (serialize, HTTP headers,
    WS-Security, post, ``process_reply``), in the same order with the same objects;
    only the schema rendering of the body is reused, as a deep copy that WS-Security
    then signs afresh (new nonce and Created each call). Anything this does not cover
    (WS-Addressing, plugins, SOAP headers, raw replies, another transport) takes
    zeep's own path.
    """

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        proxy = self._proxy
        client = proxy._client
        binding = proxy._binding
        transport = client.transport
        operation = binding.get(self._op_name)
        if (
            not isinstance(transport, CappedTransport)
            or "_soapheaders" in kwargs
            or client._default_soapheaders
            or client.plugins
            or client.settings.raw_response
            or client.settings.extra_http_headers
            or operation.abstract.wsa_action
        ):
            return await super().__call__(*args, **kwargs)
        key = _template_key(binding, self._op_name, args, kwargs)
        cached = _templates.get(key) if key is not None else None
        if cached is None:
            serialized = operation.create(*args, **kwargs)
            binding._set_http_headers(serialized, operation)
            cached = (serialized.content, etree_to_string(serialized.content), serialized.headers)
            if key is not None and len(_templates) < MAX_TEMPLATES:
                _templates[key] = cached
        template, message, headers = cached
        headers = dict(headers)
        token = client.wsse
        if token is not None:
            signer = None
            if key is not None and onvif_wsse.can_sign(token):
                signer_key = (key, token.username, token.zulu_timestamp)
                signer = _signers.get(signer_key)
                if signer is None:
                    signer = onvif_wsse.DigestSigner(template, token)
                    if len(_signers) < MAX_TEMPLATES:
                        _signers[signer_key] = signer
            if signer is not None:
                envelope = signer.sign(token)
            else:
                envelope = copy.deepcopy(template)  # WS-Security writes into the envelope
                for each in token if isinstance(token, list) else [token]:
                    envelope, headers = each.apply(envelope, headers)
            message = etree_to_string(envelope)
        # transport.post_message, inlined: one coroutine less per call
        response, content = await transport._post_internal(
            proxy._binding_options["address"], message, headers
        )
        return binding.process_reply(client, operation, SoapReply(response, content))


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
    timeout: float,
    credentials: tuple[str, str] | None,
    dt_diff: dt.timedelta | None,
    share_with: DeviceClients | None = None,
) -> DeviceClients:
    """Return clients for one device and identity.

    ``share_with`` (the same device's anonymous clients) lends its connection pool: a
    login then reuses the keep-alive connections the anonymous calls opened instead of
    connecting again (HTTP auth is per request: WS-Security in the body, HTTP Digest
    in a header, nothing bound to a connection). ``share_with`` must outlive these
    clients: it owns and closes the pool.
    """
    await prepare()
    connector = share_with.session.connector if share_with is not None else None
    return DeviceClients(open_session(timeout, credentials, connector), credentials, dt_diff)


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
    """Return ``obj`` (a zeep reply) as JSON data; unknown types become short strings.

    One walk over zeep's objects: the result is what ``plain`` of
    ``zeep.helpers.serialize_object(obj, dict)`` gave, without building that copy first
    (on the 250-camera lab the copy was a third of this conversion's CPU).
    """
    return _plain(obj, depth, True)


def _plain(obj: Any, depth: int, unpack: bool) -> Any:
    """``unpack``: zeep objects here are still unpacked as ``serialize_object`` would
    (it descends into lists, dicts and CompoundValues only, never into tuples).

    Types are tested on ``type(obj)``: ``isinstance`` on a CompoundValue that is not an
    instance falls back to its Python-level ``__getattribute__`` for ``__class__``, a
    dozen slow calls per node. The exact-type shortcuts come first (the common cases),
    then the checks in the order a value was always classified.
    """
    if depth > 24:
        return None
    kind = type(obj)
    if kind is str:
        return obj if len(obj) <= MAX_STR else obj[:MAX_STR]
    if obj is None or kind is bool or kind is int or kind is float:
        return obj
    if kind is dict or (unpack and issubclass(kind, CompoundValue)):
        # CompoundValue's own __getattribute__ is Python code: read __values__ past it
        values = obj if kind is dict else _object_attr(obj, "__values__")
        return _mapping(values, depth, unpack)
    if kind is list:
        return [_plain(v, depth + 1, unpack) for v in obj[:64]]
    if issubclass(kind, bool | int | float):
        return obj
    if issubclass(kind, str):
        return clip(str(obj))
    if issubclass(kind, decimal.Decimal):
        return float(obj)
    if issubclass(kind, dt.datetime | dt.date | dt.time):
        return obj.isoformat()
    if issubclass(kind, dt.timedelta):
        return obj.total_seconds()
    if issubclass(kind, bytes):
        return obj[:256].hex()
    if issubclass(kind, dict):
        return _mapping(obj, depth, unpack)
    if issubclass(kind, list):
        return [_plain(v, depth + 1, unpack) for v in obj[:64]]
    if issubclass(kind, tuple):
        return [_plain(v, depth + 1, False) for v in obj[:64]]
    if issubclass(kind, etree._Element):
        return _element(obj, depth)
    if issubclass(kind, etree.QName):  # xs:QName values, e.g. an analytics rule's Type
        return _qname(obj)
    return None  # foreign objects carry nothing we report


_object_attr = object.__getattribute__


def _mapping(values: Any, depth: int, unpack: bool) -> dict[str, Any]:
    # "_value_1" holds xs:any content as raw lxml elements: zeep puts schema
    # elements there when a vendor's extension order confuses it (Hikvision's
    # NetworkInterface Extension/InterfaceType lands there), so keep it as "_any".
    out: dict[str, Any] = {}
    for k, v in itertools.islice(values.items(), 64):
        key = "_any" if k == "_value_1" else k if type(k) is str else str(k)
        if key.startswith("_") and key != "_any":
            continue  # _attr_1 and other zeep internals
        out[key] = _plain(v, depth + 1, unpack)
    return out


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
