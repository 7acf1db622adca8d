"""What each lab Wi-Fi radio does, written into the radio so a device can tell it.

The air capture (:mod:`camlab.air`) decides per radio: a *reported* radio is a client of
the site's access point; *hidden* radios take turns, in device order, running the
camera's setup access point, being a client of an undeclared access point, or running
that access point with its SSID blanked. A camera's own vendor API
(:mod:`camlab.services.vendorapi`) must say the same thing the air shows, so the
generator stamps the decision into each radio as ``radio["air_mode"]`` (``"client"``,
``"ap"`` or ``"ap-hidden"``) and ``radio["air_ssid"]`` (the network it joins or announces).
A test (tests/radios/test_vendor_api_lab.py) checks this stays equal to ``air_truth``.
"""

from __future__ import annotations

from collections.abc import Iterable

from .spec import LabDevice

#: the site's access point that reported radios join (camlab.air.SITE_SSID)
SITE_SSID = "CityCam-Ops"
#: the undeclared access point hidden client radios join (camlab.air's plan)
ROGUE_SSID = "CamLink"
HIDDEN_TURNS = ("ap", "client", "ap-hidden")


def stamp(devices: Iterable[LabDevice]) -> None:
    """Write ``air_mode`` and ``air_ssid`` into every Wi-Fi radio of ``devices``."""
    hidden = 0
    for dev in devices:
        for radio in dev.radios:
            if radio.get("kind") != "wifi":
                continue
            if radio.get("reported"):
                radio["air_mode"], radio["air_ssid"] = "client", SITE_SSID
                continue
            mode = HIDDEN_TURNS[hidden % len(HIDDEN_TURNS)]
            hidden += 1
            radio["air_mode"] = mode
            radio["air_ssid"] = ROGUE_SSID if mode == "client" else str(radio.get("ssid") or "")
