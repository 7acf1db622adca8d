"""ONVIF probe: clock, identity, capabilities, interfaces (radios), media profiles.

Order matters: ``GetSystemDateAndTime`` first and unauthenticated (the ONVIF core
spec keeps it open) gives ``clock_offset_s``; the WS-Security PasswordDigest is
then computed over a Created time on the camera's clock, or skewed cameras reject
correct passwords. ``GetDeviceInformation`` is tried anonymously first; credentials
are used only when the device refuses, and only when the operator gave some.

Addresses the device advertises (XAddrs) are rewritten to the probed IP: the probe
only talks to the target it was given, never to a host a device names.

The scan engine calls :func:`probe_onvif`; the zeep glue lives in ``onvif_soap``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from auditor.errors import ProbeError
from auditor.model import Observation
from probes import onvif_media2, onvif_soap
from probes.onvif_soap import (
    CALL_ERRORS,
    DeviceClients,
    HttpAuthRequired,
    classify,
    clip,
    plain,
)

log = logging.getLogger(__name__)

MAX_CREDENTIAL_ATTEMPTS = 3
MAX_PROFILES = 8  # GetStreamUri calls per device
TOTAL_BUDGET_FACTOR = 6
MEDIA_NS = "http://www.onvif.org/ver10/media/wsdl"
CAPABILITY_KEYS = ("Analytics", "Device", "Events", "Imaging", "Media", "PTZ")


def pin_host(url: str | None, ip: str, default_port: int) -> str | None:
    """Return ``url`` with its host replaced by ``ip`` (port and path kept)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port or default_port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https"):
        return None
    host = f"[{ip}]" if ":" in ip else ip
    return urlunsplit((parts.scheme, f"{host}:{port}", parts.path or "/", parts.query, ""))


def _device_xaddr(xaddr: str | None, ip: str, port: int) -> str:
    """Return where to reach the device service: ``ip:port`` with the xaddr's scheme and path.

    ``port`` (the engine's choice, and the observation's port) wins over the port an
    xaddr names, so the observation says where we really talked.
    """
    scheme = "https" if port in (443, 8443) else "http"
    path = "/onvif/device_service"
    if xaddr:
        try:
            parts = urlsplit(xaddr.strip())
        except ValueError:
            parts = None
        if parts is not None and parts.scheme in ("http", "https"):
            scheme = parts.scheme
        if parts is not None and parts.path:
            path = parts.path + (f"?{parts.query}" if parts.query else "")
    host = f"[{ip}]" if ":" in ip else ip
    return f"{scheme}://{host}:{port}{clip(path, 256)}"


