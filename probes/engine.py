"""The scan engine: discover the user's hosts, then identify each live one.

Stage "discover" runs three things at once: an ARP sweep of targets on directly
connected subnets, a TCP connect scan of the camera ports, and WS-Discovery (unicast to
every target, multicast only out of interfaces that face the targets). Stage "identify"
then runs, per live host and bounded, HTTP banners, RTSP, ONVIF and vendor ports.
Every step has a timeout and the whole scan an optional deadline; a device that
misbehaves yields an observation with ``error`` and never stalls the rest.

camaudit never chooses targets: ``hosts`` must lie inside ``networks`` (both from
:func:`auditor.targets.parse_targets`), and nothing outside ``hosts`` is contacted, not
even an address a device advertises in its WS-Discovery XAddrs.
"""

from __future__ import annotations

import asyncio
import bisect
import importlib
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from auditor.errors import ProbeError, TargetError
from auditor.model import Observation
from probes import arp, http, netinfo, portscan, vendor_port, wsdiscovery
from probes.admission import Admission

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]

HTTP_PORTS = frozenset(
    {80, 81, 88, 443, 2000, 3000, 5000, 7001, 8001, 8080, 8081, 8443, 8888, 8899}
)
RTSP_PORTS = frozenset({554, 8554, 10554})
VENDOR_PORTS = frozenset(vendor_port.TCP_SERVICES)
# A WS-Discovery answer later than this, and than 3x the median of all answers so far
# (a busy probe or network delays every answer alike), marks a slow device. A healthy
# camera answers within tens of milliseconds; the lab's slow ones take a second.
SLOW_REPLY_MS = 1000


@dataclass
class ScanOptions:
    """What a scan does. Defaults suit a LAN of cameras; every timeout is in seconds."""

    ports: Sequence[int] = portscan.DEFAULT_PORTS
    timeout: float = 2.5  # per identification step (one HTTP fetch, one RTSP exchange, ...)
    connect_timeout: float = 1.0  # per TCP connect in the port scan
    discovery_timeout: float = 3.0  # WS-Discovery listening time (hosts that answer go on)
    # Connects in flight. Addresses nobody answers hold a slot for connect_timeout, so
    # a low value lets a sweep of empty addresses (a routed /24 through its router)
    # starve the live hosts' port scans: 250-camera lab, 512 -> 15.2 s, 2048 -> 13.1 s.
    concurrency: int = 2048
    # Hosts identified at once. Measured on the 250-camera lab (2 cores, whole CLI):
    # 128 -> 15 s and 140 MB peak, 256 -> 13.7 s and 156 MB; a Pi probe needs the memory.
    identify_concurrency: int = 128
    # ... plus this many for hosts whose WS-Discovery reply took over SLOW_REPLY_MS:
    # they are served first (see probes/admission.py), since their chains of dependent
    # round trips, started late, would set the length of the whole scan.
    identify_reserve: int = 32
    deadline: float | None = None  # whole-scan limit; unfinished jobs become errors
    # host discovery only (nmap -sn): ARP on-link, TCP ping off-link; no WS-Discovery,
    # no port scan, no identification
    discover_only: bool = False
    arp: bool = True
    ping: bool = True  # host discovery first; False scans every target's ports (nmap -Pn)
    multicast: bool = True
    vendor_udp: bool = False  # vendor broadcast/multicast discovery (opt-in)
    http: bool = True
    rtsp: bool = True
    decode_frame: bool = True  # decode a frame of streams that play without credentials
    decode_all_frames: bool = False  # ... and of authenticated streams too (slower)
    onvif: bool = True
    vendor_tcp: bool = True
    credentials: list[tuple[str, str]] = field(default_factory=list)
    # opt-in: try the maker's published default passwords (<= 3 per host, stops at lockout)
    check_default_creds: bool = False
    wsd_port: int = wsdiscovery.WSD_PORT  # tests point this at a loopback responder
    interfaces: list[netinfo.Interface] | None = None  # None: read from the system


