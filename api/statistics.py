"""API: a region's refusal statistics, aggregates only, for the region's own token.

A refusal holds no patient identifiers, and this endpoint returns counts only: per
location, reason, care type, weekday x hour, plus admission stops. It reads the rollups
through refusals/statistics.py, the same figures as the coordinators' statistics page.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema

from api.base import Problem, forbidden, not_found, only_query, request_token
from capacity.models import ApiToken
from hospitals import audit
from hospitals.models import VSV, AccessLog, Region
from refusals.statistics import Filters, Period, statistics

router = Router(tags=["refusal statistics"])


class Count(Schema):
    key: str
    name: str
    count: int


class LocationCount(Schema):
    id: int
    name: str
    count: int
    board_showed_room: int = Field(description="Of these, refused while the board showed room.")


class VsvCount(Schema):
    id: int | None = Field(description="The VSV's id; null: refusing locations without a known VSV.")
    name: str
    count: int
    board_showed_room: int


class WeekdayHours(Schema):
    weekday: int = Field(description="0 = Monday.")
    counts: list[int] = Field(description="Refusals per hour of the day, local (Dutch) time.")
    total: int


class StopTotal(Schema):
    id: int
    name: str
    count: int = Field(description="Admission stops that started in the period.")
    seconds: int = Field(description="Time in a stop within the period.")


class RefusalStatistics(Schema):
    region: str
    period: str
    start: date
    end: date = Field(description="Exclusive.")
    total: int
    previous_total: int
    board_showed_room: int
    vsv: int | None = Field(description="The VSV filter, if one was given.")
    per_location: list[LocationCount]
    per_vsv: list[VsvCount] = Field(description="Per VSV of the refusing location.")
    per_reason: list[Count]
    per_care_type: list[Count]
    weekday_hours: list[WeekdayHours]
    admission_stops: list[StopTotal]


@router.get(
    "/regions/{code}/refusal-statistics",
    response={200: RefusalStatistics, 401: Problem, 403: Problem, 404: Problem, 422: Problem, 429: Problem},
    summary="A region's refusal statistics (aggregates only)",
    description="Needs a statistics token of this region (issued by its ROAZ coordinator).",
)
def refusal_statistics(
    request: HttpRequest,
    code: Annotated[str, Path(pattern=r"^[a-z0-9-]{1,40}$")],
    period: Literal["quarter", "month", "week"] = "month",
    day: Annotated[date | None, Query(alias="date", ge=date(2000, 1, 1), le=date(2100, 1, 1))] = None,
    vsv: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Only refusals at this VSV's locations.")] = None,
) -> RefusalStatistics:
    only_query(request, "period", "date", "vsv")
    token = request_token(request)
    region = Region.objects.filter(code=code).first()
    if region is None:
        raise not_found(_("There is no region %(code)s.") % {"code": code})
    if token.scope != ApiToken.Scope.STATISTICS or token.region_id != region.pk:
        raise forbidden(_("Refusal statistics need a statistics token of this region."))
    if vsv is not None and not VSV.objects.filter(pk=vsv, region=region).exists():
        raise not_found(_("There is no VSV %(id)s in this region.") % {"id": vsv})
    chosen = Period.containing(period, day or timezone.localdate())
    stats = statistics(region, chosen, Filters(vsv_id=vsv))
    # A token client is recorded as the person who issued its token, with the token's id.
    audit.record(
        action=AccessLog.Action.EXPORT,
        what="refusal statistics",
        request=request,
        user=token.created_by,
        object_id=region.code,
        scope=audit.scope_of(region=region.code, period=chosen.label, vsv=vsv, format="json", token=token.pk),
    )
    return RefusalStatistics(
        region=region.code,
        period=chosen.label,
        start=chosen.start,
        end=chosen.end,
        total=stats.total,
        previous_total=stats.previous_total,
        board_showed_room=stats.board_showed_room,
        per_location=[
            LocationCount(id=r["id"], name=r["name"], count=r["count"], board_showed_room=r["room"])
            for r in stats.per_location
        ],
        vsv=vsv,
        per_vsv=[
            VsvCount(id=r["id"], name=r["name"], count=r["count"], board_showed_room=r["room"]) for r in stats.per_vsv
        ],
        per_reason=[Count(**r) for r in stats.per_reason],
        per_care_type=[Count(**r) for r in stats.per_care_type],
        weekday_hours=[WeekdayHours(weekday=r["weekday"], counts=r["counts"], total=r["total"]) for r in stats.heatmap],
        admission_stops=[
            StopTotal(id=s["id"], name=s["name"], count=s["count"], seconds=s["seconds"]) for s in stats.stops
        ],
    )
