"""The lab daemon: one process serving every simulated device, the fake internet and the IGD.

Started by ``camlab.control.up`` as ``python -m camlab.daemon --state RUN_DIR/state.json``
in its own session. For each device it enters the device's namespace, binds that
device's sockets (``DeviceServer.bind``), returns to the root namespace, and serves
everything from one asyncio loop. Progress and per-device health go to
``RUN_DIR/daemon-status.json`` (rewritten every second); ``RUN_DIR/ready`` appears
once everything that could be bound is bound. SIGTERM/SIGINT stop it cleanly.

One device failing never takes the others down: its error is logged and recorded in
the status file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Protocol

from camlab.errors import LabError
from camlab.inet import FakeInternet
from camlab.netns import inside
from camlab.phonehome import PhoneHome
from camlab.spec import LabDevice
from camlab.upnp import Gateway

log = logging.getLogger("camlab.daemon")

STATUS_FILE = "daemon-status.json"
READY_FILE = "ready"
STATUS_EVERY_S = 1.0
SERVICES_API = ("DeviceServer", "start_glib_thread", "stop_glib_thread")


class _Server(Protocol):
    def bind(self) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON so readers never see a half-written file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


class Daemon:
    def __init__(self, state: dict[str, Any], run_dir: Path) -> None:
        self.state = state
        self.run_dir = run_dir
        self.seed = int(state.get("seed", 0))
        self.devices = [LabDevice.from_dict(d) for d in state["devices"]]
        self.inet = FakeInternet(self.devices)
        self.gateway = Gateway(run_dir)
        self.servers: dict[str, _Server] = {}
        self.health: dict[str, str] = {d.name: "pending" for d in self.devices}
        self.phone: dict[str, PhoneHome] = {d.name: PhoneHome(d, self.seed) for d in self.devices}
        self.services_note = ""
        self.started = time.time()
        self.ready = False
        self._glib = False
        self._services: Any = None

    # --- lifecycle -----------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        t0 = time.monotonic()
        self.inet.bind()
        self.gateway.bind()
        await self.inet.start()
        await self.gateway.start()
        self._bind_devices()
        for name, server in list(self.servers.items()):
            try:
                await server.start()
            except Exception as exc:  # one broken device must not stop the lab
                log.exception("%s: start failed", name)
                self.health[name] = f"error: start: {exc}"
                self.servers.pop(name)
        for ph in self.phone.values():
            ph.start()
        self.ready = True
        self.write_status()
        (self.run_dir / READY_FILE).write_text(f"{os.getpid()}\n", encoding="utf-8")
        failed = sum(1 for h in self.health.values() if h.startswith("error"))
        log.info(
            "ready: %d devices (%d serving, %d failed) in %.2f s",
            len(self.devices),
            len(self.servers),
            failed,
            time.monotonic() - t0,
        )
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), STATUS_EVERY_S)
            self.write_status()
        await self.shutdown()

    def kick_phone_home(self) -> None:
        """Make every device run all its phone-home entries now (SIGUSR1)."""
        log.info("phone home now: %d devices", len(self.phone))
        for ph in self.phone.values():
            ph.kick()

    def _load_services(self) -> Any:
        """camlab.services if it is installed; None (and a note) otherwise."""
        try:
            module = importlib.import_module("camlab.services")
        except ImportError as exc:
            self.services_note = f"camlab.services unavailable: {exc}"
        else:
            missing = [a for a in SERVICES_API if not hasattr(module, a)]
            if not missing:
                return module
            self.services_note = f"camlab.services lacks {', '.join(missing)}"
        log.error("%s; devices get phone-home behaviour only", self.services_note)
        return None

    def _bind_devices(self) -> None:
        services = self._services = self._load_services()
        if services is None:
            for name in self.health:
                self.health[name] = "no-services"
            return
        media_dir = self.run_dir
        try:
            media = importlib.import_module("camlab.media")
            media_dir = Path(media.ensure_clip(self.run_dir)).parent
        except (ImportError, LabError) as exc:
            log.error("test clip unavailable, RTSP streams will fail: %s", exc)
        services.start_glib_thread()
        self._glib = True
        for dev in self.devices:
            try:
                server = services.DeviceServer(dev, media_dir)
                with inside(dev.netns):
                    server.bind()
            except Exception as exc:  # one broken device must not stop the lab
                log.exception("%s: bind failed", dev.name)
                self.health[dev.name] = f"error: bind: {exc}"
                continue
            self.servers[dev.name] = server
            self.health[dev.name] = "serving"

    async def shutdown(self) -> None:
        log.info("stopping")
        (self.run_dir / READY_FILE).unlink(missing_ok=True)
        for ph in self.phone.values():
            await ph.stop()
        for name, server in self.servers.items():
            try:
                await asyncio.wait_for(server.stop(), 5)
            except Exception:  # keep stopping the others; the process exits anyway
                log.exception("%s: stop failed", name)
        await self.gateway.stop()
        await self.inet.stop()
        if self._glib and self._services is not None:
            self._services.stop_glib_thread()
        self.write_status(stopped=True)

    def write_status(self, stopped: bool = False) -> None:
        write_json_atomic(
            self.run_dir / STATUS_FILE,
            {
                "pid": os.getpid(),
                "ready": self.ready and not stopped,
                "stopped": stopped,
                "started": self.started,
                "updated": time.time(),
                "services_note": self.services_note,
                "devices": {
                    d.name: {
                        "health": self.health[d.name],
                        "phone_home": self.phone[d.name].snapshot(),
                    }
                    for d in self.devices
                },
                "traffic": self.inet.snapshot(),
                "upnp": self.gateway.snapshot(),
            },
        )


async def _main(state_path: Path) -> int:
    state = json.loads(state_path.read_text(encoding="utf-8"))
    daemon = Daemon(state, state_path.parent)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # SIGUSR1: every device phones home now (camlab.control.phone_home_now)
    loop.add_signal_handler(signal.SIGUSR1, daemon.kick_phone_home)
    await daemon.run(stop)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="camlab.daemon", description=__doc__.split("\n")[0])
    parser.add_argument("--state", type=Path, required=True, help="RUN_DIR/state.json")
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,  # control.up points stderr at RUN_DIR/daemon.log
    )
    try:
        return asyncio.run(_main(args.state))
    except (LabError, OSError) as exc:
        log.exception("daemon failed: %s", exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
