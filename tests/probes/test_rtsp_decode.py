"""A real decoded frame: GStreamer's RTSP server streams H.264, OpenCV decodes one frame."""

from __future__ import annotations

import re

import pytest
from gst_rtsp import gst_rtsp_server

from probes.rtsp import probe_rtsp
from probes.rtsp_decode import with_credentials


@pytest.mark.slow
async def test_real_h264_stream_decodes_one_frame() -> None:
    with gst_rtsp_server("127.0.3.50", mount="/stream1") as port:
        obs = await probe_rtsp("127.0.3.50", port, timeout=3.0, credentials=[], decode_frame=True)
    d = obs.data
    assert obs.error is None, obs.error
    assert d["server"] == "GStreamer RTSP server"
    assert d["path"] == "/stream1" and d["rtp_received"] is True
    assert d["frame_decoded"] is True
    assert d["frame_size"] == [320, 240]
    assert re.fullmatch(r"[0-9a-f]{64}", d["frame_sha256"])
    # RTP proves the stream well before a frame is decoded.
    assert d["rtp_ms"] is not None and d["frame_ms"] is not None
    assert "frame" not in d  # only the hash is kept, never pixels


def test_credentials_in_url_are_percent_encoded() -> None:
    url = with_credentials("rtsp://10.0.0.1:554/a", ("ad:min", "p@ss/w"))
    assert url == "rtsp://ad%3Amin:p%40ss%2Fw@10.0.0.1:554/a"
    assert with_credentials("rtsp://h/a", None) == "rtsp://h/a"