def _check_targets(hosts: list[str], networks: list[ipaddress.IPv4Network]) -> None:
    for h in hosts:
        addr = ipaddress.IPv4Address(h)
        if not any(addr in n for n in networks):
            raise TargetError(f"host {h} is not inside the named networks: refusing to scan it")


def _lazy_probe(module: str, name: str) -> Callable[..., Awaitable[Observation]] | None:
    """``probes.<module>.<name>`` if that module exists yet, else None (logged once)."""
    try:
        mod = importlib.import_module(f"probes.{module}")
    except ImportError as exc:
        log.warning("probes.%s unavailable (%s): skipping %s checks", module, exc, module)
        return None
    fn = getattr(mod, name, None)
    if fn is None:
        log.warning("probes.%s has no %s: skipping", module, name)
    return fn


class _Counter:
    def __init__(self, stage: str, total: int, progress: Progress | None) -> None:
        self.stage, self.total, self.done, self.progress = stage, total, 0, progress
        self.tick(0)

    def tick(self, n: int = 1) -> None:
        self.done += n
        if self.progress is not None:
            self.progress(self.stage, self.done, self.total)

    def grow(self, n: int) -> None:
        """More work became known (a host found alive, its jobs planned)."""
        self.total += n
        self.tick(0)


async def _guard(
    coro: Awaitable[Any], probe: str, ip: str, port: int | None, limit: float
) -> list[Observation]:
    """Run one step under ``limit``; turn a timeout or a probe failure into an error obs."""
    try:
        got = await asyncio.wait_for(coro, limit)
    except TimeoutError:
        return [Observation(probe, ip, port=port, error=f"timeout after {limit:g}s")]
    except (ProbeError, OSError) as exc:  # a probe that raised instead of recording
        return [Observation(probe, ip, port=port, error=str(exc)[:512])]
    if isinstance(got, Observation):
        return [got]
    return list(got)


#: Ports a "TCP ping" tries on hosts ARP cannot vouch for (off-link, or no CAP_NET_RAW).
#: Any answer, even an RST from a closed port, proves the host is there.
PING_PORTS: tuple[int, ...] = (80, 554, 443, 8000)

#: A probe step (which may make a few requests) is cut off after this many timeouts.
STEP_LIMIT_FACTOR = 3

#: ONVIF endpoints tried per host: a camera advertises one or two; a device advertising
#: hundreds (a WS-Discovery flood) must not turn the scan into a port sweep of itself.
MAX_ONVIF_TARGETS = 4


#: How often the scan hands freed heap back to the system (see _give_back_memory).
TRIM_EVERY_S = 0.25


async def _give_back_memory() -> None:
    """Return freed heap pages to the system while the scan runs (glibc ``malloc_trim``).

    Hundreds of devices answered at once leave the C heap (lxml trees, aiohttp buffers)
    full of freed chunks that glibc keeps; on a Raspberry Pi probe the resident size is
    what counts. Measured on the 250-camera lab: about 5 MB lower peak, no slower.
    Without glibc (musl, macOS) this does nothing.
    """
    try:
        import ctypes

        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return
    while True:
        await asyncio.sleep(TRIM_EVERY_S)
        trim(0)


