"""Vendor SDK ports and discovery protocols, realistic enough to be recognised.

Public facts used (from vendor SDK documentation, open-source clients and published
protocol write-ups; none is a full implementation):

- Hikvision SDK, TCP 8000: binary, big-endian length-prefixed frames; an unknown or
  unauthenticated request gets a short error frame.
- Hikvision SADP, UDP 37020 (multicast 239.255.255.250): XML ``<Probe><Uuid/>
  <Types>inquiry</Types></Probe>`` answered by ``<ProbeMatch>`` with DeviceType,
  DeviceDescription (model), DeviceSN, MAC (dash-separated), IPv4Address, CommandPort,
  HttpPort, SoftwareVersion, DSPVersion, Activated.
- Dahua DVRIP ("private protocol"), TCP 37777: 32-byte binary header; login requests
  start 0xa0, the device answers with a header starting 0xb0.
- Dahua DHIP discovery, UDP 37810 (multicast 239.255.255.251): a 32-byte header
  (``20 00 00 00 'DHIP'``, ..., payload length) then JSON ``{"method":
  "DHDiscover.search"}``, answered with ``client.notifyDevInfo`` carrying deviceInfo.
- Xiongmai NetIP ("Sofia"), TCP 34567 and discovery UDP 34569: a 20-byte little-endian
  header (0xff, version, 2 reserved, session id, sequence, total/current packet,
  message id, payload length) before JSON; login is message 1000 -> 1001 (Ret 100 ok,
  203 bad password), discovery 1530 -> 1531 with NetWork.NetCommon; passwords travel as
  the 8-character "Sofia" hash of their MD5.
- Reolink "Baichuan", TCP 9000: messages start with the magic 0x0abcdef0
  (little-endian f0 de bc 0a).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import struct
from typing import Any, cast

from .common import IDLE_TIMEOUT_S, DeviceContext

UDP_GROUPS = {"hikvision-sadp": "239.255.255.250", "dahua-dhip": "239.255.255.251"}
MAX_READ = 8192
# What a server that speaks first sends on connect (busybox telnetd, a vsftpd-style FTP
# daemon, dropbear as shipped on camera boards).
BANNERS = {
    "telnet": b"\r\n(none) login: ",
    "ftp": b"220 (vsFTPd 2.3.4)\r\n",
    "ssh": b"SSH-2.0-dropbear_2019.78\r\n",
}


def sofia_hash(password: str) -> str:
    """Xiongmai's password hash: MD5, then byte pairs summed mod 62 into [0-9A-Za-z]."""
    digest = hashlib.md5(password.encode(), usedforsecurity=False).digest()
    chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    return "".join(chars[(digest[2 * i] + digest[2 * i + 1]) % 62] for i in range(8))


def netip_frame(msg_id: int, payload: dict[str, Any], session: int = 0, seq: int = 0) -> bytes:
    body = json.dumps(payload, separators=(",", " : ")).encode() + b"\n\x00"
    return struct.pack("<BBxxIIBBHI", 0xFF, 0x01, session, seq, 0, 0, msg_id, len(body)) + body


def dhip_frame(payload: dict[str, Any]) -> bytes:
    body = json.dumps(payload).encode()
    return b"\x20\x00\x00\x00DHIP" + struct.pack("<IIIIII", 0, 0, len(body), 0, len(body), 0) + body


class VendorTcp:
    """One vendor TCP port: answers the first request(s) in the vendor's framing."""

    def __init__(self, ctx: DeviceContext, service: str) -> None:
        self.ctx = ctx
        self.service = service

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if self.service in BANNERS:  # server-speaks-first protocols
                writer.write(BANNERS[self.service])
                await writer.drain()
            for _ in range(16):
                data = await asyncio.wait_for(reader.read(MAX_READ), IDLE_TIMEOUT_S)
                if not data:
                    return
                reply = self.reply(data)
                await self.ctx.pace()
                if reply is None:
                    return
                writer.write(reply)
                await writer.drain()
        except (TimeoutError, ConnectionError):
            pass  # probes hang up or go quiet; so would the device
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def reply(self, data: bytes) -> bytes | None:
        dev = self.ctx.device
        if self.service == "xiongmai-netip":
            if len(data) < 20 or data[0] != 0xFF:
                return None
            msg_id = struct.unpack_from("<H", data, 14)[0]
            if msg_id != 1000:
                return netip_frame(msg_id + 1, {"Ret": 101, "SessionID": "0x00000000"})
            try:
                login = json.loads(data[20:].rstrip(b"\x00\n").decode("utf-8", "replace"))
            except ValueError:
                login = {}
            ok = (login.get("UserName") == dev.username
                  and login.get("PassWord") == sofia_hash(dev.password))  # fmt: skip
            answer = {"Ret": 100 if ok else 203, "SessionID": "0x00000011" if ok else "0x00000000",
                      "AliveInterval": 20, "ChannelNum": 1, "DeviceType ": "IPC",
                      "ExtraChannel": 0}  # fmt: skip
            return netip_frame(1001, answer, session=0x11 if ok else 0)
        if self.service == "dahua-dvrip":
            # 32-byte header, 0xb0 = login reply; 0x01 0x00 at byte 8 means "bad login"
            return b"\xb0\x00\x00\x68" + b"\x00" * 4 + b"\x01\x00" + b"\x00" * 22
        if self.service == "hikvision-sdk":
            # 16-byte frame: length 0x10, then an error status (no valid session)
            return struct.pack(">IIII", 16, 0x5A, 0, 0)
        if self.service == "reolink-baichuan":
            # magic, message id 1 (login), body length 0, encryption offset, status 0x0190
            return struct.pack("<IIIIHH", 0x0ABCDEF0, 1, 0, 0, 0x0190, 0x0000)
        if self.service == "telnet":
            return b"\r\nLogin incorrect\r\n(none) login: "
        if self.service == "ftp":
            return b"530 Please login with USER and PASS.\r\n"
        if self.service == "ssh":
            return None  # a real server would start key exchange; the banner is enough
        if self.service == "ipp":
            return (
                b"HTTP/1.1 400 Bad Request\r\nServer: CUPS/2.2 IPP/2.0\r\nContent-Length: 0\r\n\r\n"
            )
        return None  # smb, msrpc, jetdirect, lpd: accept and hang up on garbage


