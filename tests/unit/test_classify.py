"""Classification: observations like the probes send them → identities with evidence."""

from __future__ import annotations

from obsbuild import arp, http, onvif, portscan, rtsp, vendor_port, wsd

from auditor.classify import classify, evidence_for
from auditor.model import Device, Observation

IP = "198.18.0.10"


def one(obs: list[Observation]) -> Device:
    (dev,) = classify(obs)
    return dev


def hikvision(ip: str = IP, mac: str = "44:19:b6:01:02:03") -> list[Observation]:
    return [
        arp(ip, mac),
        portscan(ip, 80, 554, 8000),
        http(ip, status=401, server="App-webs/", auth_schemes=["digest"], realm="IP Camera(C1234)"),
        rtsp(ip, server="HikvisionRtspServer/1.0"),
        onvif(ip, manufacturer="HIKVISION", model="DS-2CD2143G0-I", firmware="V5.5.53 build 180725",
              serial="DS-2CD2143G0-I20180101AACH123456789", hardware_id="88"),
        wsd(ip, scopes=["onvif://www.onvif.org/name/HIKVISION",
                        "onvif://www.onvif.org/hardware/DS-2CD2143G0-I"]),
    ]  # fmt: skip


def dahua_board(ip: str, manufacturer: str, model: str, mac: str) -> list[Observation]:
    return [
        arp(ip, mac),
        portscan(ip, 80, 554, 37777),
        http(ip, status=401, auth_schemes=["digest"], realm="Login to 4K01234PAZ12345",
             body_sample='{"realm":"Login to 4K01234PAZ12345"}', paths={"/RPC2_Login": 200}),
        rtsp(ip, server="Rtsp Server/3.0", realm="Login to 4K01234PAZ12345"),
        onvif(ip, manufacturer=manufacturer, model=model, firmware="V2.820.0000000.5.R",
              serial="4K01234PAZ12345", hardware_id="1.00"),
        vendor_port(ip, 37777, "dahua-dvrip"),
    ]  # fmt: skip


def test_hikvision() -> None:
    dev = one(hikvision())
    assert (dev.vendor, dev.oem, dev.device_type) == ("Hikvision", "Hikvision", "camera")
    assert dev.model == "DS-2CD2143G0-I" and dev.hardware_id == "88"
    assert dev.serial and dev.firmware and dev.mac == "44:19:b6:01:02:03"
    assert dev.confidence > 0.9
    refs = " ".join(e.detail for e in evidence_for(dev, "oem=Hikvision"))
    assert "hikvision.toml#http-server-app-webs" in refs and "hardware-id-88" in refs
    assert dev.endpoint_uuid == "3fa85f64-5717-4562-b3fc-2c963f66afa6"


def test_dahua() -> None:
    dev = one(dahua_board(IP, "Dahua", "IPC-HDW2431T-AS", "3c:ef:8c:00:00:01"))
    assert (dev.vendor, dev.oem, dev.device_type) == ("Dahua", "Dahua", "camera")
    assert dev.serial == "4K01234PAZ12345"


def test_amcrest_resolves_to_dahua_with_board_chain() -> None:
    dev = one(dahua_board(IP, "Amcrest", "IP2M-841B", "9c:8e:cd:00:00:01"))
    assert (dev.vendor, dev.oem, dev.model) == ("Amcrest", "Dahua", "IP2M-841B")
    chain = " ".join(e.detail for e in evidence_for(dev, "oem=Dahua"))
    assert "http-realm-login-to" in chain and "vendor-port-dvrip" in chain
    assert "onvif-firmware-build" in chain
    # The Amcrest OUI speaks for the label, never for the board.
    assert any(e.source == "oui" for e in evidence_for(dev, "vendor=Amcrest"))


def test_annke_resolves_to_hikvision() -> None:
    obs = [
        arp(IP, "02:00:00:aa:bb:cc"),
        http(IP, status=401, server="App-webs/", auth_schemes=["digest"]),
        onvif(IP, manufacturer="ANNKE", model="I91BM", hardware_id="88"),
        vendor_port(IP, 8000, "hikvision-sdk"),
    ]
    dev = one(obs)
    assert (dev.vendor, dev.oem, dev.device_type) == ("Annke", "Hikvision", "camera")


def test_annke_without_board_signal_resolves_through_oem_table() -> None:
    dev = one([onvif(IP, manufacturer="ANNKE", model="C800")])
    assert (dev.vendor, dev.oem) == ("Annke", "Hikvision")
    assert any(e.source == "oem.toml" for e in evidence_for(dev, "oem=Hikvision"))


