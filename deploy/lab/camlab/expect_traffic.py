"""Which traffic findings each lab device's phone-home behaviour should produce.

The lab's own ground truth for ``camaudit watch``/``pcap`` on the lab's mirror port,
with the site's DNS and NTP (``SITE_DNS_IP``/``SITE_NTP_IP``) allowed and 198.18.0.0/16
as the site: derived from each ``phone_home`` entry and public facts about the
services the lab imitates, never from camaudit's catalog (the lab does not import the
scanner, so a wrong catalog entry shows up as a mismatch instead of hiding).

``expected_traffic(dev)`` returns one item per entry: ``{"entry", "kind", "what",
"rules"}``; ``LabDevice.truth()`` carries it as ``expected_traffic`` and the union of
the rules as ``expected_traffic_rules``.
"""

from __future__ import annotations

from typing import Any

from .spec import LabDevice, lab_address

# Vendor P2P brokers (Hik-Connect/Guarding Vision on TCP 7660, Dahua Easy4IP on UDP 8800,
# XMEye/Xiongmai cloud, Reolink's P2P, ThroughTek Kalay): reaching them registers the
# camera for relayed access from the internet.
P2P_DOMAINS = (
    "hik-connect.com", "guardingvision.com", "easy4ipcloud.com", "easy4ip.com",
    "secu100.net", "xmeye.net", "xmcsrv.net", "reolink.com", "iotcplatform.com", "tutk.com",
)  # fmt: skip
# Vendor clouds that are not P2P brokers (Amcrest cloud, Uniview EZCloud, EZVIZ, Imou)
CLOUD_DOMAINS = ("amcrestcloud.com", "star4live.com", "ezvizlife.com", "imoulife.com")
# CS2 Network P2P (UDP 32100/32108) and Dahua P2P (UDP 8800), whatever name they use
P2P_PORTS = {("udp", 32100), ("udp", 32108), ("udp", 8800)}
STUN_PORTS = {3478, 19302}
STUN_COOKIE = "2112a442"  # RFC 5389 magic cookie, bytes 4-8 of every STUN message

RULE_P2P = "CAM-NET-P2P"
RULE_CLOUD = "CAM-NET-CLOUD"
RULE_STUN = "CAM-NET-STUN"
RULE_DNS = "CAM-NET-DNS-HARDCODED"
RULE_NTP = "CAM-NET-NTP-EXTERNAL"
RULE_UPNP = "CAM-NET-UPNP-PORTMAP"


def _under(name: str, domains: tuple[str, ...]) -> bool:
    name = name.lower().rstrip(".")
    return any(name == d or name.endswith("." + d) for d in domains)


def _hardcoded(entry: dict[str, Any]) -> bool:
    return str(entry.get("resolver", "site")) != "site"


def _entry_rules(entry: dict[str, Any]) -> tuple[str, set[str]]:
    kind = str(entry.get("kind", ""))
    rules: set[str] = set()
    if kind == "dns":
        name = str(entry.get("name") or entry.get("host"))
        if _hardcoded(entry):
            rules.add(RULE_DNS)
        return f"DNS {name} via {entry.get('resolver', 'site')}", rules
    if kind == "upnp":
        rules.add(RULE_UPNP)
        return f"UPnP AddPortMapping {entry.get('external_port')}", rules
    if kind == "ntp":
        server = str(entry.get("server") or entry.get("host") or "site")
        if server != "site":
            rules.add(RULE_NTP)
            if _hardcoded(entry) and not server[0].isdigit():
                rules.add(RULE_DNS)
        return f"NTP {server}", rules
    if kind in ("udp", "tcp"):
        host = str(entry.get("host") or entry.get("name") or entry.get("ip"))
        port = int(entry["port"])
        is_ip = host.replace(".", "").isdigit()
        name = "" if is_ip else host
        payload = str(entry.get("payload_hex", "")).lower()
        if kind == "udp" and (port in STUN_PORTS or payload[8:16] == STUN_COOKIE):
            rules.add(RULE_STUN)
        if (kind, port) in P2P_PORTS or (name and _under(name, P2P_DOMAINS)):
            rules.add(RULE_P2P)
        elif name and _under(name, CLOUD_DOMAINS):
            rules.add(RULE_CLOUD)
        if name and _hardcoded(entry):
            rules.add(RULE_DNS)
        where = lab_address(host) if is_ip else host
        return f"{kind.upper()} {where}:{port}", rules
    return f"unknown kind {kind!r}", rules


def expected_traffic(dev: LabDevice) -> list[dict[str, Any]]:
    """Return, per phone-home entry of ``dev``, what it is and the rules it should fire."""
    out = []
    for i, entry in enumerate(dev.phone_home):
        what, rules = _entry_rules(entry)
        out.append({"entry": i, "kind": entry.get("kind"), "what": what, "rules": sorted(rules)})
    return out


def expected_traffic_rules(dev: LabDevice) -> list[str]:
    """Return the sorted union of the traffic rules ``dev``'s phone-home should fire."""
    return sorted({r for item in expected_traffic(dev) for r in item["rules"]})
