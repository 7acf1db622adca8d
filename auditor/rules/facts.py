"""Small helpers rules share: pick a device's observations, open ports, cite evidence."""

from __future__ import annotations

from auditor.model import Device, Evidence, Observation
from auditor.signals import origin

CAMERA_LIKE = ("camera", "nvr")


def observations(dev: Device, probe: str) -> list[Observation]:
    """Return the device's observations from ``probe`` (e.g. ``"rtsp"``)."""
    return [o for o in dev.observations if o.probe == probe]


def open_tcp_ports(dev: Device) -> dict[int, str]:
    """Return open TCP ports mapped to where we saw them (``portscan`` or a service)."""
    ports: dict[int, str] = {}
    for obs in observations(dev, "portscan"):
        tcp_open = obs.data.get("tcp_open")
        for port in tcp_open if isinstance(tcp_open, list) else []:
            if isinstance(port, int):
                ports.setdefault(port, origin(obs))
    for svc in dev.services:
        if svc.proto == "tcp":
            ports.setdefault(svc.port, f"service:{svc.name}")
    return ports


def cite(obs: Observation, detail: str, value: object = None) -> Evidence:
    """Return evidence quoting one observation (``value`` rendered as text when given)."""
    return Evidence(origin(obs), detail, None if value is None else str(value)[:200])