class VendorUdp(asyncio.DatagramProtocol):
    """One vendor discovery port; answers unicast to the sender (from ``reply``)."""

    def __init__(self, ctx: DeviceContext, service: str, holder: list[Any]) -> None:
        self.ctx = ctx
        self.service = service
        self.holder = holder  # [unicast transport] shared with the multicast twin
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        if not self.holder:
            self.holder.append(self.transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        answer = self.answer(data[:MAX_READ])
        if answer is None:
            return
        out: asyncio.DatagramTransport = self.holder[0]
        delay = 1.0 if self.ctx.slow else 0.0
        asyncio.get_running_loop().call_later(delay, _sendto, out, answer, (addr[0], addr[1]))

    def answer(self, data: bytes) -> bytes | None:
        dev, ip = self.ctx.device, self.ctx.ip
        version, _, build = dev.firmware.partition(" build ")
        if self.service == "hikvision-sadp":
            if b"<Probe>" not in data or b"inquiry" not in data:
                return None
            uuid = (
                data.split(b"<Uuid>")[1].split(b"</Uuid>")[0].decode("ascii", "replace")
                if b"<Uuid>" in data
                else ""
            )
            mac = dev.mac.replace(":", "-")
            return (
                '<?xml version="1.0" encoding="UTF-8"?><ProbeMatch>'
                f"<Uuid>{uuid}</Uuid><Types>inquiry</Types><DeviceType>139264</DeviceType>"
                f"<DeviceDescription>{dev.model}</DeviceDescription>"
                f"<DeviceSN>{dev.serial}</DeviceSN><CommandPort>8000</CommandPort>"
                f"<HttpPort>{dev.http.get('port', 80)}</HttpPort><MAC>{mac}</MAC>"
                f"<IPv4Address>{ip}</IPv4Address><IPv4SubnetMask>255.255.252.0</IPv4SubnetMask>"
                f"<IPv4Gateway>{dev.gateway}</IPv4Gateway><DHCP>false</DHCP>"
                f"<AnalogChannelNum>0</AnalogChannelNum><DigitalChannelNum>1</DigitalChannelNum>"
                f"<SoftwareVersion>{version}</SoftwareVersion>"
                f"<DSPVersion>V7.3 build {build}</DSPVersion>"
                f"<BootTime>{self.ctx.now():%Y-%m-%d %H:%M:%S}</BootTime>"
                "<Activated>true</Activated><PasswordResetAbility>true</PasswordResetAbility>"
                "</ProbeMatch>"
            ).encode()
        if self.service == "dahua-dhip":
            if not data.startswith(b"\x20\x00\x00\x00DHIP") or b"DHDiscover.search" not in data:
                return None
            info = {"DeviceType": dev.model, "SerialNo": dev.serial, "Version": dev.firmware,
                    "Mac": dev.mac, "Vendor": "General", "HttpPort": dev.http.get("port", 80),
                    "Port": 37777,
                    "IPv4Address": {"IPAddress": ip, "SubnetMask": "255.255.252.0",
                                    "DefaultGateway": dev.gateway}}  # fmt: skip
            return dhip_frame({"method": "client.notifyDevInfo", "params": {"deviceInfo": info},
                               "mac": dev.mac})  # fmt: skip
        if self.service == "xiongmai-discovery":
            if len(data) < 20 or data[0] != 0xFF or struct.unpack_from("<H", data, 14)[0] != 1530:
                return None
            packed = "0x" + "".join(f"{int(o):02X}" for o in reversed(ip.split(".")))
            common = {"HostIP": packed, "HostName": "LocalHost", "MAC": dev.mac,
                      "SN": dev.serial, "TCPPort": 34567, "HttpPort": dev.http.get("port", 80),
                      "Version": dev.firmware, "ChannelNum": 1, "DeviceType": 1}  # fmt: skip
            return netip_frame(1531, {"NetWork.NetCommon": common, "Ret": 100,
                                      "SessionID": "0x00000000"})  # fmt: skip
        return None


def _sendto(transport: asyncio.DatagramTransport, data: bytes, addr: tuple[Any, Any]) -> None:
    if not transport.is_closing():
        transport.sendto(data, addr)
