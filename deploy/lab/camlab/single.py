"""Serve ONE simulated device in the current network namespace (the container form).

``python -m camlab.single --profile hikvision-ds2cd2 --seed 1`` generates the lab's
devices for ``seed``, takes the first device built from ``--profile``, and serves it
with the same ``camlab.services.DeviceServer`` the namespace lab uses, on the
container's own interface. The device keeps its generated identity (vendor, model,
serial, MAC in the ground truth) but answers on whatever address the container got.

Phone-home behaviour is off here: a container's default route is a real network, and
the lab never sends to a public address. ``--instance auto`` derives a per-replica
seed from the hostname so ``docker compose --scale`` gives distinct cameras.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import signal
import socket
import sys
import zlib
from dataclasses import replace
from pathlib import Path

from camlab.errors import LabError
from camlab.spec import LabDevice

log = logging.getLogger("camlab.single")


def pick_device(profile: str, seed: int) -> LabDevice:
    """The first device generated from ``profile`` for ``seed`` (raises LabError)."""
    from camlab.generate import generate, load_profiles

    profiles = load_profiles()
    known = sorted(p.id for p in profiles)
    if profile not in known:
        raise LabError(f"unknown profile {profile!r}; known: {', '.join(known)}")
    cameras = sum(1 for p in profiles if p.kind == "camera")
    for dev in generate(cameras, seed):  # every camera profile appears at least once
        if dev.profile == profile:
            return dev
    raise LabError(f"profile {profile!r} produced no device for seed {seed}")


def _container_ip() -> str:
    # Docker and Podman write the container's own address for its hostname to /etc/hosts
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "0.0.0.0"


async def serve(dev: LabDevice, media_dir: Path, truth_path: Path | None) -> None:
    # imported by name: the daemon and this entry point share camlab.services' interface
    services = importlib.import_module("camlab.services")
    server = services.DeviceServer(dev, media_dir)
    services.start_glib_thread()
    try:
        server.bind()  # no namespace switch: the container is the namespace
        await server.start()
        if truth_path is not None:
            truth_path.write_text(json.dumps(dev.truth(), indent=1), encoding="utf-8")
        log.info("serving %s (%s %s) on %s", dev.name, dev.vendor, dev.model, dev.ip)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.stop()
    finally:
        services.stop_glib_thread()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="camlab.single", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", required=True, help="profile id, e.g. hikvision-ds2cd2")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--instance", default="0", help="replica number, or 'auto' (from the hostname)"
    )
    parser.add_argument("--media-dir", type=Path, default=Path("/var/lib/camlab"))
    parser.add_argument("--truth", type=Path, help="write the device's ground truth here")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    instance = (
        zlib.crc32(socket.gethostname().encode()) % 100_000
        if args.instance == "auto"
        else int(args.instance)
    )
    try:
        from camlab.media import ensure_clip

        dev = pick_device(args.profile, args.seed * 100_000 + instance)
        dev = replace(dev, ip=_container_ip(), phone_home=[])
        media_dir = ensure_clip(args.media_dir).parent
        asyncio.run(serve(dev, media_dir, args.truth))
    except LabError as exc:
        log.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