def test_lorex_label_alone_leaves_maker_open() -> None:
    dev = one([onvif(IP, manufacturer="LOREX", model="LNB8005")])
    assert dev.vendor == "Lorex" and dev.oem is None
    assert any("no board signal" in n for n in dev.notes)


def test_xiongmai_white_label() -> None:
    obs = [
        arp(IP, "0a:12:34:56:78:9a"),  # locally administered: no vendor from the MAC
        portscan(IP, 80, 554, 34567),
        http(IP, server="uc-httpd 1.0.0", title="NETSurveillance WEB"),
        rtsp(IP, server="H264DVR 1.0"),
    ]
    dev = one(obs)
    assert (dev.oem, dev.device_type) == ("Xiongmai", "camera")
    assert dev.vendor == "Xiongmai"  # no label anywhere: name the board
    assert any("locally administered" in n for n in dev.notes)
    assert not any(e.source == "oui" and e.claim for e in dev.evidence)


def test_counterfeit_label_seen_without_a_login() -> None:
    # A Xiongmai board sold as Hikvision whose ONVIF refuses the operator's password (it
    # still has the vendor default): the web UI's title is the label the buyer sees.
    obs = [
        arp(IP, "fe:e0:3a:a6:59:48"),
        portscan(IP, 80, 554, 8899, 34567),
        http(IP, server="uc-httpd 1.0.0", title="HIKVISION"),
        rtsp(IP, server="H264DVR 1.0"),
    ]
    dev = one(obs)
    assert (dev.vendor, dev.oem) == ("Hikvision", "Xiongmai")


def test_axis() -> None:
    obs = [
        arp(IP, "ac:cc:8e:01:02:03"),
        http(IP, status=401, auth_schemes=["digest"], realm="AXIS_ACCC8E010203", title="AXIS"),
        rtsp(IP, server="GStreamer RTSP server"),
        onvif(IP, manufacturer="AXIS", model="P1375", firmware="10.12.153"),
    ]
    dev = one(obs)
    assert (dev.vendor, dev.oem, dev.model, dev.device_type) == ("Axis", "Axis", "P1375", "camera")


def test_uniview() -> None:
    obs = [
        arp(IP, "48:ea:63:01:02:03"),
        http(IP, server="nginx", paths={"/LAPI/V1.0/System/DeviceBasicInfo": 401}),
        onvif(IP, manufacturer="UNIVIEW", model="IPC322LB-SF28-A", hardware_id="A"),
    ]
    dev = one(obs)
    assert (dev.vendor, dev.oem, dev.device_type) == ("Uniview", "Uniview", "camera")


def test_hanwha() -> None:
    obs = [
        arp(IP, "00:09:18:01:02:03"),
        http(IP, status=401, auth_schemes=["digest"], realm="iPOLiS", title="Wisenet"),
        rtsp(IP, server="Wisenet RTSP Server"),
        onvif(IP, manufacturer="Hanwha Vision", model="XNV-8080R"),
    ]
    dev = one(obs)
    assert (dev.vendor, dev.oem, dev.model, dev.device_type) == (
        "Hanwha", "Hanwha", "XNV-8080R", "camera",
    )  # fmt: skip


def test_reolink() -> None:
    obs = [
        arp(IP, "ec:71:db:01:02:03"),
        portscan(IP, 80, 554, 9000),
        http(IP, title="Reolink", paths={"/cgi-bin/api.cgi?cmd=GetDevInfo": 200}),
        rtsp(IP, server="Reolink RTSP Server"),
        vendor_port(IP, 9000, "reolink-media"),
    ]
    dev = one(obs)
    assert (dev.vendor, dev.oem, dev.device_type) == ("Reolink", "Reolink", "camera")


def test_windows_computer_is_not_a_camera() -> None:
    obs = [
        arp(IP, "00:15:5d:01:02:03"),
        portscan(IP, 135, 139, 445, 3389, 554),  # even with something on 554
        wsd(IP, "pub:Computer", scopes=["Workgroup:WORKGROUP"]),
        http(IP, 5357, status=503, server="Microsoft-HTTPAPI/2.0", title="Service Unavailable"),
    ]
    dev = one(obs)
    assert dev.device_type == "computer"
    assert "camera" not in {
        c.split("=")[1] for e in dev.evidence for c in (e.claim or "").split("; ") if c
    }


