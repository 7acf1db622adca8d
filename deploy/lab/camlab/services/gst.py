"""GStreamer RTSP servers for real streams, all driven by one GLib main loop thread.

``attach`` must run in the thread that is inside the device's network namespace: the
RTSP server creates its listening socket during ``attach``. The clip is pre-encoded
(``camlab.media``), so a client costs a demuxer and a payloader, no encoder.
"""

from __future__ import annotations

import logging
import threading
import warnings
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    # gi's importer triggers an ImportWarning on Python 3.11 (falls back to load_module)
    warnings.simplefilter("ignore", ImportWarning)
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtsp", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtsp, GstRtspServer

log = logging.getLogger(__name__)

_lock = threading.Lock()
_loop: Any = None
_thread: threading.Thread | None = None
_DEMUX = {"h264": "qtdemux ! h264parse ! rtph264pay", "mjpeg": "matroskademux ! rtpjpegpay"}


def start_glib_thread() -> None:
    """Start the GLib main loop that serves every GStreamer RTSP server (idempotent)."""
    global _loop, _thread
    with _lock:
        if _thread is not None and _thread.is_alive():
            return
        Gst.init(None)
        _loop = GLib.MainLoop()
        _thread = threading.Thread(target=_loop.run, name="camlab-glib", daemon=True)
        _thread.start()


def stop_glib_thread() -> None:
    """Stop the GLib main loop thread (idempotent)."""
    global _loop, _thread
    with _lock:
        if _loop is not None:
            _loop.quit()
        if _thread is not None:
            _thread.join(timeout=5)
        _loop, _thread = None, None


class GstStream:
    """One device's GStreamer RTSP server (paths from the profile, auth, Server banner)."""

    def __init__(self, ip: str, rtsp: dict[str, Any], clip: Path, user: str, password: str):
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address(ip)
        self.server.set_service(str(int(rtsp.get("port", 554))))
        codec = str(rtsp.get("codec", "h264"))
        launch = (f"( filesrc location={clip} ! {_DEMUX[codec]} name=pay0 pt=96"
                  f"{' config-interval=1' if codec == 'h264' else ''} )")  # fmt: skip
        auth_kind = str(rtsp.get("auth", "none"))
        mounts = self.server.get_mount_points()
        for path in rtsp.get("paths", []):
            factory = GstRtspServer.RTSPMediaFactory()
            factory.set_launch(launch)
            factory.set_shared(False)
            if auth_kind != "none":
                factory.add_role_from_structure(Gst.Structure.new_from_string(
                    "user, media.factory.access=(boolean)true, "
                    "media.factory.construct=(boolean)true"))  # fmt: skip
            # the mount point ignores the query (?channel=1&subtype=0): GStreamer matches paths
            mounts.add_factory(path.partition("?")[0], factory)
        if auth_kind != "none":
            auth = GstRtspServer.RTSPAuth()
            token = GstRtspServer.RTSPToken()
            token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
            if auth_kind == "digest":
                auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
                auth.add_digest(user, password, token)
            else:
                auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
                auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
            auth.set_realm(str(rtsp.get("realm") or "RTSP"))
            self.server.set_auth(auth)
        self.banner = str(rtsp.get("server", ""))
        if self.banner and self.banner != "GStreamer RTSP server":
            self.server.connect("client-connected", self._client_connected)
        self.source_id = 0

    def _client_connected(self, _server: Any, client: Any) -> None:
        client.connect("send-message", self._send_message)

    def _send_message(self, _client: Any, _ctx: Any, message: Any) -> None:
        # Replace GStreamer's own "Server: GStreamer RTSP server" with the vendor's.
        message.remove_header(GstRtsp.RTSPHeaderField.SERVER, -1)
        message.add_header(GstRtsp.RTSPHeaderField.SERVER, self.banner)

    def attach(self) -> None:
        """Create the listening socket (call inside the device's namespace)."""
        self.source_id = self.server.attach(None)
        if not self.source_id:
            raise OSError(f"GStreamer RTSP server could not listen on {self.server.get_address()}")

    def detach(self) -> None:
        if self.source_id:
            if _loop is not None and _loop.is_running():
                GLib.idle_add(self._detach_in_loop, self.source_id)
            else:
                self._detach_in_loop(self.source_id)
            self.source_id = 0

    def _detach_in_loop(self, source_id: int) -> bool:
        GLib.source_remove(source_id)
        self.server.client_filter(lambda _s, _c: GstRtspServer.RTSPFilterResult.REMOVE)
        return False
