"""Lab lifecycle: ``up``, ``down`` and ``status`` (what ``camaudit lab`` calls).

``up`` generates the devices, writes ``RUN_DIR/state.json`` (the ground truth plus
the topology facts), builds the namespaces and starts the daemon; if anything fails
midway it tears down what it built. ``down`` removes every ``camlab*`` process,
namespace, link and ``RUN_DIR`` whatever state a crash left them in.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import camlab
from camlab import netns, topology
from camlab.daemon import READY_FILE, STATUS_FILE
from camlab.errors import LabError
from camlab.spec import (
    INET_SUBNET,
    LOCAL_SUBNET,
    PROBE_IP,
    ROUTED_SUBNET,
    RUN_DIR,
    SITE_DNS_IP,
    SITE_NTP_IP,
    LabDevice,
)

log = logging.getLogger(__name__)

STATE_FILE = "state.json"
PID_FILE = "daemon.pid"
LOG_FILE = "daemon.log"
DAEMON_MODULE = "camlab.daemon"
READY_TIMEOUT_BASE_S = 30.0
READY_TIMEOUT_PER_DEVICE_S = 0.2
STOP_TIMEOUT_S = 5.0
MAX_DEVICES = 1000  # bridge ports are limited to 1024


def _run_dir() -> Path:
    return Path(RUN_DIR)


def _require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces): run it with sudo")


def _refuse_if_up(run_dir: Path) -> None:
    if (run_dir / STATE_FILE).exists():
        raise LabError(
            f"a lab is already up ({run_dir / STATE_FILE}); run `camaudit lab down` first"
        )
    leftovers = netns.list_netns() + netns.list_links()
    if leftovers:
        shown = ", ".join(leftovers[:4]) + (", ..." if len(leftovers) > 4 else "")
        raise LabError(f"camlab leftovers exist ({shown}); run `camaudit lab down` first")


def _generate(cameras: int, seed: int, hostile: int = 0) -> list[LabDevice]:
    try:
        from camlab.generate import generate
    except ImportError as exc:
        raise LabError(f"the device generator is not installed: {exc}") from exc
    try:
        return list(generate(cameras, seed, hostile=hostile))
    except LabError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:  # unreadable/invalid profile
        raise LabError(f"cannot generate devices from the profiles: {exc}") from exc


def up(cameras: int, seed: int, hostile: int = 0) -> dict[str, Any]:
    """Build the lab with ``cameras`` generated cameras (plus other devices) from ``seed``.

    ``hostile`` adds that many hostile devices (``camlab.services.hostile``).

    Returns a summary (``devices``, ``subnet``, ``probe_ip``, ``routed_subnets``,
    ``seconds``, ``daemon_pid``, ``failed``, ``note``). Raises :class:`LabError` when not root,
    when a lab (or its leftovers) is already up, when the profiles cannot be read, or
    when building fails (after tearing down what was built).
    """
    _require_root()
    if cameras < 1 or cameras > MAX_DEVICES:
        raise LabError(f"--cameras must be between 1 and {MAX_DEVICES}")
    if hostile < 0 or cameras + hostile > MAX_DEVICES:
        raise LabError(f"--hostile must be >= 0 with at most {MAX_DEVICES} devices in all")
    _refuse_if_up(_run_dir())
    t0 = time.monotonic()
    devices = _generate(cameras, seed, hostile)
    return up_devices(devices, seed=seed, cameras=cameras, t0=t0)


def up_devices(
    devices: Sequence[LabDevice], seed: int = 0, cameras: int | None = None, t0: float | None = None
) -> dict[str, Any]:
    """Build the lab for an explicit device list (what ``up`` does after generating)."""
    _require_root()
    run_dir = _run_dir()
    _refuse_if_up(run_dir)
    t0 = time.monotonic() if t0 is None else t0
    if not devices:
        raise LabError("no devices to build")
    topology.check_plan(devices)
    try:
        run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        topology.raise_neigh_limits(run_dir)
        facts = topology.build(devices)
        state = {
            "version": camlab.__version__,
            "created": time.time(),
            "seed": seed,
            "cameras": cameras,
            "topology": facts,
            "devices": [_full_dict(d) for d in devices],
        }
        state_path = run_dir / STATE_FILE
        fd = os.open(state_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:  # holds device passwords
            json.dump(state, fh, indent=1)
        pid = _spawn_daemon(run_dir, state_path)
        _wait_ready(run_dir, pid, READY_TIMEOUT_BASE_S + READY_TIMEOUT_PER_DEVICE_S * len(devices))
    except BaseException:
        log.warning("lab up failed; tearing down what was built")
        with contextlib.suppress(LabError):
            down()
        raise
    daemon_status = _read_json(run_dir / STATUS_FILE)
    health = daemon_status.get("devices", {})
    failed = sorted(n for n, h in health.items() if str(h.get("health", "")).startswith("error"))
    return {
        "devices": len(devices),
        "cameras": sum(1 for d in devices if d.kind == "camera"),
        "subnet": LOCAL_SUBNET,
        "probe_ip": PROBE_IP,
        "routed_subnets": [ROUTED_SUBNET],
        "seconds": round(time.monotonic() - t0, 2),
        "daemon_pid": pid,
        "failed": failed,
        "note": str(daemon_status.get("services_note", "")),
    }


def _full_dict(dev: LabDevice) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(dev)


def _spawn_daemon(run_dir: Path, state_path: Path) -> int:
    """Start the daemon detached (own session), stdout/stderr to the log; return its pid."""
    env = dict(os.environ)
    pkg_parent = str(Path(camlab.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_parent, env.get("PYTHONPATH", "")) if p)
    log_path = run_dir / LOG_FILE
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log_path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    argv = [sys.executable, "-m", DAEMON_MODULE, "--state", str(state_path)]
    try:
        pid = os.posix_spawn(sys.executable, argv, env, file_actions=actions, setsid=True)
    except OSError as exc:
        raise LabError(f"cannot start the lab daemon: {exc}") from exc
    (run_dir / PID_FILE).write_text(f"{pid}\n", encoding="utf-8")
    log.info("daemon started, pid %d, log %s", pid, log_path)
    return pid


def _wait_ready(run_dir: Path, pid: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (run_dir / READY_FILE).exists():
            return
        if not _alive(pid):
            raise LabError(
                f"the lab daemon exited during start-up; log tail:\n{_log_tail(run_dir)}"
            )
        time.sleep(0.05)
    raise LabError(
        f"the lab daemon was not ready after {timeout_s:.0f} s; log tail:\n{_log_tail(run_dir)}"
    )


def _log_tail(run_dir: Path, lines: int = 15) -> str:
    try:
        text = (run_dir / LOG_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(no log: {exc.strerror})"
    return "\n".join(text.splitlines()[-lines:])


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie is reaped when it is ours, and counts as dead)."""
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _daemon_pids() -> list[int]:
    """Every running ``camlab.daemon`` process (found by its command line)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and f"-m {DAEMON_MODULE} " in _cmdline(int(entry.name)) + " ":
            out.append(int(entry.name))
    return sorted(p for p in out if p != os.getpid())


def _stop(pid: int) -> bool:
    """SIGTERM, wait, then SIGKILL; True if it was running."""
    if not _alive(pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        log.warning("daemon %d ignored SIGTERM; killing it", pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
    return True


def down() -> list[str]:
    """Remove the lab: daemon, namespaces, links, ``RUN_DIR``. Idempotent.

    Works after a crash, a half-built topology or a missing state file. Returns what it
    removed (empty when nothing was there). Raises :class:`LabError` when not root.
    """
    _require_root()
    run_dir = _run_dir()
    removed: list[str] = []
    pids: list[int] = []
    with contextlib.suppress(OSError, ValueError):
        pids.append(int((run_dir / PID_FILE).read_text().strip()))
    for pid in pids + [p for p in _daemon_pids() if p not in pids]:
        if DAEMON_MODULE in _cmdline(pid) and _stop(pid):
            removed.append(f"daemon {pid}")
    removed += topology.destroy()
    removed += topology.restore_neigh_limits(run_dir)
    if run_dir.exists():
        shutil.rmtree(run_dir, ignore_errors=True)
        removed.append(f"dir {run_dir}")
    left = netns.list_netns() + netns.list_links()
    if left:
        raise LabError(f"could not remove {', '.join(left)}")
    return removed


def phone_home_now() -> int:
    """Make every lab device phone home now (the daemon's SIGUSR1); return the daemon pid.

    Phone-home periods are minutes long (like real firmware); a capture test kicks the
    lab instead of waiting. Raises :class:`LabError` when no lab daemon runs.
    """
    _require_root()
    try:
        pid = int((_run_dir() / PID_FILE).read_text().strip())
    except (OSError, ValueError) as exc:
        raise LabError("no lab is up (no daemon pid file); run `camaudit lab up`") from exc
    if not _alive(pid) or DAEMON_MODULE not in _cmdline(pid):
        raise LabError(f"the lab daemon (pid {pid}) is not running")
    os.kill(pid, signal.SIGUSR1)
    return pid


def status() -> dict[str, Any]:
    """The lab's state and ground truth (what ``camaudit lab status --json`` prints).

    ``up`` is true when the state file, the bridge and a live daemon are all there.
    ``devices`` holds each device's ``truth()``; ``daemon`` holds the daemon's own
    report (per-device health, phone-home counters, fake-internet traffic).
    """
    run_dir = _run_dir()
    state = _read_json(run_dir / STATE_FILE)
    pid = None
    with contextlib.suppress(OSError, ValueError):
        pid = int((run_dir / PID_FILE).read_text().strip())
    alive = pid is not None and _alive(pid)
    devices = [LabDevice.from_dict(d) for d in state.get("devices", [])]
    bridge_up = Path("/sys/class/net/camlab0").exists()
    return {
        "up": bool(state) and alive and bridge_up,
        "subnet": LOCAL_SUBNET,
        "probe_ip": PROBE_IP,
        "routed_subnets": [ROUTED_SUBNET],
        "internet": INET_SUBNET,
        "site_dns": SITE_DNS_IP,
        "site_ntp": SITE_NTP_IP,
        # capture here for flows (camlab.mirror): a copy of all traffic crossing the router
        "mirror_iface": state.get("topology", {}).get("mirror_iface"),
        "seed": state.get("seed"),
        "devices": [d.truth() for d in devices],
        "daemon_pid": pid,
        "daemon_alive": alive,
        "daemon": _read_json(run_dir / STATUS_FILE),
        "leftovers": netns.list_netns() + netns.list_links() if not state else [],
    }
