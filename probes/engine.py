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

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]

HTTP_PORTS = frozenset(
    {80, 81, 88, 443, 2000, 3000, 5000, 7001, 8001, 8080, 8081, 8443, 8888, 8899}
)
RTSP_PORTS = frozenset({554, 8554, 10554})
VENDOR_PORTS = frozenset(vendor_port.TCP_SERVICES)


@dataclass
class ScanOptions:
    """What a scan does. Defaults suit a LAN of cameras; every timeout is in seconds."""

    ports: Sequence[int] = portscan.DEFAULT_PORTS
    timeout: float = 2.5  # per identification step (one HTTP fetch, one RTSP exchange, ...)
    connect_timeout: float = 1.0  # per TCP connect in the port scan
    discovery_timeout: float = 2.0  # ARP and WS-Discovery listening time
    concurrency: int = 1024  # connects in flight
    identify_concurrency: int = 128  # identification jobs in flight
    deadline: float | None = None  # whole-scan limit; unfinished jobs become errors
    arp: bool = True
    multicast: bool = True
    vendor_udp: bool = False  # vendor broadcast/multicast discovery (opt-in)
    http: bool = True
    rtsp: bool = True
    decode_frame: bool = True
    onvif: bool = True
    vendor_tcp: bool = True
    credentials: list[tuple[str, str]] = field(default_factory=list)
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


async def _discover(
    hosts: list[str],
    networks: list[ipaddress.IPv4Network],
    opts: ScanOptions,
    facing: dict[netinfo.Interface, list[ipaddress.IPv4Network]],
    counter: _Counter,
) -> tuple[list[Observation], list[portscan.HostResult]]:
    obs: list[Observation] = []

    async def do_arp() -> None:
        for iface, nets in facing.items():
            if not iface.can_arp:
                continue
            try:
                obs.extend(
                    await arp.sweep(iface, hosts, nets, timeout=min(1.0, opts.discovery_timeout))
                )
            except PermissionError:
                log.warning("no CAP_NET_RAW: ARP sweep skipped, using the neighbour table")
        counter.tick()

    async def do_wsd() -> None:
        mifaces = [i for i in facing if i.can_multicast] if opts.multicast else []
        obs.extend(
            await wsdiscovery.discover(
                hosts,
                networks,
                multicast_ifaces=mifaces,
                timeout=opts.discovery_timeout,
                port=opts.wsd_port,
            )
        )
        counter.tick()

    async def do_vendor_udp() -> None:
        for iface, nets in facing.items():
            if iface.can_multicast and not iface.loopback:
                obs.extend(await vendor_port.discover_udp(iface, hosts, nets))
        counter.tick()

    steps: list[Awaitable[Any]] = [
        portscan.scan(
            hosts,
            opts.ports,
            timeout=opts.connect_timeout,
            concurrency=opts.concurrency,
            on_host_done=lambda _r: counter.tick(),
        ),
        do_wsd(),
    ]
    if opts.arp:
        steps.append(do_arp())
    if opts.vendor_udp:
        steps.append(do_vendor_udp())
    results = await asyncio.gather(*steps)
    return obs, results[0]


def _identify_jobs(
    ip: str, open_ports: list[int], xaddrs: list[str], opts: ScanOptions, hosts: set[str]
) -> list[tuple[str, int | None, Callable[[], Awaitable[Any]]]]:
    if ip not in hosts:  # belt and braces: identification only ever touches the user's hosts
        raise TargetError(f"{ip} is not a target")
    jobs: list[tuple[str, int | None, Callable[[], Awaitable[Any]]]] = []
    t = opts.timeout
    creds = opts.credentials
    if opts.http:
        jobs += [
            ("http", p, partial(http.grab, ip, p, timeout=t)) for p in open_ports if p in HTTP_PORTS
        ]
    if opts.rtsp and (probe_rtsp := _lazy_probe("rtsp", "probe_rtsp")) is not None:
        jobs += [
            (
                "rtsp",
                p,
                partial(
                    probe_rtsp, ip, p, timeout=t, credentials=creds, decode_frame=opts.decode_frame
                ),
            )
            for p in open_ports
            if p in RTSP_PORTS
        ]
    if opts.onvif and (probe_onvif := _lazy_probe("onvif", "probe_onvif")) is not None:
        targets: list[tuple[int, str | None]] = []
        for x in xaddrs:
            u = urlsplit(x)
            if u.hostname != ip:  # a device may advertise any address; we stay on ours
                log.info("onvif: ignoring xaddr %s of %s (not that host)", x, ip)
                continue
            port = u.port or (443 if u.scheme == "https" else 80)
            if (port, x) not in targets:
                targets.append((port, x))
        if not targets:
            targets = [(p, None) for p in open_ports if p in HTTP_PORTS]
        jobs += [
            (
                "onvif",
                port,
                partial(probe_onvif, ip, port, xaddr=xaddr, timeout=t, credentials=creds),
            )
            for port, xaddr in targets
        ]
    if opts.vendor_tcp:
        jobs += [
            ("vendor_port", p, partial(vendor_port.probe_tcp, ip, p, timeout=t))
            for p in open_ports
            if p in VENDOR_PORTS
        ]
    return jobs


