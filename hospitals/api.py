"""API reads of the reference data: regions and locations with their units' current state."""

from __future__ import annotations

from typing import Annotated

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema

from capacity.models import Unit
from capacity.schemas import MAX_ID, UnitOut
from config.api_base import Problem, not_found, only_query
from hospitals.models import Location, Region

router = Router(tags=["reference data"])

ERRORS = {401: Problem, 404: Problem, 422: Problem, 429: Problem}
RegionCode = Annotated[str, Query(pattern=r"^[a-z0-9-]{1,40}$", description="A region code from /regions.")]


class RegionOut(Schema):
    id: int
    code: str
    name: str


class LocationOut(Schema):
    id: int
    slug: str
    name: str
    kind: str
    city: str
    region: str
    organisation_id: int
    organisation: str
    neonatal_level: int
    acute_obstetrics: bool
    latitude: float
    longitude: float
    phone: str = Field(description="The delivery suite's number as entered by the organisation; empty if none.")
    phone_e164: str = Field(description="The same number in E.164 form, for dialling; empty if none.")
    units: list[UnitOut]

    @staticmethod
    def of(location: Location) -> LocationOut:
        now = timezone.now()
        order = {kind: i for i, kind in enumerate(Unit.KIND_ORDER)}
        units = sorted(location.api_units, key=lambda u: order[u.kind])  # type: ignore[attr-defined]
        return LocationOut(
            id=location.pk,
            slug=location.slug,
            name=location.name,
            kind=location.kind,
            city=location.city,
            region=location.region.code,
            organisation_id=location.organisation_id,
            organisation=location.organisation.name,
            neonatal_level=location.neonatal_level,
            acute_obstetrics=location.acute_obstetrics,
            latitude=location.latitude,
            longitude=location.longitude,
            phone=location.phone if location.phone_e164 else "",
            phone_e164=location.phone_e164,
            units=[UnitOut.of(u, now) for u in units],
        )


def api_locations() -> QuerySet[Location]:
    return (
        Location.objects.filter(active=True)
        .select_related("region", "organisation")
        .prefetch_related(Prefetch("units", queryset=Unit.objects.all(), to_attr="api_units"))
        .order_by("region__name", "city", "name")
    )


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
    qs = api_locations()
    if region is not None:
        if not Region.objects.filter(code=region).exists():
            raise not_found(_("There is no region %(code)s.") % {"code": region})
        qs = qs.filter(region__code=region)
    return [LocationOut.of(location) for location in qs]


@router.get("/locations/{location_id}", response={200: LocationOut, **ERRORS}, summary="One location")
def location_detail(request: HttpRequest, location_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> LocationOut:
    only_query(request)
    location = api_locations().filter(pk=location_id).first()
    if location is None:
        raise not_found(_("There is no location %(id)s.") % {"id": location_id})
    return LocationOut.of(location)
