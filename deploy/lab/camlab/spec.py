"""The lab's addressing plan and the description of one simulated device.

Everything the lab creates is named ``camlab*`` and lives in 198.18.0.0/15 (RFC 2544
benchmarking range). The "internet" the cameras phone home to is 198.19.0.0/16 inside
the ``camlab-inet`` namespace: real firmware talks to public addresses (114.114.114.114,
8.8.8.8, vendor clouds); the lab maps each of them into 198.19.0.0/16 so no lab packet
ever carries a public destination.

Topology::

    host (probe) 198.18.0.1 ── camlab0 (bridge, host ns) ── cameras 198.18.0.10 ... 198.18.3.250
                                   │
                          camlab-rtr (router ns) 198.18.3.254
                             │               │
           camlab1 (bridge in camlab-rtr)    camlab-inet (fake internet, 198.19.0.0/16)
           routed district 198.18.8.0/24     DNS 198.19.0.53, cloud sinks, "public" resolvers
           router leg 198.18.8.1
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

PREFIX = "camlab"
BRIDGE = "camlab0"  # the probe's segment, in the host namespace
ROUTED_BRIDGE = "camlab1"  # the routed district, inside the router namespace
AIR_BRIDGE = "camlab-air"  # hidden Wi-Fi interfaces (radio tests)
LOCAL_SUBNET = "198.18.0.0/22"
PROBE_IP = "198.18.0.1"
ROUTER_NS = "camlab-rtr"
ROUTER_LOCAL_IP = "198.18.3.254"
ROUTED_SUBNET = "198.18.8.0/24"
ROUTER_ROUTED_IP = "198.18.8.1"
INET_NS = "camlab-inet"
INET_SUBNET = "198.19.0.0/16"
INET_DNS_IP = "198.19.0.53"
SITE_DNS_IP = ROUTER_LOCAL_IP  # the city's own resolver (allowed traffic)
SITE_NTP_IP = ROUTER_LOCAL_IP  # the city's own NTP server (allowed traffic)
RUN_DIR = "/run/camlab"
# the link between the router and the fake internet (a /30 inside the lab's range)
UPLINK_SUBNET = "198.18.255.0/30"
ROUTER_UPLINK_IP = "198.18.255.1"
INET_UPLINK_IP = "198.18.255.2"
# the fake UPnP IGD on the router (SSDP on its camlab0 and camlab1 legs)
UPNP_HTTP_PORT = 49152


def lab_address(ip: str) -> str:
    """Where a destination a real firmware would use lives in the lab.

    Lab addresses (198.18.0.0/15) are kept; any other IPv4 address (a hard-coded
    public resolver such as 114.114.114.114 or 8.8.8.8) is modelled in the fake
    internet as 198.19.<c>.<d>: 198.19.114.114 and 198.19.8.8. No lab packet ever
    carries a public destination.
    """
    octets = [int(o) for o in ip.split(".")]
    if len(octets) != 4 or not all(0 <= o <= 255 for o in octets):
        raise ValueError(f"not an IPv4 address: {ip!r}")
    if octets[0] == 198 and octets[1] in (18, 19):
        return ip
    return f"198.19.{octets[2]}.{octets[3]}"


def cloud_address(name: str) -> str:
    """The fake-internet address of a vendor cloud name (deterministic, 198.19.32-231.x).

    198.19.0-31.x is kept for the lab's own infrastructure (DNS 198.19.0.53, ...).
    """
    digest = hashlib.sha256(name.strip(".").lower().encode()).digest()
    return f"198.19.{32 + digest[0] % 200}.{1 + digest[1] % 254}"


def veth_name(index: int) -> str:
    """Name of the host-side veth of the ``index``-th device (<= 15 chars for Linux)."""
    return f"{PREFIX}-v{index}"


@dataclass
class LabDevice:
    """One simulated device: what it is (ground truth) and how it behaves.

    Generated from a profile (``profiles/*.toml``) and a seed by ``camlab.generate``.
    ``truth()`` is what ``camaudit lab status --json`` prints; the scanner never reads it.

    ``phone_home`` is a list of dicts, each one thing the device does on a timer from
    inside its namespace (``camlab.phonehome``); the first run is within ~2 s of the lab
    coming up. Keys common to every entry:

    - ``kind``: ``"dns" | "udp" | "tcp" | "ntp" | "upnp"``
    - ``every_s``: seconds between runs (default 30; jittered +-10 % by the seed)
    - ``resolver``: how names are resolved: ``"site"`` (default, the city's resolver
      ``SITE_DNS_IP``) or an IPv4 address the firmware hard-codes, written as the real
      one (``"114.114.114.114"``, ``"8.8.8.8"``); the lab maps it with ``lab_address``
    - ``note``: free text for the ground truth (e.g. ``"CS2 P2P hello"``)

    Per kind:

    - ``dns``: ``name`` -- one A query for the name.
    - ``udp``: ``host`` (a cloud name, resolved first, or an IPv4 address, mapped with
      ``lab_address``), ``port``, ``payload_hex`` (e.g. ``"f1000000"`` for a CS2 P2P
      hello, or a STUN binding request ``"000100002112a442" + 12 random bytes``). The
      device waits briefly for an answer; none is needed.
    - ``tcp``: ``host``, ``port``, optional ``payload_hex`` sent after connecting.
    - ``ntp``: ``server`` (name or IPv4; ``"site"`` means ``SITE_NTP_IP``) -- one SNTP
      query to port 123.
    - ``upnp``: ``internal_port``, ``external_port``, ``protocol`` (``"TCP"``/``"UDP"``),
      ``description`` -- SSDP M-SEARCH for an InternetGatewayDevice, then a SOAP
      AddPortMapping to the gateway that answered (recorded in ``RUN_DIR/upnp.jsonl``).

    Every name used in ``dns``/``udp``/``tcp``/``ntp`` entries is answered by the fake
    internet's DNS (``cloud_address(name)``); any other name gets NXDOMAIN.
    """

    name: str  # "cam001", "pc01", "prn01", "sw01"
    netns: str  # "camlab-cam001"
    kind: str  # "camera" | "computer" | "printer" | "switch"
    profile: str  # profile id, e.g. "hikvision-ds2cd2"
    vendor: str  # brand on the label, e.g. "Amcrest"
    oem: str  # real maker, e.g. "Dahua"
    model: str
    firmware: str
    serial: str
    mac: str
    ip: str
    subnet: str  # LOCAL_SUBNET or ROUTED_SUBNET
    gateway: str
    hardware_id: str = ""
    endpoint_uuid: str = ""
    # protocol surfaces; the service code reads these, the truth reports them
    http: dict[str, Any] = field(default_factory=dict)
    rtsp: dict[str, Any] | None = None
    onvif: dict[str, Any] | None = None
    wsdiscovery: dict[str, Any] | None = None
    vendor_ports: list[dict[str, Any]] = field(default_factory=list)
    radios: list[dict[str, Any]] = field(default_factory=list)
    phone_home: list[dict[str, Any]] = field(default_factory=list)
    quirks: list[str] = field(default_factory=list)
    clock_skew_s: float = 0.0
    username: str = "admin"
    password: str = ""
    default_password: bool = False  # left on the vendor's default (the operator can't log in)
    # published advisories this model + firmware is affected by, per the profile's
    # [[advisory]] entries: [{"id": "CVE-...", "kev": bool}]
    advisories: list[dict[str, Any]] = field(default_factory=list)
    # camlab.services.hostile behaviours; a hostile device serves only those (robustness)
    hostile: list[str] = field(default_factory=list)
    # a counterfeit: the label (vendor) is another maker's brand, the board is ``oem``'s
    # (profiles with ``counterfeit_of``; camlab.generate); CAM-ID-LABEL-MISMATCH's trigger
    counterfeit: bool = False

    @property
    def routed(self) -> bool:
        return self.subnet == ROUTED_SUBNET

    def services(self) -> list[dict[str, Any]]:
        """The TCP/UDP services this device listens on: [{port, proto, name}]."""
        out: list[dict[str, Any]] = []
        if self.http:
            out.append({"port": int(self.http.get("port", 80)), "proto": "tcp", "name": "http"})
            if self.http.get("https_port"):
                out.append({"port": int(self.http["https_port"]), "proto": "tcp", "name": "https"})
        if self.onvif and int(self.onvif.get("port", 80)) != int(self.http.get("port", 80)):
            out.append({"port": int(self.onvif["port"]), "proto": "tcp", "name": "onvif"})
        if self.rtsp:
            out.append({"port": int(self.rtsp.get("port", 554)), "proto": "tcp", "name": "rtsp"})
        if self.wsdiscovery:
            out.append({"port": 3702, "proto": "udp", "name": "ws-discovery"})
        for vp in self.vendor_ports:
            out.append({"port": int(vp["port"]), "proto": vp["proto"], "name": vp["service"]})
        return out

    def truth(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("password", None)  # ground truth says whether creds are default, not what they are
        d["services"] = self.services()
        d["routed"] = self.routed
        d["onvif_enabled"] = self.onvif is not None
        from .expect import expected_rules, expected_rules_optin  # expect reads LabDevice

        d["expected_rules"] = expected_rules(self)
        d["expected_rules_optin"] = expected_rules_optin(self)
        from .expect_traffic import expected_traffic  # what a capture on the mirror shows

        d["expected_traffic"] = expected_traffic(self)
        d["expected_traffic_rules"] = sorted({r for x in d["expected_traffic"] for r in x["rules"]})
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LabDevice:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})