async def run_scan(
    hosts: list[str],
    networks: list[ipaddress.IPv4Network],
    options: ScanOptions | None = None,
    progress: Progress | None = None,
) -> list[Observation]:
    """Scan the user's ``hosts`` (inside ``networks``); return every observation made.

    Raises :class:`TargetError` if a host lies outside ``networks``. Device misbehaviour
    never raises: it is recorded as observations with ``error``. ``progress(stage, done,
    total)`` is called as work completes (stages "discover" and "identify").
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

    n_steps = len(host_list) + 1 + int(opts.arp) + int(opts.vendor_udp)
    dcount = _Counter("discover", n_steps, progress)
    disc_limit = None if hard_deadline is None else max(0.0, hard_deadline - loop.time())
    try:
        disc_obs, scan_results = await asyncio.wait_for(
            _discover(host_list, nets, opts, facing, dcount), disc_limit
        )
    except TimeoutError:
        log.warning("scan deadline reached during discovery")
        return [
            Observation("engine", h, error="scan deadline reached during discovery")
            for h in host_list
        ]
    started = time.time()
    obs = list(disc_obs) + portscan.to_observations(scan_results, len(opts.ports))

    host_set = set(host_list)
    open_by_ip = {r.ip: r.open for r in scan_results}
    live = {o.ip for o in obs if o.error is None} & host_set
    have_mac = {o.ip for o in obs if o.probe == "arp"}
    on_link = {
        h for h in live - have_mac if any(ipaddress.IPv4Address(h) in i.network for i in facing)
    }
    if on_link:
        try:
            obs.extend(arp.neighbours(sorted(on_link)))
        except ProbeError as exc:
            log.warning("neighbour table unavailable: %s", exc)
    xaddrs: dict[str, list[str]] = {}
    for o in obs:
        if o.probe == "wsdiscovery" and o.error is None:
            xaddrs.setdefault(o.ip, []).extend(o.data.get("xaddrs") or [])

    jobs = [
        (ip, j)
        for ip in sorted(live, key=ipaddress.IPv4Address)
        for j in _identify_jobs(ip, open_by_ip.get(ip, []), xaddrs.get(ip, []), opts, host_set)
    ]
    icount = _Counter("identify", len(jobs), progress)
    sem = asyncio.Semaphore(max(1, opts.identify_concurrency))
    # a step gets its own timeout x3 (a probe may make a few requests) before we cut it off
    step_limit = opts.timeout * 3 + 1

    async def run_job(
        ip: str, probe: str, port: int | None, make: Callable[[], Awaitable[Any]]
    ) -> list[Observation]:
        async with sem:
            limit = step_limit
            if hard_deadline is not None:
                limit = min(limit, hard_deadline - loop.time())
            if limit <= 0:
                res = [Observation(probe, ip, port=port, error="scan deadline reached")]
            else:
                res = await _guard(make(), probe, ip, port, limit)
        icount.tick()
        return res

    for res in await asyncio.gather(*(run_job(ip, *j) for ip, j in jobs)):
        obs.extend(res)
    log.info(
        "identify: %d jobs on %d live hosts in %.2fs", len(jobs), len(live), time.time() - started
    )
    return obs


def run_scan_sync(
    hosts: list[str],
    networks: list[ipaddress.IPv4Network],
    options: ScanOptions | None = None,
    progress: Progress | None = None,
) -> list[Observation]:
    """:func:`run_scan` for callers without an event loop (the CLI)."""
    return asyncio.run(run_scan(hosts, networks, options, progress))
