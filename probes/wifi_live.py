"""Live 802.11 capture from a monitor-mode interface the user names (AF_PACKET, Linux).

Passive only: the socket never sends. Each received frame goes to the same
:class:`probes.wifi.AirParser` the capture-file reader uses. The link type comes from
the interface's ARPHRD type (``/sys/class/net/IFACE/type``: 803 radiotap, 801 plain
802.11, 802 Prism, 804 AVS); an interface that is not in monitor mode is refused
unless the caller names the link type (tests replay radiotap bytes over a veth pair).
"""

from __future__ import annotations

import logging
import select
import socket
import time
from collections.abc import Callable
from pathlib import Path

from auditor.errors import ProbeError, TargetError
from probes.wifi import AIR_LINKTYPES, AirParser

log = logging.getLogger(__name__)

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4  # sll_pkttype of frames this host sent: not what the air said
ARPHRD_LINKTYPE = {801: 105, 802: 119, 803: 127, 804: 163}
SNAPLEN = 65536
POLL_S = 0.2  # how often the loop looks at the clock when the air is quiet


def iface_linktype(iface: str, sys_net: Path = Path("/sys/class/net")) -> int | None:
    """Return the capture link type of ``iface``, None when it is not an 802.11 monitor.

    Raises TargetError when there is no such interface.
    """
    if not iface or "/" in iface or iface in (".", ".."):
        raise TargetError(f"bad interface name {iface!r}")
    try:
        arphrd = int((sys_net / iface / "type").read_text().strip())
    except FileNotFoundError:
        raise TargetError(f"no network interface named {iface!r}") from None
    except (OSError, ValueError) as exc:
        raise TargetError(f"cannot read the type of interface {iface!r}: {exc}") from exc
    return ARPHRD_LINKTYPE.get(arphrd)


def capture_live(
    iface: str,
    duration: float,
    parser: AirParser,
    *,
    linktype: int | None = None,
    max_frames: int | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Feed every frame received on ``iface`` for ``duration`` seconds to ``parser``.

    Returns the number of frames received. Raises TargetError for a missing interface
    or one not in monitor mode (unless ``linktype`` is given), ProbeError when the
    socket cannot be opened (needs root or CAP_NET_RAW).
    """
    if duration <= 0:
        raise TargetError(f"duration must be positive, got {duration}")
    detected = iface_linktype(iface)
    lt = linktype if linktype is not None else detected
    if lt is None:
        raise TargetError(
            f"{iface} is not an 802.11 monitor-mode interface; put it in monitor mode "
            f"(e.g. 'iw dev {iface} set type monitor') or name the link type"
        )
    if lt not in AIR_LINKTYPES:
        raise TargetError(f"link type {lt} is not an 802.11/BLE link type")
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    except PermissionError as exc:
        raise ProbeError(f"capturing on {iface} needs root or CAP_NET_RAW") from exc
    except OSError as exc:  # AF_PACKET missing (not Linux, or a restricted sandbox)
        raise ProbeError(f"cannot open a packet socket: {exc}") from exc
    buf = bytearray(SNAPLEN)
    view = memoryview(buf)
    count = 0
    try:
        try:
            sock.bind((iface, 0))
        except OSError as exc:  # the interface vanished or is down
            raise TargetError(f"cannot capture on {iface}: {exc}") from exc
        sock.setblocking(False)
        deadline = clock() + duration
        while (left := deadline - clock()) > 0:
            ready, _, _ = select.select([sock], [], [], min(POLL_S, left))
            if not ready:
                continue
            while True:  # drain what is queued before looking at the clock again
                try:
                    n, addr = sock.recvfrom_into(buf)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue
                parser.feed(lt, time.time(), view, 0, n)
                count += 1
                if max_frames is not None and count >= max_frames:
                    return count
    finally:
        sock.close()
    log.info("captured %d frames on %s in %.1f s", count, iface, duration)
    return count
