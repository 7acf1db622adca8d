"""A real H.264 RTSP server (GStreamer's GstRtspServer) on loopback, for decode tests."""

from __future__ import annotations

import socket
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

PIPELINE = (
    "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 "
    "! x264enc tune=zerolatency key-int-max=15 speed-preset=ultrafast "
    "! rtph264pay name=pay0 pt=96 config-interval=1 )"
)


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def gst_rtsp_server(host: str, mount: str = "/stream1") -> Iterator[int]:
    """Serve a live H.264 test pattern at rtsp://host:port/mount; yield the port."""
    with warnings.catch_warnings():
        # PyGObject's importer predates PEP 451 and says so with an ImportWarning on
        # every gi.repository import; harmless, and only here, so ignored only here.
        warnings.filterwarnings(
            "ignore", category=ImportWarning, message="DynamicImporter.exec_module"
        )
        import gi

        gi.require_version("Gst", "1.0")
        gi.require_version("GstRtspServer", "1.0")
        from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    port = free_port(host)
    ctx = GLib.MainContext.new()
    loop = GLib.MainLoop.new(ctx, False)
    server: Any = GstRtspServer.RTSPServer.new()
    server.set_address(host)
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory.new()
    factory.set_launch(PIPELINE)
    factory.set_shared(True)
    server.get_mount_points().add_factory(mount, factory)
    source_id = server.attach(ctx)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    try:
        yield port
    finally:

        def stop() -> bool:
            server.get_session_pool().cleanup()
            loop.quit()
            return False

        ctx.invoke_full(GLib.PRIORITY_DEFAULT, stop)
        thread.join(5)
        source = ctx.find_source_by_id(source_id)
        if source is not None:
            source.destroy()  # closes the listening socket
