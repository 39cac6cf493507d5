"""API reads of the reference data: regions and locations with their units' current state."""

from __future__ import annotations

from typing import Annotated

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Path, Query, Router

from api.base import Problem, not_found, only_query
from api.schemas import MAX_ID, LocationOut, RegionOut
from capacity.selectors import locations_with_units
from hospitals.models import Region

router = Router(tags=["reference data"])

ERRORS = {401: Problem, 404: Problem, 422: Problem, 429: Problem}
RegionCode = Annotated[str, Query(pattern=r"^[a-z0-9-]{1,40}$", description="A region code from /regions.")]


@router.get("/regions", response={200: list[RegionOut], **ERRORS}, summary="The ROAZ regions")
def regions(request: HttpRequest) -> list[RegionOut]:
    only_query(request)
    return [RegionOut(id=r.pk, code=r.code, name=r.name) for r in Region.objects.order_by("name")]


@router.get(
    "/locations",
    response={200: list[LocationOut], **ERRORS},
    summary="Locations with their units' current state and freshness",
)
def locations(request: HttpRequest, region: RegionCode | None = None) -> list[LocationOut]:
    only_query(request, "region")
    region_id = None
    if region is not None:
        region_id = Region.objects.filter(code=region).values_list("pk", flat=True).first()
        if region_id is None:
            raise not_found(_("There is no region %(code)s.") % {"code": region})
    return [LocationOut.of(row) for row in locations_with_units(region=region_id, obstetric_only=False)]


@router.get("/locations/{location_id}", response={200: LocationOut, **ERRORS}, summary="One location")
def location_detail(request: HttpRequest, location_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> LocationOut:
    only_query(request)
    rows = locations_with_units(location_ids=[location_id], obstetric_only=False)
    if not rows:
        raise not_found(_("There is no location %(id)s.") % {"id": location_id})
    return LocationOut.of(rows[0])