def _identify_jobs(
    ip: str,
    open_ports: list[int],
    xaddrs: Callable[[], Awaitable[list[str]]],
    opts: ScanOptions,
    hosts: set[str],
) -> list[tuple[str, int | None, Callable[[], Awaitable[Any]]]]:
    """The host's identification jobs, (probe, port, start). ``xaddrs()`` waits for the
    host's WS-Discovery XAddrs (or the end of the listening window): only ONVIF needs
    them, so HTTP, RTSP and the rest start at once."""
    if ip not in hosts:  # belt and braces: identification only ever touches the user's hosts
        raise TargetError(f"{ip} is not a target")
    jobs: list[tuple[str, int | None, Callable[[], Awaitable[Any]]]] = []
    t = opts.timeout
    creds = opts.credentials
    if opts.http:
        jobs += [
            ("http", p, partial(http.grab, ip, p, timeout=t)) for p in open_ports if p in HTTP_PORTS
        ]
    rtsp_ports = [p for p in open_ports if p in RTSP_PORTS] if opts.rtsp else []
    probe_rtsp = _lazy_probe("rtsp", "probe_rtsp") if rtsp_ports else None
    probe_onvif = _lazy_probe("onvif", "probe_onvif") if opts.onvif else None
    web_ports = [p for p in open_ports if p in HTTP_PORTS]

    async def onvif_targets() -> list[tuple[int, str | None]]:
        targets: list[tuple[int, str | None]] = []
        for x in await xaddrs():
            u = urlsplit(x)
            if u.hostname != ip:  # a device may advertise any address; we stay on ours
                log.info("onvif: ignoring xaddr %s of %s (not that host)", x, ip)
                continue
            port = u.port or (443 if u.scheme == "https" else 80)
            if (port, x) not in targets and len(targets) < MAX_ONVIF_TARGETS:
                targets.append((port, x))
        return targets or [(p, None) for p in web_ports]

    def rtsp_step(port: int, paths: list[str]) -> Awaitable[list[Observation]]:
        assert probe_rtsp is not None
        coro = probe_rtsp(
            ip,
            port,
            timeout=t,
            credentials=creds,
            decode_frame=opts.decode_frame,
            decode_authenticated=opts.decode_all_frames,
            paths=paths,
        )
        # the frame decode has its own bound (>= 5 s) on top of the exchange
        return _guard(coro, "rtsp", ip, port, STEP_LIMIT_FACTOR * t + 6)

    async def onvif_and_rtsp() -> list[Observation]:
        # ONVIF and RTSP run at once (a slow camera would otherwise pay for both in a
        # row). When the common RTSP paths found no stream, RTSP is asked again with
        # the paths the camera itself advertised through ONVIF GetStreamUri, as soon as
        # ONVIF has them (not when its other calls are done).
        uris: list[str] = []
        uris_known = asyncio.Event()

        def got_uris(found: list[str]) -> None:
            uris.extend(found)
            if found:
                uris_known.set()

        async def onvif_all() -> list[Observation]:
            # Several endpoints (advertised XAddrs, or web ports guessed when the host
            # sent no WS-Discovery reply) are asked at once, not one after another.
            try:
                if probe_onvif is None:
                    return []
                limit = STEP_LIMIT_FACTOR * t + 1
                asks = []
                for p, x in await onvif_targets():
                    ask = probe_onvif(
                        ip, p, xaddr=x, timeout=t, credentials=creds, on_stream_uris=got_uris
                    )
                    asks.append(_guard(ask, "onvif", ip, p, limit))
                return [o for got in await asyncio.gather(*asks) for o in got]
            finally:
                uris_known.set()  # whatever ONVIF found, RTSP waits no longer

        async def rtsp_all() -> list[Observation]:
            final: list[Observation] = []
            for p in rtsp_ports if probe_rtsp is not None else []:
                for o in await rtsp_step(p, []):
                    if o.data.get("describe_status") in (200, 401) or o.port is None:
                        final.append(o)
                        continue
                    await uris_known.wait()
                    tried = set((o.data.get("paths") or {}).keys())
                    advertised = dict.fromkeys(
                        urlsplit(u).path + (f"?{urlsplit(u).query}" if urlsplit(u).query else "")
                        for u in uris
                    )
                    fresh = [a for a in advertised if a not in tried]
                    final += await rtsp_step(o.port, fresh) if fresh else [o]
            return final

        onvif_obs, rtsp_obs = await asyncio.gather(onvif_all(), rtsp_all())
        return onvif_obs + rtsp_obs

    if probe_onvif is not None or probe_rtsp is not None:
        # named for ONVIF when it may run (its port: the first web port, as a guess
        # until the XAddrs are in), else for RTSP
        onvif_port = web_ports[0] if web_ports else None
        name = "onvif" if probe_onvif is not None else "rtsp"
        chain_port = onvif_port if probe_onvif is not None else rtsp_ports[0]
        jobs.append((name, chain_port, onvif_and_rtsp))
    if opts.vendor_tcp:
        jobs += [
            ("vendor_port", p, partial(vendor_port.probe_tcp, ip, p, timeout=t))
            for p in open_ports
            if p in VENDOR_PORTS
        ]
    # UPnP/SSDP (issue 7): one unicast M-SEARCH to this host, never to the group. It rides
    # with HTTP and ONVIF identification (the description it names is served over HTTP).
    if opts.http and opts.onvif and (probe_ssdp := _lazy_probe("ssdp", "probe_ssdp")):
        jobs.append(("ssdp", 1900, partial(probe_ssdp, ip, timeout=t)))
    return jobs


