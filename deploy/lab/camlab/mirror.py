"""A switch-style mirror (SPAN) port: a copy of every camera packet crossing the router.

The probe captures on ``camlab-mir`` in the host namespace (``camaudit watch --iface
camlab-mir``). Its veth peer ``mir0`` sits in the router namespace, and tc ``mirred``
copies every frame entering or leaving the router's camera legs (``lan0`` on camlab0,
and the routed district bridge ``camlab1``) out of ``mir0``, exactly like a switch
mirroring ports to an analyser. The cameras' own packets are not touched.

A mirror port must only listen. Both ends therefore carry no address, no ARP and no
IPv6 (no link-local address, no router or neighbour solicitation), and the probe's end
has a tc ``drop`` on egress (nothing the host sends ever leaves it) and on ingress
(mirrored copies never reach the host's IP stack, which would otherwise answer
broadcasts or deliver multicast twice). Packet sockets see a frame before tc ingress
runs, so captures still get every copy.

Only classifiers and actions that minimal kernels build in are used (this machine's
kernel has neither ``matchall`` nor ``gact``): "every packet" is ``u32 match u32 0 0``
and "drop" is a one-instruction classic BPF program in direct-action mode returning
``TC_ACT_SHOT``; ``mirred`` itself is required.

Traffic between the routed district and camlab0 crosses both legs and is mirrored
twice (a real SPAN session on two ports does the same); phone-home traffic to the fake
internet and to the site's DNS/NTP on the router crosses exactly one leg, once each way.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Sequence
from pathlib import Path

from camlab.errors import LabError

log = logging.getLogger(__name__)

MIRROR_IF = "camlab-mir"  # the probe's end, in the host namespace
MIRROR_PEER = "mir0"  # inside the router namespace
MATCH_ALL = "u32 match u32 0 0"  # the portable match-everything (cls_matchall is optional)
DROP_ALL = "bpf da bytecode '1,6 0 0 2'"  # cBPF "ret #TC_ACT_SHOT" (act_gact is optional)
TC_TIMEOUT_S = 30.0


def _run(argv: list[str], script: str | None = None) -> None:
    try:
        proc = subprocess.run(
            argv, input=script, capture_output=True, text=True, timeout=TC_TIMEOUT_S, check=False
        )
    except FileNotFoundError as exc:
        raise LabError(f"`{argv[0]}` (iproute2) is not installed: the mirror needs it") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"`{' '.join(argv)}` timed out after {TC_TIMEOUT_S:.0f} s") from exc
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().replace("\n", "; ")
        raise LabError(f"`{' '.join(argv)}` failed: {msg}")


def _ns(argv: list[str], netns: str | None) -> list[str]:
    return [argv[0], "-n", netns, *argv[1:]] if netns else argv


def link_lines(router_ns: str, host_if: str = MIRROR_IF, peer_if: str = MIRROR_PEER) -> list[str]:
    """``ip -batch`` lines, run in the probe's namespace, creating the mirror veth pair
    (both ends down: IPv6 is switched off on them before they come up)."""
    return [f"link add {host_if} type veth peer name {peer_if} netns {router_ns}"]


def router_tc_lines(sources: Sequence[str], peer_if: str = MIRROR_PEER) -> list[str]:
    """``tc -batch`` lines, run in the router namespace: copy both directions of every
    ``sources`` interface out of ``peer_if``."""
    lines = []
    for dev in sources:
        lines.append(f"qdisc add dev {dev} clsact")
        for hook in ("ingress", "egress"):
            lines.append(
                f"filter add dev {dev} {hook} pref 49000 {MATCH_ALL} "
                f"action mirred egress mirror dev {peer_if}"
            )
    return lines


def sink_tc_lines(host_if: str = MIRROR_IF) -> list[str]:
    """``tc -batch`` lines for the probe's end: drop all it would send, and every copy
    after packet sockets have seen it."""
    return [
        f"qdisc add dev {host_if} clsact",
        f"filter add dev {host_if} ingress pref 49000 {DROP_ALL}",
        f"filter add dev {host_if} egress pref 49000 {DROP_ALL}",
    ]


def _quiet(netns: str | None, dev: str) -> None:
    """No IPv6 on ``dev`` (it would send router and neighbour solicitations)."""
    from camlab import netns as nsmod

    path = Path(f"/proc/sys/net/ipv6/conf/{dev}/disable_ipv6")
    if netns:
        with nsmod.inside(netns):
            _write(path)
    else:
        _write(path)


def _write(path: Path) -> None:
    try:
        path.write_text("1")
    except FileNotFoundError:  # a kernel without IPv6: nothing to silence
        log.debug("no %s: IPv6 is off on this kernel", path)


def setup(
    router_ns: str,
    sources: Sequence[str],
    host_ns: str | None = None,
    host_if: str = MIRROR_IF,
    peer_if: str = MIRROR_PEER,
) -> str:
    """Build the mirror port; return the name to capture on (in ``host_ns``, None: host).

    ``sources`` are the router's interfaces whose traffic is copied. Raises
    :class:`LabError` when a command fails (the caller tears the lab down).
    """
    from camlab import netns as nsmod

    nsmod.ip_batch(link_lines(router_ns, host_if, peer_if), host_ns)
    _quiet(host_ns, host_if)
    _quiet(router_ns, peer_if)
    nsmod.ip_batch([f"link set {host_if} arp off", f"link set {host_if} up"], host_ns)
    nsmod.ip_batch([f"link set {peer_if} arp off", f"link set {peer_if} up"], router_ns)
    _run(_ns(["tc", "-batch", "-"], host_ns), "\n".join(sink_tc_lines(host_if)) + "\n")
    _run(_ns(["tc", "-batch", "-"], router_ns), "\n".join(router_tc_lines(sources, peer_if)) + "\n")
    log.info("mirror: %s copies %s (both directions)", host_if, ", ".join(sources))
    return host_if
