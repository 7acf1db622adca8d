from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import socket
import struct
import time
import uuid

import pytest
from camlab.services.vendor import netip_frame, sofia_hash
from camlab.spec import LabDevice

from .conftest import Start, pick

CLIENT_IP = "127.0.1.2"  # the "probe" side, inside this suite's 127.0.1.0/24


def _probe(types: str) -> tuple[str, bytes]:
    mid = f"urn:uuid:{uuid.uuid4()}"
    msg = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
        'xmlns:dn="http://www.onvif.org/ver10/network/wsdl" '
        'xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
        f"<e:Header><w:MessageID>{mid}</w:MessageID>"
        "<w:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</w:To>"
        "<w:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</w:Action></e:Header>"
        f"<e:Body><d:Probe><d:Types>{types}</d:Types></d:Probe></e:Body></e:Envelope>"
    )
    return mid, msg.encode()


async def _udp_ask(ip: str, port: int, payload: bytes, wait: float = 1.0) -> bytes | None:
    def run() -> bytes | None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((CLIENT_IP, 0))
            s.settimeout(wait)
            s.sendto(payload, (ip, port))
            try:
                return s.recv(65535)
            except TimeoutError:
                return None

    return await asyncio.to_thread(run)


@pytest.mark.parametrize("types", ["dn:NetworkVideoTransmitter", "tds:Device", ""])
async def test_ws_discovery_unicast_probe(
    devices: list[LabDevice], serve: Start, types: str
) -> None:
    dev, ip = await serve(pick(devices, "hikvision-ds2cd2"))
    mid, probe = _probe(types)
    reply = await _udp_ask(ip, 3702, probe)
    assert reply is not None
    text = reply.decode()
    assert f"<wsa:RelatesTo>{mid}</wsa:RelatesTo>" in text
    assert f"urn:uuid:{dev.endpoint_uuid}" in text
    assert f"<d:XAddrs>http://{ip}/onvif/device_service</d:XAddrs>" in text
    assert f"onvif://www.onvif.org/hardware/{dev.model}" in text
    assert "dn:NetworkVideoTransmitter tds:Device" in text


async def test_computer_answers_only_as_a_computer(devices: list[LabDevice], serve: Start) -> None:
    dev, ip = await serve(pick(devices, "windows-pc"))
    assert await _udp_ask(ip, 3702, _probe("dn:NetworkVideoTransmitter")[1], 0.5) is None
    reply = await _udp_ask(ip, 3702, _probe("")[1])
    assert reply is not None and b"pub:Computer" in reply
    assert b"NetworkVideoTransmitter" not in reply
    assert f"http://{ip}:5357/{dev.endpoint_uuid}/".encode() in reply


async def _rtsp(ip: str, lines: list[str], port: int = 554) -> list[str]:
    reader, writer = await asyncio.open_connection(ip, port)
    answers = []
    try:
        for req in lines:
            writer.write(req.encode())
            await writer.drain()
            head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).decode()
            m = re.search(r"Content-Length: (\d+)", head, re.I)
            body = (await reader.readexactly(int(m.group(1)))).decode() if m else ""
            answers.append(head + body)
    finally:
        writer.close()
        await writer.wait_closed()
    return answers


def _digest(dev: LabDevice, method: str, uri: str, challenge: str) -> str:
    realm = re.search(r'realm="([^"]*)"', challenge)
    nonce = re.search(r'nonce="([^"]*)"', challenge)
    assert realm and nonce

    def md5(s: str) -> str:
        return hashlib.md5(s.encode()).hexdigest()

    resp = md5(
        f"{md5(f'{dev.username}:{realm[1]}:{dev.password}')}:{nonce[1]}:{md5(f'{method}:{uri}')}"
    )
    return (f'Digest username="{dev.username}", realm="{realm[1]}", nonce="{nonce[1]}", '
            f'uri="{uri}", response="{resp}"')  # fmt: skip


async def test_gstreamer_rtsp_vendor_banner_and_digest(
    devices: list[LabDevice], serve: Start
) -> None:
    dev, ip = await serve(pick(devices, "hikvision-ds2cd2"))
    uri = f"rtsp://{ip}:554/Streaming/Channels/101"
    opts, denied = await _rtsp(ip, [f"OPTIONS {uri} RTSP/1.0\r\nCSeq: 1\r\n\r\n",
                                    f"DESCRIBE {uri} RTSP/1.0\r\nCSeq: 2\r\n\r\n"])  # fmt: skip
    assert "Server: HikvisionRtspServer/1.0" in opts
    assert denied.startswith("RTSP/1.0 401") and "IP Camera(" in denied
    auth = _digest(dev, "DESCRIBE", uri, denied)
    reader, writer = await asyncio.open_connection(ip, 554)
    try:
        writer.write(f"DESCRIBE {uri} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode())
        first = (await reader.readuntil(b"\r\n\r\n")).decode()
        auth = _digest(dev, "DESCRIBE", uri, first)
        writer.write(
            f"DESCRIBE {uri} RTSP/1.0\r\nCSeq: 2\r\nAuthorization: {auth}\r\n\r\n".encode()
        )
        second = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).decode()
    finally:
        writer.close()
        await writer.wait_closed()
    assert second.startswith("RTSP/1.0 200") and "application/sdp" in second


