"""Network-namespace plumbing: enter a namespace per thread, run ``ip -batch``, clean up.

Namespaces are per thread in Linux, so :func:`inside` switches only the calling
thread and always switches back. A socket created inside stays in that namespace for
its whole life, which is how one process serves every simulated device.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import re
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from camlab.errors import LabError
from camlab.spec import PREFIX

log = logging.getLogger(__name__)

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
IP_TIMEOUT_S = 120.0

_libc: ctypes.CDLL | None = None


def _setns(fd: int) -> None:
    """Move the calling thread into the network namespace behind ``fd``."""
    global _libc
    if hasattr(os, "setns"):  # Python >= 3.12
        os.setns(fd, CLONE_NEWNET)
        return
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextmanager
def inside(netns_name: str) -> Iterator[None]:
    """Run the body with the current thread inside network namespace ``netns_name``.

    Raises :class:`LabError` when the namespace does not exist or cannot be entered.
    The thread is always moved back to the namespace it came from; if even that fails
    the process is in an unknown state, so the ``OSError`` propagates.
    """
    target_path = NETNS_DIR / netns_name
    try:
        target = os.open(target_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise LabError(f"network namespace {netns_name} not found ({exc.strerror})") from exc
    try:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        os.close(target)
        raise
    try:
        try:
            _setns(target)
        except OSError as exc:
            raise LabError(f"cannot enter network namespace {netns_name}: {exc}") from exc
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


def ip_batch(lines: Iterable[str], netns: str | None = None, force: bool = False) -> None:
    """Run ``ip [-n NETNS] [-force] -batch -`` with ``lines`` on stdin.

    Raises :class:`LabError` carrying ip's own message when a line fails (unless
    ``force``, used for best-effort clean-up, where failures are only logged).
    """
    script = "\n".join(lines) + "\n"
    argv = ["ip"]
    if netns:
        argv += ["-n", netns]
    if force:
        argv.append("-force")
    argv += ["-batch", "-"]
    try:
        proc = subprocess.run(
            argv, input=script, capture_output=True, text=True, timeout=IP_TIMEOUT_S, check=False
        )
    except FileNotFoundError as exc:
        raise LabError("the `ip` command (iproute2) is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"`{' '.join(argv)}` timed out after {IP_TIMEOUT_S:.0f} s") from exc
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().replace("\n", "; ")
        if force:
            log.debug("ip batch (best effort) in %s: %s", netns or "host", msg)
            return
        raise LabError(f"ip {'-n ' + netns + ' ' if netns else ''}-batch failed: {msg}")


#: Private namespaces and links of individual tests (``camlab-t<issue>-...``): each such
#: test removes its own; ``lab down`` must not pull them from under a running test.
_TEST_OWNED = re.compile(r"^camlab-t\d+-")


def _lab_owned(name: str) -> bool:
    return name.startswith(PREFIX) and not _TEST_OWNED.match(name)


def list_netns() -> list[str]:
    """Names of every lab network namespace (``camlab*``) that ``ip netns`` knows."""
    try:
        names = [p.name for p in NETNS_DIR.iterdir()]
    except FileNotFoundError:
        return []
    return sorted(n for n in names if _lab_owned(n))


def list_links() -> list[str]:
    """Names of every lab interface (``camlab*``) in the host namespace."""
    try:
        names = [p.name for p in Path("/sys/class/net").iterdir()]
    except FileNotFoundError:  # no sysfs: fall back to ip
        out = subprocess.run(
            ["ip", "-o", "link", "show"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
        names = [m.group(1) for m in re.finditer(r"^\d+: ([^:@]+)", out, re.M)]
    return sorted(n for n in names if _lab_owned(n))


def delete_everything() -> list[str]:
    """Delete every ``camlab*`` link in the host namespace and every ``camlab*`` netns.

    Best effort and idempotent. Host links go first: deleting a veth end destroys its
    peer, so namespaces empty quickly. Bridges are deleted last. Returns what was removed.
    """
    removed: list[str] = []
    links = list_links()
    if links:
        # veths before bridges so bridge deletion does not have to detach 250 ports
        bridges = {n for n in links if Path(f"/sys/class/net/{n}/bridge").exists()}
        order = [n for n in links if n not in bridges] + sorted(bridges)
        ip_batch([f"link del {n}" for n in order], force=True)
        gone = set(order) - set(list_links())
        removed += [f"link {n}" for n in order if n in gone]
    spaces = list_netns()
    if spaces:
        ip_batch([f"netns del {n}" for n in spaces], force=True)
        left = set(list_netns())
        removed += [f"netns {n}" for n in spaces if n not in left]
    # host veth ends whose peer was moved or renamed go away with their namespace
    late = list_links()
    if late:
        ip_batch([f"link del {n}" for n in late], force=True)
        removed += [f"link {n}" for n in late if n not in set(list_links())]
    return removed
