"""probe_rtsp against small fake cameras on 127.0.3.x (recorded vendor replies)."""

from __future__ import annotations

import asyncio

from rtsp_server import FakeRtspCamera, RtspServer

from probes import rtsp as rtsp_mod
from probes.rtsp import probe_rtsp

HIK = "hikvision-ds2cd2143g0-v5.6.3"
DAHUA = "dahua-ipc-hdw2431t-as-v2.800.0000000.25"
XM = "xiongmai-ipg-50hv20pes-v4.02.r12"


async def test_open_stream_sends_rtp() -> None:
    cam = FakeRtspCamera(HIK)
    async with RtspServer(cam, "127.0.3.20") as srv:
        obs = await probe_rtsp(
            "127.0.3.20", srv.port, timeout=2.0, credentials=[], decode_frame=False
        )
    d = obs.data
    assert obs.error is None and obs.probe == "rtsp" and obs.port == srv.port
    assert d["server"] == "HikvisionRtspServer"
    assert "DESCRIBE" in d["public"]
    assert d["path"] == "/Streaming/Channels/101" and d["describe_status"] == 200
    assert d["auth"] == "none" and d["authenticated"] is None  # described without credentials
    assert d["media"] == ["m=video 0 RTP/AVP 96"]
    assert d["rtp_received"] is True and d["rtp_packets"] >= 1
    assert d["frame_decoded"] is None  # not attempted
    assert d["bogus_path_status"] == 404
    methods = [m for m, _ in cam.requests]
    # OPTIONS runs beside the stream search (its own connection), so its place varies
    assert {"OPTIONS", "DESCRIBE", "SETUP", "PLAY"} <= set(methods)


async def test_rtp_is_awaited_a_few_round_trips_not_the_whole_timeout() -> None:
    """A camera streams right after answering PLAY: on a quick device the wait is the
    1.5 s floor, not the step's 3 s timeout (a slow device gets twice its PLAY time)."""
    cam = FakeRtspCamera(XM, any_path=True, send_rtp=False)
    async with RtspServer(cam, "127.0.3.27") as srv:
        obs = await probe_rtsp(
            "127.0.3.27", srv.port, timeout=3.0, credentials=[], decode_frame=False
        )
    assert obs.data["play_status"] == 200 and obs.data["rtp_received"] is False
    assert obs.error == f"timeout: no RTP within {rtsp_mod.RTP_WAIT_MIN_S:.3g}s of PLAY"


async def test_yes_to_anything_without_rtp_is_not_a_stream() -> None:
    cam = FakeRtspCamera(XM, any_path=True, send_rtp=False)
    async with RtspServer(cam, "127.0.3.21") as srv:
        obs = await probe_rtsp(
            "127.0.3.21", srv.port, timeout=0.5, credentials=[], decode_frame=True
        )
    d = obs.data
    assert d["server"] == "H264DVR 1.0"
    assert d["describe_status"] == 200 and d["path"] == "/"
    assert d["bogus_path_status"] == 200
    assert d["rtp_received"] is False and d["rtp_packets"] == 0
    assert d["frame_decoded"] is None  # no RTP, so no decode attempted
    assert obs.error == "timeout: no RTP within 0.5s of PLAY"  # the step's timeout bounds it


async def test_digest_401_without_credentials_records_scheme_and_realm() -> None:
    cam = FakeRtspCamera(HIK, auth="digest", users={"admin": "Camaudit123"})
    async with RtspServer(cam, "127.0.3.22") as srv:
        obs = await probe_rtsp(
            "127.0.3.22", srv.port, timeout=2.0, credentials=[], decode_frame=False
        )
    d = obs.data
    assert obs.error is None
    assert d["describe_status"] == 401 and d["auth"] == "digest"
    assert d["realm"] == "IP Camera(D2345)"
    assert d["authenticated"] is None and d["rtp_received"] is False
    assert cam.auth_headers == []  # nothing was sent that we were not given


async def test_digest_login_then_stream() -> None:
    cam = FakeRtspCamera(HIK, auth="digest", users={"admin": "Camaudit123"})
    creds = [("admin", "wrong"), ("admin", "Camaudit123")]
    async with RtspServer(cam, "127.0.3.23") as srv:
        obs = await probe_rtsp(
            "127.0.3.23", srv.port, timeout=2.0, credentials=creds, decode_frame=False
        )
    d = obs.data
    assert obs.error is None
    assert d["auth"] == "digest" and d["authenticated"] is True
    assert d["path"] == "/Streaming/Channels/101" and d["describe_status"] == 200
    assert d["rtp_received"] is True
    assert all(h.startswith("Digest ") and "qop=auth" in h for h in cam.auth_headers)


async def test_basic_login_dahua_path() -> None:
    cam = FakeRtspCamera(DAHUA, auth="basic", users={"admin": "admin123"})
    async with RtspServer(cam, "127.0.3.24") as srv:
        obs = await probe_rtsp(
            "127.0.3.24",
            srv.port,
            timeout=2.0,
            credentials=[("admin", "admin123")],
            decode_frame=False,
        )
    d = obs.data
    assert d["auth"] == "basic" and d["realm"] == "Login to 7J0A1B2PAZ12345"
    assert d["path"] == "/cam/realmonitor?channel=1&subtype=0"
    assert len(d["media"]) == 2 and d["rtp_received"] is True


async def test_wrong_credentials_are_bounded() -> None:
    cam = FakeRtspCamera(HIK, auth="digest", users={"admin": "right"})
    creds = [("admin", f"guess{i}") for i in range(10)]
    async with RtspServer(cam, "127.0.3.25") as srv:
        obs = await probe_rtsp(
            "127.0.3.25", srv.port, timeout=2.0, credentials=creds, decode_frame=False
        )
    assert obs.data["authenticated"] is False
    assert len(cam.auth_headers) <= 3 + 1  # three guesses, plus the bogus-path check at most


async def test_silent_device_times_out_with_error() -> None:
    writers: list[asyncio.StreamWriter] = []
    hung_up = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        while await reader.read(1024):  # never answer; wait for the client to give up
            pass
        hung_up.set()

    server = await asyncio.start_server(silent, "127.0.3.26", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        obs = await probe_rtsp("127.0.3.26", port, timeout=0.3, credentials=[], decode_frame=False)
        await asyncio.wait_for(hung_up.wait(), 2)  # the probe closed its socket
    finally:
        for w in writers:
            w.close()
        server.close()
        await server.wait_closed()
    assert obs.error == "timeout after 0.3s"
    assert obs.data["rtp_received"] is False


async def test_oversized_and_garbage_replies() -> None:
    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.write(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nX-Pad: " + b"A" * 100_000)
        await writer.drain()
        writer.close()

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.write(b"SSH-2.0-dropbear\r\n\r\n")
        await writer.drain()
        writer.close()

    for handler, expect in ((flood, "larger than"), (garbage, "not an RTSP status line")):
        server = await asyncio.start_server(handler, "127.0.3.27", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            obs = await probe_rtsp(
                "127.0.3.27", port, timeout=1.0, credentials=[], decode_frame=False
            )
        finally:
            server.close()
            await server.wait_closed()
        assert obs.error is not None and expect in obs.error


async def test_refused_port() -> None:
    obs = await probe_rtsp("127.0.3.28", 9, timeout=0.5, credentials=[], decode_frame=False)
    assert obs.error == "connection refused"
