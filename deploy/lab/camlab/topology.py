"""Build and destroy the lab's namespaces, bridges and veths with ``ip -batch``.

One ``ip -batch`` in the host namespace creates every namespace, bridge and veth
(each device's ``eth0`` is created directly inside its namespace with its MAC); then
one small batch per namespace sets addresses and routes, run in parallel. 250
devices take about a second. The layout is the one drawn in ``camlab.spec``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

from camlab import mirror, netns
from camlab.errors import LabError
from camlab.spec import (
    AIR_BRIDGE,
    BRIDGE,
    INET_NS,
    INET_SUBNET,
    INET_UPLINK_IP,
    LOCAL_SUBNET,
    PROBE_IP,
    ROUTED_BRIDGE,
    ROUTED_SUBNET,
    ROUTER_LOCAL_IP,
    ROUTER_NS,
    ROUTER_ROUTED_IP,
    ROUTER_UPLINK_IP,
    UPLINK_SUBNET,
    LabDevice,
    veth_name,
)

log = logging.getLogger(__name__)

ROUTER_LAN_VETH = "camlab-rtr0"  # host end of the router's camlab0 leg
ROUTER_LAN_IF = "lan0"  # inside camlab-rtr, on camlab0
ROUTER_DISTRICT_IF = ROUTED_BRIDGE  # the bridge itself carries 198.18.8.1
ROUTER_WAN_IF = "wan0"  # inside camlab-rtr, towards camlab-inet
INET_IF = "up0"  # inside camlab-inet, towards camlab-rtr
PARALLEL = 16


def _plen(subnet: str) -> int:
    return IPv4Network(subnet).prefixlen


def check_plan(devices: Sequence[LabDevice]) -> None:
    """Refuse a device list the topology cannot build (raises :class:`LabError`)."""
    seen_ip: dict[str, str] = {}
    seen_ns: set[str] = set()
    reserved = {PROBE_IP, ROUTER_LOCAL_IP, ROUTER_ROUTED_IP}
    for dev in devices:
        if dev.subnet not in (LOCAL_SUBNET, ROUTED_SUBNET):
            raise LabError(f"{dev.name}: subnet {dev.subnet} is not a lab subnet")
        if not dev.netns.startswith("camlab-") or len(dev.netns) > 64:
            raise LabError(f"{dev.name}: namespace {dev.netns!r} must be named camlab-*")
        if dev.netns in seen_ns:
            raise LabError(f"{dev.name}: namespace {dev.netns} used twice")
        seen_ns.add(dev.netns)
        if dev.ip in reserved or dev.ip in seen_ip:
            other = seen_ip.get(dev.ip, "the lab's own infrastructure")
            raise LabError(f"{dev.name}: address {dev.ip} already used by {other}")
        if IPv4Address(dev.ip) not in IPv4Network(dev.subnet):
            raise LabError(f"{dev.name}: {dev.ip} is outside {dev.subnet}")
        seen_ip[dev.ip] = dev.name


def _host_lines(devices: Sequence[LabDevice]) -> list[str]:
    lines = [
        f"netns add {ROUTER_NS}",
        f"netns add {INET_NS}",
        # snooping off: WS-Discovery/SSDP multicast floods to every port, like a dumb switch
        f"link add {BRIDGE} type bridge mcast_snooping 0 stp_state 0 forward_delay 0",
        f"addr add {PROBE_IP}/{_plen(LOCAL_SUBNET)} dev {BRIDGE}",
        f"link add {AIR_BRIDGE} type bridge mcast_snooping 0 stp_state 0 forward_delay 0",
        # router legs: camlab0 <-> lan0 (camlab-rtr), wan0 (camlab-rtr) <-> up0 (camlab-inet)
        f"link add {ROUTER_LAN_VETH} type veth peer name {ROUTER_LAN_IF} netns {ROUTER_NS}",
        f"link set {ROUTER_LAN_VETH} master {BRIDGE} up",
        f"link add {ROUTER_WAN_IF} netns {ROUTER_NS} type veth peer name {INET_IF} netns {INET_NS}",
    ]
    for i, dev in enumerate(devices, start=1):
        host_end = veth_name(i)
        lines.append(f"netns add {dev.netns}")
        peer = f"peer name eth0 address {dev.mac} netns {dev.netns}"
        if dev.routed:
            lines.append(f"link add {host_end} netns {ROUTER_NS} type veth {peer}")
        else:
            lines.append(f"link add {host_end} type veth {peer}")
            lines.append(f"link set {host_end} master {BRIDGE} up")
    lines += [
        f"link set {BRIDGE} up",
        f"link set {AIR_BRIDGE} up",
        # only the routed district goes through the router; nothing else on the host changes
        f"route add {ROUTED_SUBNET} via {ROUTER_LOCAL_IP} dev {BRIDGE}",
    ]
    return lines


def _router_lines(devices: Sequence[LabDevice]) -> list[str]:
    lines = [
        "link set lo up",
        f"link add {ROUTED_BRIDGE} type bridge mcast_snooping 0 stp_state 0 forward_delay 0",
        f"addr add {ROUTER_ROUTED_IP}/{_plen(ROUTED_SUBNET)} dev {ROUTED_BRIDGE}",
        f"link set {ROUTED_BRIDGE} up",
        f"addr add {ROUTER_LOCAL_IP}/{_plen(LOCAL_SUBNET)} dev {ROUTER_LAN_IF}",
        f"link set {ROUTER_LAN_IF} up",
        f"addr add {ROUTER_UPLINK_IP}/{_plen(UPLINK_SUBNET)} dev {ROUTER_WAN_IF}",
        f"link set {ROUTER_WAN_IF} up",
        f"route add {INET_SUBNET} via {INET_UPLINK_IP} dev {ROUTER_WAN_IF}",
    ]
    for i, dev in enumerate(devices, start=1):
        if dev.routed:
            lines.append(f"link set {veth_name(i)} master {ROUTED_BRIDGE} up")
    return lines


def _inet_lines() -> list[str]:
    return [
        "link set lo up",
        f"addr add {INET_UPLINK_IP}/{_plen(UPLINK_SUBNET)} dev {INET_IF}",
        f"link set {INET_IF} up",
        # every 198.19.0.0/16 address is local here: one socket on 0.0.0.0 answers for all
        f"route add local {INET_SUBNET} dev lo",
        f"route add 198.18.0.0/15 via {ROUTER_UPLINK_IP} dev {INET_IF}",
    ]


def _device_lines(dev: LabDevice) -> list[str]:
    return [
        "link set lo up",
        f"addr add {dev.ip}/{_plen(dev.subnet)} dev eth0",
        "link set eth0 up",
        f"route add default via {dev.gateway} dev eth0",
    ]


def _write_sysctl(ns: str, key: str, value: str) -> None:
    # /proc/sys/net follows the writing thread's namespace, so no `ip netns exec` fork
    with netns.inside(ns), open(f"/proc/sys/{key.replace('.', '/')}", "w") as fh:
        fh.write(value)


def build(devices: Sequence[LabDevice]) -> dict[str, Any]:
    """Create the whole topology for ``devices``; return the facts for ``state.json``.

    Raises :class:`LabError` on the first failing command; the caller tears down.
    """
    check_plan(devices)
    t0 = time.monotonic()
    netns.ip_batch(_host_lines(devices))
    t1 = time.monotonic()
    jobs: list[tuple[str, list[str]]] = [
        (ROUTER_NS, _router_lines(devices)),
        (INET_NS, _inet_lines()),
    ]
    jobs += [(dev.netns, _device_lines(dev)) for dev in devices]
    with ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="camlab-ip") as pool:
        futures = [pool.submit(netns.ip_batch, lines, ns) for ns, lines in jobs]
        errors = [f.exception() for f in futures]
    failed = [e for e in errors if e is not None]
    if failed:
        raise LabError(f"{len(failed)} namespace(s) failed to configure; first: {failed[0]}")
    _write_sysctl(ROUTER_NS, "net.ipv4.ip_forward", "1")
    # a SPAN port for flow capture: every packet crossing the router's camera legs
    mirror_iface = mirror.setup(ROUTER_NS, [ROUTER_LAN_IF, ROUTER_DISTRICT_IF])
    t2 = time.monotonic()
    log.info(
        "topology: %d devices, host batch %.2f s, namespace batches %.2f s",
        len(devices),
        t1 - t0,
        t2 - t1,
    )
    return {
        "bridge": BRIDGE,
        "routed_bridge": ROUTED_BRIDGE,
        "air_bridge": AIR_BRIDGE,
        "mirror_iface": mirror_iface,
        "probe_ip": PROBE_IP,
        "local_subnet": LOCAL_SUBNET,
        "routed_subnets": [ROUTED_SUBNET],
        "router": {
            "netns": ROUTER_NS,
            "local_ip": ROUTER_LOCAL_IP,
            "routed_ip": ROUTER_ROUTED_IP,
            "uplink_ip": ROUTER_UPLINK_IP,
            "host_veth": ROUTER_LAN_VETH,
        },
        "internet": {"netns": INET_NS, "subnet": INET_SUBNET, "uplink_ip": INET_UPLINK_IP},
        "veths": {dev.name: veth_name(i) for i, dev in enumerate(devices, start=1)},
        "build_s": round(t2 - t0, 3),
    }


#: The kernel's ARP table is one for all network namespaces, and its default ceiling
#: (gc_thresh3 = 1024 entries) is below what a 250-camera lab needs: every camera keeps
#: entries for its gateway and peers, the router one per address a scan pings on the
#: routed /24, the host one per live camera. Past the ceiling the kernel logs "neighbor
#: table overflow" and a camera can no longer answer ARP (it cannot record the asker):
#: the scanner then misses it. The lab raises the ceilings while it is up, never lowers
#: them, and puts back what it found when it goes down.
NEIGH_KEYS = {"gc_thresh1": 1024, "gc_thresh2": 4096, "gc_thresh3": 8192}
NEIGH_SYSCTL = "/proc/sys/net/ipv4/neigh/default/{}"
NEIGH_SAVED = "neigh-limits.json"


def raise_neigh_limits(run_dir: Path) -> dict[str, int]:
    """Raise the host's ARP table ceilings to :data:`NEIGH_KEYS` (only upwards); the
    values found are saved in ``run_dir`` for :func:`restore_neigh_limits`."""
    saved: dict[str, int] = {}
    for key, want in NEIGH_KEYS.items():
        path = Path(NEIGH_SYSCTL.format(key))
        try:
            now = int(path.read_text().strip())
            if now < want:
                path.write_text(f"{want}\n")
                saved[key] = now
        except (OSError, ValueError) as exc:  # no such sysctl (not Linux?) or read-only
            log.warning("cannot raise %s: %s", path, exc)
    if saved:
        (run_dir / NEIGH_SAVED).write_text(json.dumps(saved), encoding="utf-8")
    return saved


def restore_neigh_limits(run_dir: Path) -> list[str]:
    """Put back the ARP table ceilings :func:`raise_neigh_limits` changed."""
    try:
        saved = json.loads((run_dir / NEIGH_SAVED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    done = []
    for key, value in saved.items():
        if key in NEIGH_KEYS and isinstance(value, int):
            with contextlib.suppress(OSError):
                Path(NEIGH_SYSCTL.format(key)).write_text(f"{value}\n")
                done.append(f"sysctl neigh {key}={value}")
    return done


def destroy() -> list[str]:
    """Remove every ``camlab*`` link and namespace (idempotent); return what went."""
    return netns.delete_everything()