async def run_scan(
    hosts: list[str],
    networks: list[ipaddress.IPv4Network],
    options: ScanOptions | None = None,
    progress: Progress | None = None,
) -> list[Observation]:
    """Scan the user's ``hosts`` (inside ``networks``); return every observation made.

    A pipeline per host: as soon as discovery shows a host alive (an ARP reply on-link,
    any answer to a TCP ping off-link, a WS-Discovery match), its ports are scanned, and
    once WS-Discovery has finished listening (its XAddrs steer ONVIF) it is identified.
    Nothing waits for the slowest host of an earlier stage. With ``ping`` off, every
    target is port-scanned (nmap's -Pn).

    Raises :class:`TargetError` if a host lies outside ``networks``. Device misbehaviour
    never raises: it is recorded as observations with ``error``. ``progress(stage, done,
    total)`` is called as work completes (stages "discover", "ports", "identify"; the
    totals of the last two grow as hosts are found).
    """
    opts = options or ScanOptions()
    nets = list(networks) or [ipaddress.IPv4Network(f"{h}/32") for h in hosts]
    host_list = list(dict.fromkeys(hosts))
    _check_targets(host_list, nets)
    if not host_list:
        return []
    loop = asyncio.get_running_loop()
    hard_deadline = None if opts.deadline is None else loop.time() + opts.deadline
    ifaces = opts.interfaces if opts.interfaces is not None else netinfo.list_interfaces()
    facing = netinfo.facing_map(nets, ifaces)
    for iface, fnets in facing.items():
        log.info("targets %s are on-link via %s", ", ".join(map(str, fnets)), iface.name)

    started = time.time()
    host_set = set(host_list)
    obs: list[Observation] = []
    dcount = _Counter("discover", len(host_list), progress)
    later_stages = None if opts.discover_only else progress  # discovery only: one stage
    pcount = _Counter("ports", 0, later_stages)
    icount = _Counter("identify", 0, later_stages)
    connect_pool = portscan.ConnectPool(portscan.max_concurrency(opts.concurrency))
    admission = Admission(max(1, opts.identify_concurrency), max(0, opts.identify_reserve))
    wsd_done = asyncio.Event()
    wsd_reply: dict[str, asyncio.Event] = {}
    xaddrs: dict[str, list[str]] = {}
    pipelines: dict[str, asyncio.Task[None]] = {}
    finished: set[str] = set()
    # each step inside a job has its own bound (STEP_LIMIT_FACTOR x timeout); this outer
    # one only catches a job that somehow ignores them (ONVIF and RTSP together are two
    # steps plus a frame decode).
    chain_limit = 2 * STEP_LIMIT_FACTOR * opts.timeout + 8
    step_limit = STEP_LIMIT_FACTOR * opts.timeout + 1

    async def run_job(
        ip: str, probe: str, port: int | None, make: Callable[[], Awaitable[Any]]
    ) -> list[Observation]:
        limit = chain_limit if probe in ("onvif", "rtsp") else step_limit
        if hard_deadline is not None:
            limit = min(limit, hard_deadline - loop.time())
        if limit <= 0:
            res = [Observation(probe, ip, port=port, error="scan deadline reached")]
        else:
            t0 = loop.time()
            res = await _guard(make(), probe, ip, port, limit)
            took = loop.time() - t0
            if took > 2 * opts.timeout:
                log.info("slow device: %s %s:%s took %.1fs", probe, ip, port, took)
        icount.tick()
        return res

    t = opts.timeout
    ask_api = _lazy_probe("vendor_api", "probe_vendor_api") if opts.credentials else None
    board_of: Callable[[str, list[Observation]], str | None] | None = None
    if ask_api is not None:
        from probes.vendor_api import board_api

        board_of = board_api

    async def pipeline(ip: str) -> None:
        pcount.grow(1)
        (res,) = await portscan.scan(
            [ip], opts.ports, timeout=opts.connect_timeout, pool=connect_pool
        )
        pcount.tick()
        obs.extend(portscan.to_observations([res], len(opts.ports)))
        # The bound is on hosts, not on jobs: a host's jobs run together, so a slow
        # camera's five jobs never queue behind each other or hold back a fast one. A
        # host takes its place in line when its ports are known, not when it answered
        # WS-Discovery: a camera that answers slowly would otherwise always come last
        # and, at a second per answer, set the length of the whole scan.
        reserved = await admission.acquire(ip)
        try:
            replied = wsd_reply.setdefault(ip, asyncio.Event())

            async def wsd_answer() -> bool:
                """Wait for this host's WS-Discovery reply or the end of the listening
                window; True if it replied."""
                if not (replied.is_set() or wsd_done.is_set()):
                    waits = [asyncio.ensure_future(e.wait()) for e in (replied, wsd_done)]
                    try:
                        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        for w in waits:
                            w.cancel()
                return replied.is_set()

            async def host_xaddrs() -> list[str]:
                # ONVIF is steered by WS-Discovery's XAddrs: it goes as soon as this
                # host answered, or once the listening window has closed without it.
                await wsd_answer()
                return xaddrs.get(ip, [])

            jobs = _identify_jobs(ip, res.open, host_xaddrs, opts, host_set)
            icount.grow(len(jobs))
            web = [j for j in jobs if j[0] == "http"]
            rest = [j for j in jobs if j[0] != "http"]

            def api_job(seen: list[Observation]) -> Awaitable[list[Observation]]:
                assert ask_api is not None
                icount.grow(1)
                ask = partial(
                    ask_api, ip, observations=seen, credentials=opts.credentials, timeout=t
                )
                return run_job(ip, "vendor_api", None, ask)

            async def web_then_api() -> list[Observation]:
                # Opt-in vendor APIs (ISAPI, Dahua CGI) with the operator's credentials:
                # beside the web banners when discovery already named the board (a slow
                # camera's API walk is several dependent round trips), else as soon as
                # the banners have named it; ONVIF and RTSP go on meanwhile.
                banners = asyncio.gather(*(run_job(ip, *j) for j in web))
                if ask_api is None:
                    return [o for r in await banners for o in r]
                # whichever names the board first: the WS-Discovery reply or the banners
                answer: asyncio.Future[Any] = asyncio.ensure_future(wsd_answer())
                try:
                    await asyncio.wait((banners, answer), return_when=asyncio.FIRST_COMPLETED)
                except asyncio.CancelledError:
                    banners.cancel()  # asyncio.wait leaves what it waited on running
                    raise
                finally:
                    answer.cancel()
                known = list(
                    {id(o): o for o in [*obs, *wsd_seen.get(ip, [])] if o.ip == ip}.values()
                )
                if not banners.done() and board_of is not None and board_of(ip, known):
                    api_obs, web_runs = await asyncio.gather(api_job(known), banners)
                    return api_obs + [o for r in web_runs for o in r]
                got = [o for r in await banners for o in r]
                return got + await api_job(known + got)

            for got in await asyncio.gather(web_then_api(), *(run_job(ip, *j) for j in rest)):
                obs.extend(got)
        finally:
            admission.release(reserved)
        finished.add(ip)

    # On-link hosts are ARPed before anything else is sent to them (see do_arp_and_ping);
    # WS-Discovery unicast reaches them once ARP (or the TCP ping fallback) finds them.
    on_link = {
        h
        for iface, fnets in facing.items()
        if iface.can_arp and opts.arp
        for h in host_list
        if any(ipaddress.IPv4Address(h) in n for n in fnets)
    }
    confirmations: asyncio.Queue[str] | None = asyncio.Queue() if opts.ping and on_link else None

    def alive(ip: str) -> None:
        if opts.discover_only:
            return  # ARP replies and ping answers are the observations
        if ip in host_set and ip not in pipelines:
            pipelines[ip] = asyncio.create_task(pipeline(ip))
            if confirmations is not None:
                confirmations.put_nowait(ip)

    reply_ms: list[int] = []  # WS-Discovery answer latencies so far, sorted
    wsd_seen: dict[str, list[Observation]] = {}  # matches as they come (obs gets them at the end)

    async def do_wsd() -> None:
        mifaces = [i for i in facing if i.can_multicast] if opts.multicast else []

        def matched(o: Observation) -> None:
            took = o.data.get("reply_ms")
            if isinstance(took, int):
                bisect.insort(reply_ms, took)
                if took > max(SLOW_REPLY_MS, 3 * reply_ms[len(reply_ms) // 2]):
                    admission.mark_slow(o.ip)
            xaddrs.setdefault(o.ip, []).extend(o.data.get("xaddrs") or [])
            wsd_seen.setdefault(o.ip, []).append(o)
            wsd_reply.setdefault(o.ip, asyncio.Event()).set()
            alive(o.ip)

        try:
            found = await wsdiscovery.discover(
                host_list,
                nets,
                multicast_ifaces=mifaces,
                timeout=opts.discovery_timeout,
                port=opts.wsd_port,
                on_match=matched,
                confirmed_later=on_link if confirmations is not None else (),
                confirmations=confirmations,
            )
            obs.extend(found)
            for o in found:
                if o.error is None:
                    alive(o.ip)
        finally:
            wsd_done.set()

    async def ping(targets: list[str]) -> None:
        def done(r: portscan.HostResult) -> None:
            dcount.tick()
            if r.alive:
                alive(r.ip)
                if opts.discover_only:  # no port scan follows: the answer is the record
                    obs.extend(portscan.to_observations([r], len(PING_PORTS)))

        await portscan.scan(
            targets,
            PING_PORTS,
            timeout=opts.connect_timeout,
            pool=connect_pool,
            on_host_done=done,
        )

    async def do_arp_and_ping() -> None:
        # Off-link hosts are pinged at once; on-link ones are ARPed (authoritative there:
        # a host that exists answers ARP) and pinged only if ARP was impossible.
        off_link = asyncio.create_task(ping([h for h in host_list if h not in on_link]))
        unswept = set(on_link)
        for iface, fnets in facing.items():
            if not (iface.can_arp and opts.arp):
                continue
            try:
                got = await arp.sweep(
                    iface,
                    host_list,
                    fnets,
                    timeout=min(1.0, opts.discovery_timeout),
                    on_reply=alive,  # a host's pipeline starts with its own reply
                )
            except PermissionError:
                log.warning("no CAP_NET_RAW: ARP sweep skipped, TCP ping instead")
                continue
            obs.extend(got)
            for o in got:
                alive(o.ip)
            swept = {h for h in on_link if any(ipaddress.IPv4Address(h) in n for n in fnets)}
            dcount.tick(len(swept & unswept))
            unswept -= swept
        if unswept:
            await ping(sorted(unswept, key=ipaddress.IPv4Address))
        await off_link

    async def discover_and_identify() -> None:
        steps: list[Awaitable[Any]] = [] if opts.discover_only else [do_wsd()]
        if opts.ping or opts.discover_only:
            steps.append(do_arp_and_ping())
        else:
            for h in host_list:
                alive(h)
            dcount.tick(len(host_list))
            if opts.arp:
                steps.append(do_arp_only())
        if opts.vendor_udp:
            steps.append(do_vendor_udp())
        await asyncio.gather(*steps)
        # discovery is over: no new pipelines can start; wait for the running ones
        await asyncio.gather(*pipelines.values())

    async def do_arp_only() -> None:
        for iface, fnets in facing.items():
            if iface.can_arp:
                try:
                    obs.extend(await arp.sweep(iface, host_list, fnets, timeout=1.0))
                except PermissionError:
                    log.warning("no CAP_NET_RAW: ARP sweep skipped")

    async def do_vendor_udp() -> None:
        for iface, fnets in facing.items():
            if iface.can_multicast and not iface.loopback:
                obs.extend(await vendor_port.discover_udp(iface, host_list, fnets))

    # A little grace past the deadline: running jobs are bounded by it themselves and
    # record "timeout" observations; this outer bound only cuts what is still queued.
    limit = None if hard_deadline is None else max(0.0, hard_deadline - loop.time()) + 0.5
    trimmer = asyncio.create_task(_give_back_memory())
    try:
        await asyncio.wait_for(discover_and_identify(), limit)
    except TimeoutError:
        log.warning("scan deadline reached")
        for task in pipelines.values():
            task.cancel()
        await asyncio.gather(*pipelines.values(), return_exceptions=True)
        obs.extend(
            Observation("engine", h, error="scan deadline reached")
            for h in host_list
            if h in pipelines and h not in finished
        )
    finally:
        trimmer.cancel()
        await asyncio.gather(trimmer, return_exceptions=True)
    live = {o.ip for o in obs if o.error is None} & host_set
    have_mac = {o.ip for o in obs if o.probe == "arp"}
    on_link_live = {
        h for h in live - have_mac if any(ipaddress.IPv4Address(h) in i.network for i in facing)
    }
    if on_link_live:
        try:
            obs.extend(arp.neighbours(sorted(on_link_live)))
        except ProbeError as exc:
            log.warning("neighbour table unavailable: %s", exc)
    log.info(
        "scan: %d live hosts of %d, %d observations in %.2fs",
        len(live),
        len(host_list),
        len(obs),
        time.time() - started,
    )
    if opts.check_default_creds:
        # after identification: the check needs the maker and the endpoints that asked
        # for credentials, which only the identify stage knows
        from probes.defaultcreds import check_default_creds

        seen = list(obs)
        hosts_live = sorted(live, key=ipaddress.IPv4Address)
        icount.grow(len(hosts_live))

        async def check(ip: str) -> list[Observation]:
            reserved = await admission.acquire(ip)
            try:
                make = partial(check_default_creds, ip, seen, timeout=opts.timeout)
                return await run_job(ip, "defaultcreds", None, make)
            finally:
                admission.release(reserved)

        checks = [check(ip) for ip in hosts_live]
        for res in await asyncio.gather(*checks):
            obs.extend(res)
    return obs


def run_scan_sync(
    hosts: list[str],
    networks: list[ipaddress.IPv4Network],
    options: ScanOptions | None = None,
    progress: Progress | None = None,
) -> list[Observation]:
    """:func:`run_scan` for callers without an event loop (the CLI)."""
    return asyncio.run(run_scan(hosts, networks, options, progress))