def test_printer_is_not_a_camera() -> None:
    obs = [
        arp(IP, "00:1b:a9:01:02:03"),
        portscan(IP, 80, 443, 515, 631, 9100),
        wsd(IP, "wprt:PrintDeviceType", "wsdp:Device"),
        http(IP, server="debut/1.30", title="Brother HL-L2350DW series"),
    ]
    dev = one(obs)
    assert (dev.device_type, dev.vendor, dev.model) == ("printer", "Brother", "HL-L2350DW")


def test_switch_is_not_a_camera() -> None:
    obs = [
        arp(IP, "00:09:5b:01:02:03"),
        portscan(IP, 80),
        http(IP, title="NETGEAR GS108Tv3", status=200),
    ]
    dev = one(obs)
    assert (dev.device_type, dev.vendor, dev.model) == ("switch", "NETGEAR", "GS108Tv3")


def test_unknown_host_stays_unknown() -> None:
    dev = one([arp(IP, "00:00:0c:01:02:03"), portscan(IP, 554)])
    assert dev.device_type == "unknown"


def test_clock_skewed_camera_identified_through_onvif() -> None:
    obs = [onvif(IP, manufacturer="HIKVISION", model="DS-2CD2143G0-I", clock_offset_s=-3600.0)]
    dev = one(obs)
    assert (dev.vendor, dev.device_type, dev.clock_offset_s) == ("Hikvision", "camera", -3600.0)


def test_services_and_verified_stream() -> None:
    obs = [
        portscan(IP, 23, 80, 554, 8554),
        http(IP, server="App-webs/"),
        rtsp(IP, 554, auth="none", describe_status=200, rtp_received=True, rtp_packets=12),
        rtsp(IP, 8554, auth="none", describe_status=200, bogus_path_status=200),
        onvif(IP, manufacturer="HIKVISION", model="DS-2CD2143G0-I"),
    ]
    dev = one(obs)
    by = {(s.port, s.name): s for s in dev.services}
    assert by[(554, "rtsp")].verified_stream is True
    assert by[(8554, "rtsp")].verified_stream is False  # 200 on any path is no stream
    assert by[(23, "telnet")].name == "telnet"
    assert (80, "http") in by and (80, "onvif") in by


def test_radios_from_onvif() -> None:
    def iface(name: str, mac: str | None, if_type: int) -> dict[str, object]:
        return {"token": name, "name": name, "mac": mac, "if_type": if_type, "enabled": True}

    ifaces = [
        iface("eth0", "44:19:b6:01:02:03", 6),
        iface("wlan0", "44:19:b6:01:02:04", 71),
        iface("wwan0", None, 243),
    ]
    dev = one([onvif(IP, manufacturer="HIKVISION", model="X", interfaces=ifaces)])
    assert sorted(r.kind for r in dev.radios) == ["cellular", "wifi"]
    assert dev.mac == "44:19:b6:01:02:03"  # the wired interface, not the radio


def test_probe_errors_become_notes_and_odd_data_is_tolerated() -> None:
    obs = [
        Observation("http", IP, {"server": 42, "headers": "x", "paths": []}, port=80,
                    error="reply larger than 65536 bytes"),
        Observation("onvif", IP, {"device_info": "garbage", "interfaces": [1, None]}, port=80,
                    error="malformed XML: not well-formed"),
        Observation("portscan", IP, {"tcp_open": ["80", None, 80]}),
    ]  # fmt: skip
    dev = one(obs)
    assert len(dev.notes) == 2 and "malformed XML" in dev.notes[1]


def test_groups_by_ip_and_sorts() -> None:
    devs = classify(hikvision("198.18.0.20") + hikvision("198.18.0.3", "44:19:b6:00:00:09"))
    assert [d.ip for d in devs] == ["198.18.0.3", "198.18.0.20"]


def test_classify_250_devices_of_three_makers() -> None:
    obs: list[Observation] = []
    for i in range(250):
        ip = f"198.18.{i // 200}.{10 + i % 200}"
        mac = f"44:19:b6:00:{i // 256:02x}:{i % 256:02x}"
        if i % 3 == 0:
            obs += hikvision(ip, mac)
        elif i % 3 == 1:
            obs += dahua_board(ip, "Amcrest", "IP2M-841B", mac)
        else:
            obs += [arp(ip, mac), http(ip, server="uc-httpd 1.0.0", title="NETSurveillance WEB",
                                       body_sample=f"<html>{i}</html>" * 100)]  # fmt: skip
    devs = classify(obs)
    assert len(devs) == 250
    assert sorted({d.oem for d in devs}) == ["Dahua", "Hikvision", "Xiongmai"]
