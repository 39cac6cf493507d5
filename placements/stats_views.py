"""Placement-request statistics beside the refusal statistics (docs/requests.md, "Statistics for coordinators").

The same people, period picker and files as the refusal statistics: a region's coordinators, national
administrators for any region; everyone else 403. Every view and download is an access-log entry.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from hospitals import audit
from hospitals.http import AuthenticatedRequest
from hospitals.models import AccessLog, Region
from hospitals.permissions import can_view_statistics
from placements.statistics import Figures, RequestStatistics, request_statistics
from refusals.exports import Table
from refusals.stats_views import (
    PeriodForm,
    _filename,
    _quarter_value,
    _region_for,
    _statistics_user,
    _with_format,
    _without_format,
    file_response,
)

FORMATS = ("csv", "xlsx")


@require_GET
def region_requests(request: AuthenticatedRequest, region_code: str) -> HttpResponse:
    user = _statistics_user(request)
    region = _region_for(user, region_code)
    form = PeriodForm(request.GET or {})
    context: dict[str, Any] = {
        "region": region,
        "form": form,
        "regions": [r for r in Region.objects.order_by("name") if can_view_statistics(user, r)],
    }
    if not form.is_valid():
        return render(request, "placements/stats_requests.html", context, status=400)
    result = request_statistics(region, form.get_period())
    fmt = request.GET.get("format", "")
    export = fmt in FORMATS
    period = result.period
    audit.record(
        action=AccessLog.Action.EXPORT if export else AccessLog.Action.VIEW,
        what="request statistics",
        request=request,
        object_id=region.code,
        scope=audit.scope_of(
            region=region.code,
            period=_quarter_value(period) if period.kind == "quarter" else period.label,
            format=fmt if export else "",
        ),
    )
    if export:
        return file_response(export_tables(result), _filename("requests", region, period), fmt)
    context.update(
        result=result,
        csv_query=_with_format(request, "csv"),
        xlsx_query=_with_format(request, "xlsx"),
        back_query=_without_format(request),
    )
    return render(request, "placements/stats_requests.html", context)


def _number(value: float | None) -> float | str:
    """A rate or a time for the files: a number with one decimal, or empty where there is none."""
    return "" if value is None else float(value)


def _row(f: Figures) -> list[Any]:
    return [
        f.requests,
        f.accepted,
        f.declined,
        f.expired,
        f.answered_or_expired,
        _number(f.acceptance_rate),
        f.withdrawn_before_answer,
        f.still_open,
        f.answered,
        _number(f.median_minutes),
        _number(f.p90_minutes),
    ]


def export_tables(result: RequestStatistics) -> list[Table]:
    """What the page shows, as the refusal statistics' files: an overview, per location, declines."""
    period, total = result.period, result.total
    header = [
        _("Requests"),
        _("Accepted"),
        _("Declined"),
        _("Expired"),
        _("Answered or expired"),
        _("Acceptance rate (%)"),
        _("Withdrawn before an answer"),
        _("Still open"),
        _("Answered"),
        _("Median minutes to answer"),
        _("90th percentile minutes to answer"),
    ]
    reasons = result.reasons
    overview = Table(
        _("Overview"),
        [_("Field"), _("Value")],
        [
            [_("Region"), result.region.name],
            [_("Period"), period.label],
            [_("From"), period.start],
            [_("To"), period.last_day],
            *([[_("Provisional"), f"{result.days_done} / {period.days}"]] if result.provisional else []),
            *[[name, value] for name, value in zip(header, _row(total), strict=True)],
            [_("Withdrawn by the midwife"), total.withdrawn_by_midwife],
            [_("Withdrawn: another location took her in"), total.withdrawn_taken_elsewhere],
            [
                _("Acceptance rate"),
                _("accepted (arrived, or withdrawn after acceptance, included) of the requests answered or expired"),
            ],
        ],
    )
    return [
        overview,
        Table(
            _("Per location"),
            [_("Location"), *header],
            [[f.name, *_row(f)] for f in result.per_location],
        ),
        Table(
            _("Declines per reason"),
            [_("Location"), *[name for _k, name in reasons], _("Total")],
            [
                *[[f.name, *[f.declines[k] for k, _n in reasons], f.declined] for f in result.per_location],
                [_("Total"), *[total.declines[k] for k, _n in reasons], total.declined],
            ],
        ),
    ]