async def test_rtsp_any_path_200_never_streams(devices: list[LabDevice], serve: Start) -> None:
    dev = pick(devices, "xiongmai-generic")
    dev.quirks = ["rtsp_any_path_200"]
    assert dev.rtsp
    dev.rtsp["engine"] = "fake"
    dev, ip = await serve(dev)
    uri = f"rtsp://{ip}:554/no/such/{uuid.uuid4().hex}"
    answers = await _rtsp(ip, [
        f"OPTIONS {uri} RTSP/1.0\r\nCSeq: 1\r\n\r\n",
        f"DESCRIBE {uri} RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n",
        f"SETUP {uri}/trackID=1 RTSP/1.0\r\nCSeq: 3\r\n"
        "Transport: RTP/AVP/TCP;interleaved=0-1\r\n\r\n",
    ])  # fmt: skip
    assert all(a.startswith("RTSP/1.0 200") for a in answers)
    assert "Server: H264DVR 1.0" in answers[0]
    assert "m=video 0 RTP/AVP 96" in answers[1]
    session = re.search(r"Session: ([^;\r]+)", answers[2])
    assert session
    reader, writer = await asyncio.open_connection(ip, 554)
    try:
        writer.write(f"PLAY {uri} RTSP/1.0\r\nCSeq: 4\r\nSession: {session[1]}\r\n\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"RTSP/1.0 200")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.read(1), 0.5)  # no RTP, ever
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.slow
async def test_opencv_decodes_a_frame(devices: list[LabDevice], serve: Start) -> None:
    cv2 = pytest.importorskip("cv2")
    dev, ip = await serve(pick(devices, "axis"))
    url = f"rtsp://{dev.username}:{dev.password}@{ip}:554/axis-media/media.amp"
    os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")

    def grab() -> tuple[int, int]:
        cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
        try:
            ok, frame = cap.read()
            assert ok and frame is not None
            return frame.shape[1], frame.shape[0]
        finally:
            cap.release()

    t0 = time.monotonic()
    assert await asyncio.to_thread(grab) == (320, 240)
    assert time.monotonic() - t0 < 20


async def test_vendor_discovery_and_sdk_ports(devices: list[LabDevice], serve: Start) -> None:
    hik, hik_ip = await serve(pick(devices, "hikvision-ds2cd2"))
    probe = b"<?xml version='1.0'?><Probe><Uuid>AB-1</Uuid><Types>inquiry</Types></Probe>"
    sadp = await _udp_ask(hik_ip, 37020, probe)
    assert sadp is not None and f"<DeviceSN>{hik.serial}</DeviceSN>".encode() in sadp
    assert hik.mac.replace(":", "-").encode() in sadp

    xm = pick(devices, "xiongmai-generic")
    xm.vendor_ports = [vp for vp in xm.vendor_ports if vp["service"] != "telnet"]
    xm, xm_ip = await serve(xm)
    found = await _udp_ask(xm_ip, 34569, netip_frame(1530, {}))
    assert found is not None and found[0] == 0xFF
    assert struct.unpack_from("<H", found, 14)[0] == 1531
    assert json.loads(found[20:].rstrip(b"\x00\n"))["NetWork.NetCommon"]["SN"] == xm.serial
    reader, writer = await asyncio.open_connection(xm_ip, 34567)
    try:
        login = {"EncryptType": "MD5", "LoginType": "DVRIP-Web", "UserName": xm.username,
                 "PassWord": sofia_hash(xm.password)}  # fmt: skip
        writer.write(netip_frame(1000, login))
        head = await asyncio.wait_for(reader.readexactly(20), 5)
        body = await reader.readexactly(struct.unpack_from("<I", head, 16)[0])
    finally:
        writer.close()
        await writer.wait_closed()
    assert struct.unpack_from("<H", head, 14)[0] == 1001
    assert json.loads(body.rstrip(b"\x00\n"))["Ret"] == 100


def test_sofia_hash_of_empty_password() -> None:
    assert sofia_hash("") == "tlJwpbo6"  # the well-known hash of Xiongmai's empty default
