"""The simulated devices' protocol servers (HTTP admin + ONVIF, WS-Discovery, RTSP,
vendor ports). The daemon builds one :class:`DeviceServer` per device, calls ``bind()``
inside the device's namespace and ``start()`` on its asyncio loop; GStreamer's RTSP
servers share one GLib main loop thread (``start_glib_thread`` / ``stop_glib_thread``).
"""

from __future__ import annotations

from .server import DeviceServer


def start_glib_thread() -> None:
    """Start the shared GLib main loop for GStreamer RTSP servers (idempotent)."""
    from .gst import start_glib_thread as start

    start()


def stop_glib_thread() -> None:
    """Stop the shared GLib main loop thread (idempotent; no-op if never started)."""
    import sys

    gst = sys.modules.get(f"{__name__}.gst")
    if gst is not None:
        gst.stop_glib_thread()


__all__ = ["DeviceServer", "start_glib_thread", "stop_glib_thread"]