def strip_userinfo(uri: str) -> str:
    """Drop ``user:pass@`` from a URI a camera reports (some embed their password)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return clip(uri)
    if "@" not in parts.netloc:
        return clip(uri)
    return clip(urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])))


def _empty_data(xaddr: str) -> dict[str, Any]:
    return {
        "xaddr": xaddr,
        "clock_offset_s": None,
        "auth": None,
        "device_info": None,
        "capabilities": {},
        "capability_xaddrs": {},  # category -> XAddr as the device advertised it
        "services": [],
        "interfaces": [],
        "scopes": [],
        "profiles": [],
        "stream_uris": [],
        "calls": {},
        "dot11": None,
    }


def _get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def _if_type(iface: Any) -> int | None:
    """Return the IANA ifType wherever the firmware put it (Link, Extension, xs:any)."""
    candidates = [_get(iface, "Link", "InterfaceType"), _get(iface, "Extension", "InterfaceType")]
    for extra in _get(iface, "Extension", "_any") or []:
        candidates.append(_get(extra, "InterfaceType"))
    for value in candidates:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().isdigit():
            return int(value.strip())
    return None


def _s(value: Any) -> str | None:
    return None if value is None else clip(str(value))


def _ssid(value: Any) -> str | None:
    """ONVIF sends SSIDs as hexBinary (``plain`` turns bytes into hex): show the text."""
    if not isinstance(value, str) or not value:
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return clip(value)
    return clip(raw[:32].decode("utf-8", "backslashreplace"))


def _dot11_network(d: dict[str, Any]) -> dict[str, Any]:
    """One Dot11Status / Dot11AvailableNetworks entry as reported (SSID decoded)."""
    auth = d.get("AuthAndMangementSuite")  # sic: the ONVIF schema's spelling; a list
    return {
        "ssid": _ssid(d.get("SSID")),
        "bssid": _s(d.get("BSSID")),
        "pair_cipher": _s(d.get("PairCipher")),
        "group_cipher": _s(d.get("GroupCipher")),
        "signal_strength": _s(d.get("SignalStrength")),
        "auth": _s(",".join(map(str, auth)) if isinstance(auth, list) else auth),
    }


class _OnvifProbe:
    def __init__(
        self,
        ip: str,
        port: int,
        xaddr: str,
        timeout: float,
        creds: list[tuple[str, str]],
        on_stream_uris: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.on_stream_uris = on_stream_uris
        self.ip = ip
        self.port = port
        self.xaddr = xaddr
        self.timeout = timeout
        self.creds = creds[:MAX_CREDENTIAL_ATTEMPTS]
        self.data = _empty_data(xaddr)
        self.dt_diff: dt.timedelta | None = None
        self.anon: DeviceClients | None = None
        self.authed: DeviceClients | None = None
        self.login_tried = False
        self.media_xaddr: str | None = None
        self.media2_xaddr: str | None = None  # Media2 (GetServices), for GetMasks

    @property
    def clients(self) -> DeviceClients:
        client = self.authed or self.anon
        assert client is not None  # created in run() before any call
        return client

    async def close(self) -> None:
        for c in (self.authed, self.anon):  # anon last: it owns the shared connection pool
            if c is not None:
                await c.close()

    async def _invoke(
        self, clients: DeviceClients, service: str, op: str, kwargs: dict[str, Any]
    ) -> Any:
        xaddr = self.xaddr if service == "devicemgmt" else self.media_xaddr
        if xaddr is None:
            raise ProbeError("no media service advertised")
        proxy = clients.service(service, xaddr)
        async with asyncio.timeout(self.timeout):
            return plain(await getattr(proxy, op)(**kwargs))

    async def call(
        self,
        op: str,
        service: str = "devicemgmt",
        record: str | None = None,
        escalate: bool = True,
        **kwargs: Any,
    ) -> Any:
        """Run one operation, record its outcome, return its reply as JSON or None.

        On the first auth refusal, with credentials at hand, log in with this very
        operation (each credential once) and keep the identity that works. With
        ``escalate=False`` a refusal is only recorded: no login, and ``auth`` keeps
        saying what the device's other calls allowed.
        """
        name = record or op
        try:
            result = await self._invoke(self.clients, service, op, kwargs)
        except CALL_ERRORS as exc:
            outcome = classify(exc)
            if isinstance(exc, HttpAuthRequired) and exc.challenge:
                self.data["http_auth"] = exc.challenge  # e.g. 'Digest realm="Login to ..."'
            if not escalate:
                self.data["calls"][name] = outcome
                return None
            if outcome == "auth" and not self.login_tried and self.creds:
                outcome, result = await self.login(service, op, kwargs)
            if outcome != "ok":
                self.data["calls"][name] = outcome
                if outcome == "auth" and self.data["auth"] in (None, "none"):
                    self.data["auth"] = "failed" if self.login_tried else "required"
                return None
        self.data["calls"][name] = "ok"
        return result

    async def login(self, service: str, op: str, kwargs: dict[str, Any]) -> tuple[str, Any]:
        """Try each credential on ``op``; return (outcome, reply) of the last attempt."""
        self.login_tried = True
        outcome = "auth"
        for index, creds in enumerate(self.creds):
            clients = await onvif_soap.device_clients(
                self.timeout, creds, self.dt_diff, share_with=self.anon
            )
            try:
                result = await self._invoke(clients, service, op, kwargs)
            except CALL_ERRORS as exc:
                await clients.close()
                outcome = classify(exc)
                if outcome != "auth":
                    return outcome, None  # not a password problem: stop guessing
                continue
            except BaseException:  # cancelled by the probe budget: close, then propagate
                await asyncio.shield(clients.close())
                raise
            self.authed = clients
            self.data["auth"] = "digest"
            self.data["credential_index"] = index
            return "ok", result
        self.data["auth"] = "failed"
        return outcome, None

    async def clock(self) -> None:
        reply = await self.call("GetSystemDateAndTime")
        utc = _get(reply, "UTCDateTime")
        try:
            cam = dt.datetime(
                int(_get(utc, "Date", "Year")),
                int(_get(utc, "Date", "Month")),
                int(_get(utc, "Date", "Day")),
                int(_get(utc, "Time", "Hour")),
                int(_get(utc, "Time", "Minute")),
                int(_get(utc, "Time", "Second")),
                tzinfo=dt.UTC,
            )
        except (TypeError, ValueError):  # no UTCDateTime (local time only) or nonsense
            self.data["clock_raw"] = reply.get("DateTimeType") if isinstance(reply, dict) else None
            return
        self.dt_diff = cam - dt.datetime.now(dt.UTC)
        self.data["clock_offset_s"] = round(self.dt_diff.total_seconds(), 1)
        self.data["ntp"] = _get(reply, "DateTimeType") == "NTP"

    def _device_info(self, info: Any) -> None:
        if not isinstance(info, dict):
            return
        self.data["device_info"] = {
            "manufacturer": _s(info.get("Manufacturer")),
            "model": _s(info.get("Model")),
            "firmware": _s(info.get("FirmwareVersion")),
            "serial": _s(info.get("SerialNumber")),
            "hardware_id": _s(info.get("HardwareId")),
        }

    async def identity(self, escalate: bool = True) -> None:
        info = await self.call("GetDeviceInformation", escalate=escalate)
        if info is not None:
            if self.data["auth"] is None:
                self.data["auth"] = "none"
            if self.data["device_info"] is None:
                self._device_info(info)

    async def capabilities(self, escalate: bool = True) -> None:
        caps = await self.call("GetCapabilities", escalate=escalate, Category="All")
        if not isinstance(caps, dict):
            return
        out: dict[str, bool] = {}
        xaddrs: dict[str, str] = {}
        for key in CAPABILITY_KEYS:
            entry = caps.get(key)
            out[key.lower()] = entry is not None
            if isinstance(entry, dict) and entry.get("XAddr"):
                xaddrs[key.lower()] = clip(str(entry["XAddr"]))
        ext = caps.get("Extension") or {}
        if isinstance(ext, dict):
            for key, entry in ext.items():
                if isinstance(entry, dict) and "XAddr" in entry:
                    out[key.lower()] = True
                    xaddrs[key.lower()] = clip(str(entry["XAddr"]))
        dot11 = _get(caps, "Device", "Network", "Dot11Configuration")
        out["dot11"] = bool(dot11)
        self.data["capabilities"] = out
        self.data["capability_xaddrs"] = xaddrs
        if "media" in xaddrs and self.media_xaddr is None:
            self.media_xaddr = pin_host(xaddrs["media"], self.ip, self.port)

    async def services(self, escalate: bool = True) -> None:
        services = await self.call("GetServices", escalate=escalate, IncludeCapability=False)
        if not isinstance(services, list):
            return
        names: list[str] = []
        for svc in services:
            ns = _s(_get(svc, "Namespace"))
            if ns:
                names.append(ns)
                if ns == MEDIA_NS:
                    self.media_xaddr = pin_host(_get(svc, "XAddr"), self.ip, self.port)
                elif ns == onvif_media2.MEDIA2_NS:
                    self.media2_xaddr = pin_host(_get(svc, "XAddr"), self.ip, self.port)
        self.data["services"] = names

    async def interfaces(self) -> None:
        ifaces = await self.call("GetNetworkInterfaces")
        if not isinstance(ifaces, list):
            return
        out = []
        for iface in ifaces:
            if_type = _if_type(iface)
            out.append(
                {
                    "token": _s(_get(iface, "token")),
                    "name": _s(_get(iface, "Info", "Name")),
                    "mac": _s(_get(iface, "Info", "HwAddress")),
                    # IANA ifType as the device sent it: 6 Ethernet, 71 802.11, 243/244 3GPP
                    "if_type": if_type if isinstance(if_type, int) else None,
                    "enabled": bool(_get(iface, "Enabled")),
                }
            )
        self.data["interfaces"] = out

    async def dot11(self) -> None:
        """Ask a device that admits to 802.11 what its radio is doing (issue 5).

        Only when GetCapabilities says Dot11Configuration or an interface has ifType 71;
        otherwise ``dot11`` records ``supported: false`` without a round trip (a device
        that answers the calls anyway is no more truthful for it).
        The calls run at once so a slow camera costs one timeout, not three.
        """
        names = ("GetDot11Capabilities", "GetDot11Status", "ScanAvailableDot11Networks")
        token = next(
            (i["token"] for i in self.data["interfaces"] if i.get("if_type") == 71 and i["token"]),
            None,
        )
        if not self.data["capabilities"].get("dot11") and token is None:
            # ``calls`` lists only calls made; the verdict is recorded here instead.
            self.data["dot11"] = {"supported": False, "reason": "no Dot11 advertised"}
            return
        if token is None:  # Dot11 capability without an 802.11 interface to name
            caps = await self.call(names[0])
            status = networks = None
        else:
            caps, status, networks = await asyncio.gather(
                self.call(names[0]),
                self.call(names[1], InterfaceToken=token),
                self.call(names[2], InterfaceToken=token),
            )
        self.data["dot11"] = {
            "supported": True,
            "reason": None if token else "Dot11 advertised, no 802.11 interface listed",
            "interface": token,
            "capabilities": {str(k): v for k, v in caps.items() if isinstance(v, bool)}
            if isinstance(caps, dict)
            else None,
            "status": _dot11_network(status) if isinstance(status, dict) else None,
            "networks": [_dot11_network(n) for n in networks if isinstance(n, dict)][:32]
            if isinstance(networks, list)
            else None,
        }

    async def scopes(self) -> None:
        scopes = await self.call("GetScopes")
        if isinstance(scopes, list):
            self.data["scopes"] = [s for s in (_s(_get(x, "ScopeItem")) for x in scopes) if s]

    async def media(self) -> None:
        if self.media_xaddr is None:
            self.data["calls"]["GetProfiles"] = "no media service advertised"
            return
        profiles = await self.call("GetProfiles", service="media")
        if not isinstance(profiles, list):
            return
        out = []
        for prof in profiles[:32]:
            out.append(
                {
                    "token": _s(_get(prof, "token")),
                    "name": _s(_get(prof, "Name")),
                    "video_encoding": _s(_get(prof, "VideoEncoderConfiguration", "Encoding")),
                    "audio": bool(
                        _get(prof, "AudioEncoderConfiguration")
                        or _get(prof, "AudioSourceConfiguration")
                    ),
                }
            )
        self.data["profiles"] = out
        replies = await asyncio.gather(
            *(
                self.call(
                    "GetStreamUri",
                    service="media",
                    StreamSetup={"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                    ProfileToken=prof["token"],
                )
                for prof in out[:MAX_PROFILES]
                if prof["token"]
            )
        )
        for reply in replies:  # in profile order, whatever order they answered in
            uri = _get(reply, "Uri")
            if uri:
                self.data["stream_uris"].append(strip_userinfo(str(uri)))
        if self.on_stream_uris is not None:
            self.on_stream_uris(list(self.data["stream_uris"]))

    async def users(self) -> None:
        """GetUsers with the identity we already have, never a login just for it.

        Names and levels only: ONVIF does not return passwords here, and any a firmware
        sends anyway are dropped. Anonymous success is what CAM-EXP-ONVIF-USERS reports.
        """
        reply = await self.call("GetUsers", escalate=False)
        if not isinstance(reply, list):
            return
        self.data["users"] = [
            {"username": _s(_get(u, "Username")), "level": _s(_get(u, "UserLevel"))}
            for u in reply[:64]
            if isinstance(u, dict)
        ]

    async def ntp_config(self) -> None:
        """GetNTP: where the device takes its time from (DHCP and/or named servers)."""
        reply = await self.call("GetNTP", escalate=False)
        if not isinstance(reply, dict):
            return
        servers: list[str] = []
        for key in ("NTPFromDHCP", "NTPManual"):
            for host in reply.get(key) or []:
                addr = next(
                    (_get(host, k) for k in ("IPv4Address", "IPv6Address", "DNSname")
                     if _get(host, k)),
                    None,
                )  # fmt: skip
                if addr:
                    servers.append(clip(str(addr)))
        self.data["ntp_config"] = {"from_dhcp": bool(reply.get("FromDHCP")), "servers": servers}

    async def analytics(self) -> None:
        """Video analytics configurations (media service), when Analytics is advertised."""
        if not self.data["capabilities"].get("analytics") or self.media_xaddr is None:
            return
        reply = await self.call("GetVideoAnalyticsConfigurations", service="media")
        if not isinstance(reply, list):
            return

        def items(cfg: Any, engine: str, item: str) -> list[dict[str, Any]]:
            found = _get(cfg, engine, item)
            return [
                {"name": _s(_get(x, "Name")), "type": _s(_get(x, "Type"))}
                for x in (found if isinstance(found, list) else [])[:32]
                if isinstance(x, dict)
            ]

        self.data["analytics"] = [
            {
                "token": _s(_get(cfg, "token")),
                "name": _s(_get(cfg, "Name")),
                "rules": items(cfg, "RuleEngineConfiguration", "Rule"),
                "modules": items(cfg, "AnalyticsEngineConfiguration", "AnalyticsModule"),
            }
            for cfg in reply[:16]
            if isinstance(cfg, dict)
        ]

    async def masks(self) -> None:
        """Media2 GetMasks (privacy masks) with the identity we have, when GetServices
        answered; ``privacy_masks`` says what is known (docs/observations.md)."""
        if self.data["calls"].get("GetServices") != "ok":
            return  # unknown whether Media2 exists: record nothing rather than guess
        if self.media2_xaddr is None:
            self.data["privacy_masks"] = {"supported": False, "reason": "no Media2 service"}
            return
        outcome, masks = await onvif_media2.get_masks(
            self.clients, self.media2_xaddr, self.dt_diff, self.timeout
        )
        self.data["calls"]["GetMasks"] = outcome
        if outcome == "ok" and masks is not None:
            self.data["privacy_masks"] = {"supported": True, "masks": masks}
        else:
            supported = False if outcome == "not supported" else None
            self.data["privacy_masks"] = {"supported": supported, "reason": f"GetMasks: {outcome}"}

    async def run(self) -> None:
        self.anon = await onvif_soap.device_clients(self.timeout, None, None)
        # Round 1 needs nothing from anyone: the clock, an anonymous GetDeviceInformation,
        # and GetCapabilities/GetServices, which the ONVIF Core spec lets anyone ask
        # (PRE_AUTH) and which name the media service. A login needs the clock (digests
        # carry its time), so it waits for it and happens only when the anonymous call
        # was refused; nothing here escalates to a login before the clock is known.
        await asyncio.gather(
            self.clock(),
            self.identity(escalate=False),
            self.capabilities(escalate=False),
            self.services(escalate=False),
        )
        if self.data["calls"].get("GetDeviceInformation") == "auth":
            if self.creds and not self.login_tried:
                outcome, info = await self.login("devicemgmt", "GetDeviceInformation", {})
                self.data["calls"]["GetDeviceInformation"] = outcome
                if outcome == "ok" and info is not None and self.data["device_info"] is None:
                    self._device_info(info)
            elif self.data["auth"] in (None, "none"):
                self.data["auth"] = "required"
        if self.data["calls"].get("GetDeviceInformation") not in ("ok", "auth"):
            return  # neither an answer nor a refusal: not a working ONVIF endpoint
        # Independent calls at once: a slow camera then costs one round trip per stage
        # instead of one per call. Firmware that refused GetCapabilities/GetServices to
        # an anonymous caller is asked again with the identity we now have, and then
        # what needs the media XAddr waits for that answer.
        redo = [
            c for c in ("GetCapabilities", "GetServices") if self.data["calls"].get(c) == "auth"
        ]

        async def interfaces_then_dot11() -> None:
            await self.interfaces()
            if redo:
                await ready.wait()  # dot11 also reads the capabilities
            await self.dot11()

        async def media_side() -> None:
            if redo:
                await asyncio.gather(
                    *(self.capabilities() if c == "GetCapabilities" else self.services()
                      for c in redo)
                )  # fmt: skip
                ready.set()
            await asyncio.gather(self.media(), self.analytics(), self.masks())

        ready = asyncio.Event()
        await asyncio.gather(
            media_side(),
            interfaces_then_dot11(),
            self.scopes(),
            self.users(),
            self.ntp_config(),
        )


async def probe_onvif(
    ip: str,
    port: int,
    *,
    xaddr: str | None,
    timeout: float,
    credentials: list[tuple[str, str]],
    on_stream_uris: Callable[[list[str]], None] | None = None,
) -> Observation:
    """Probe one ONVIF device service and return an ``onvif`` Observation.

    ``on_stream_uris(uris)`` is called once GetStreamUri has answered (credentials
    stripped), before the probe's other calls are done: the caller can check them.

    ``timeout`` bounds each SOAP call; the whole probe is bounded by
    ``TOTAL_BUDGET_FACTOR * timeout``. Never raises for a misbehaving device: the
    outcome of every call is in ``data["calls"]`` and the first failure that stopped
    the probe is in ``error``. Credentials are tried (at most three) only when the
    device refuses anonymous access. Only the path of ``xaddr`` (from WS-Discovery)
    is used; the device is always reached at ``ip:port``.
    """
    device_xaddr = _device_xaddr(xaddr, ip, port)
    probe = _OnvifProbe(ip, port, device_xaddr, timeout, credentials, on_stream_uris)
    error: str | None = None
    try:
        async with asyncio.timeout(timeout * TOTAL_BUDGET_FACTOR):
            await probe.run()
    except TimeoutError:
        error = f"timeout after {timeout * TOTAL_BUDGET_FACTOR}s (probe budget)"
    except ProbeError as exc:  # WSDL could not load: our fault, still no crash
        error = clip(str(exc))
    finally:
        # shielded: when the engine cuts the step off, the sessions must still close
        await asyncio.shield(probe.close())
    data = probe.data
    if error is None:
        info_outcome = data["calls"].get("GetDeviceInformation")
        if info_outcome not in (None, "ok", "auth"):
            error = info_outcome
        elif data["auth"] in ("required", "failed") and data["device_info"] is None:
            error = "not authorized"
    return Observation(probe="onvif", ip=ip, port=port, data=data, error=error)
