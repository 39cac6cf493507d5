"""API: the capacity search (docs/search.md), for any valid token.

The same selector as the midwives' search page (search/selectors.py): locations that
offer the required care, rooms first, then full, then admission stops, each nearest
first; the region's own locations, and other regions' when the region has no room.
"""

from __future__ import annotations

from typing import Annotated, Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from api.base import ApiProblem, Problem, not_found, only_query, request_token
from api.schemas import plain_text
from hospitals.models import MAX_WEEKS, MIN_WEEKS, Region
from search.selectors import OriginError, parse_origin, result_data, search_capacity

router = Router(tags=["capacity search"])


class SearchOrigin(Schema):
    label: str
    pc4: str | None
    latitude: float
    longitude: float


class SearchLocation(Schema):
    id: int
    slug: str
    name: str
    city: str
    region: str
    phone: str | None = Field(description="The delivery suite's number, where the organisation has entered one.")
    phone_e164: str | None = Field(description="The same number in E.164 form, for dialling.")


class SearchUnit(Schema):
    id: int
    kind: str
    kind_label: str
    available: int
    staffed_total: int
    status: str
    status_label: str
    stop_reason: str | None
    stop_expected_end: str | None
    confirmed_at: str
    stale: bool
    note: str


class SearchHit(Schema):
    location: SearchLocation
    state: Literal["room", "full", "stop"] = Field(description="Ranking group: room first, admission stop last.")
    state_label: str
    nearest: bool = Field(description="The nearest location offering this care, listed first whatever its state.")
    obstetric_state: Literal["room", "full", "stop"] = Field(description="The mother's side: the obstetric units.")
    neonatal_state: Literal["room", "full", "stop"] | None = Field(
        description="The baby's side: the neonatal units at the required level (null at term)."
    )
    in_region: bool
    distance_km: float = Field(description="Straight line from the origin.")
    travel_minutes_estimate: int = Field(description="An estimate by car, not a route (see travel_time_note).")
    travel_time_label: str = Field(description="The estimate as shown, rounded to 5 minutes: '± 1 h 50 min'.")
    travel_band: str = Field(description="The travel-time band the ranking places it in.")
    far: bool = Field(description="More than 60 minutes away by the estimate.")
    stale: bool
    oldest_confirmed_at: str
    units: list[SearchUnit] = Field(description="The units that count for this search.")


class SearchOut(Schema):
    origin: SearchOrigin
    care: Literal["begeleiding", "overdracht"]
    gestational_weeks: int | None
    required_level: Literal["nicu", "high_care", "medium_care", "term"]
    rule: str = Field(description="The care-level rule applied, in words.")
    region: str | None = Field(description="The search's home region: from the origin, or as asked.")
    region_from_origin: bool = Field(description="True when the origin decided the region (no `region` asked).")
    region_has_room: bool
    beyond_region: bool = Field(description="Other regions' locations were added: the region has no room.")
    ranking_rule: str = Field(description="The order of the results, in words.")
    travel_time_note: str
    results: list[SearchHit]
    attribution: str


@router.get(
    "/search",
    response={200: SearchOut, 401: Problem, 404: Problem, 422: Problem, 429: Problem},
    summary="The nearest locations that can take a client now, for the care she needs",
    description=(
        "`origin` is a 4-digit postcode (PC4) or a Dutch place name. The home region is that of the "
        "acute obstetric location nearest to the origin, not the token's; `region` overrides it. The "
        "nearest location offering the care comes first whatever its state, then by travel-time band "
        "(room before full), admission stops last (`ranking_rule`). "
        "Postcode coordinates: GeoNames, www.geonames.org (CC BY 4.0)."
    ),
)
def search(
    request: HttpRequest,
    origin: Annotated[str, Query(min_length=1, max_length=80, description="PC4 (e.g. 3584) or a place name.")],
    care: Literal["begeleiding", "overdracht"],
    weeks: Annotated[int | None, Query(ge=MIN_WEEKS, le=MAX_WEEKS, description="Gestational age in weeks.")] = None,
    region: Annotated[str | None, Query(pattern=r"^[a-z0-9-]{1,40}$", description="A region code.")] = None,
) -> SearchOut:
    only_query(request, "origin", "care", "weeks", "region")
    request_token(request)
    # The client's origin decides the home region, never the token's own; ``region`` overrides it.
    chosen = None
    if region is not None:
        chosen = Region.objects.filter(code=region).first()
        if chosen is None:
            raise not_found(_("There is no region %(code)s.") % {"code": region})
    try:
        where = parse_origin(plain_text(origin))
    except (OriginError, ValueError) as exc:
        raise ApiProblem(
            422,
            "invalid-input",
            _("Invalid input"),
            str(exc),
            errors=[{"in": "query", "pointer": "/origin", "detail": str(exc)}],
        ) from exc
    result = search_capacity(origin=where, care=care, gestational_weeks=weeks, region=chosen)
    return SearchOut.model_validate(result_data(result))
