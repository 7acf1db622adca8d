"""Overview and devices: pages and their JSON twins."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.responses import Response

from web import probe_health, queries
from web.deps import CurrentUser, SessionDep, SettingsDep, current_user
from web.queries import DeviceDetail, DeviceRow, Overview, Page
from web.templating import render

router = APIRouter(dependencies=[Depends(current_user)], tags=["inventory"])

PageNo = Annotated[int, Query(ge=1, le=100_000)]
PerPage = Annotated[int, Query(ge=1, le=500)]
DeviceSort = Literal[
    "ip", "vendor", "oem", "model", "type", "firmware", "first_seen", "last_seen", "site",
    "findings", "severity",
]  # fmt: skip
Text = Annotated[str | None, Query(max_length=200)]


def _overview(session: SessionDep, settings: SettingsDep) -> Overview:
    probe_health.sweep_quietly(session, settings)
    o = queries.overview(session)
    o.probe_alerts = probe_health.alerts(session, open_only=True)
    return o


@router.get("/", include_in_schema=False)
def overview_page(
    request: Request, session: SessionDep, settings: SettingsDep, user: CurrentUser
) -> Response:
    return render(request, "overview.html", {"o": _overview(session, settings), "user": user})


@router.get("/api/overview")
def overview_api(session: SessionDep, settings: SettingsDep) -> Overview:
    """Counts by vendor, OEM and type, open findings by severity, latest scans, and open
    probe alerts (probes gone silent)."""
    return _overview(session, settings)


class DeviceFilters:
    def __init__(
        self,
        q: Text = None,
        vendor: Text = None,
        oem: Text = None,
        type: Text = None,
        site: Text = None,
        sort: DeviceSort = "last_seen",
        order: Literal["asc", "desc"] = "desc",
        page: PageNo = 1,
        per_page: PerPage = 50,
    ) -> None:
        self.q, self.vendor, self.oem, self.type, self.site = q, vendor, oem, type, site
        self.sort, self.order, self.page, self.per_page = sort, order, page, per_page

    def run(self, session: SessionDep) -> Page[DeviceRow]:
        return queries.list_devices(
            session,
            q=self.q,
            vendor=self.vendor,
            oem=self.oem,
            device_type=self.type,
            site=self.site,
            sort=self.sort,
            desc=self.order == "desc",
            page=self.page,
            per_page=self.per_page,
        )


Filters = Annotated[DeviceFilters, Depends()]


@router.get("/devices", include_in_schema=False)
def devices_page(request: Request, session: SessionDep, user: CurrentUser, f: Filters) -> Response:
    ctx = {"p": f.run(session), "f": f, "facets": queries.facet_values(session), "user": user}
    return render(request, "devices.html", ctx)


@router.get("/api/devices")
def devices_api(session: SessionDep, f: Filters) -> Page[DeviceRow]:
    """Devices, searchable (ip, mac, vendor, oem, model, serial, hostname, firmware),
    filterable by vendor / oem / type / site, sortable and paginated."""
    return f.run(session)


def _detail(session: SessionDep, device_id: int) -> DeviceDetail:
    detail = queries.device_detail(session, device_id)
    if detail is None:
        raise HTTPException(status_code=404, detail=f"no device {device_id}")
    return detail


@router.get("/devices/{device_id}", include_in_schema=False)
def device_page(
    request: Request, session: SessionDep, user: CurrentUser, device_id: int
) -> Response:
    return render(request, "device.html", {"d": _detail(session, device_id), "user": user})


@router.get("/api/devices/{device_id}")
def device_api(session: SessionDep, device_id: int) -> DeviceDetail:
    """One device: identity keys, services, radios, evidence, findings, sightings."""
    return _detail(session, device_id)
