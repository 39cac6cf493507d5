"""Refusal statistics for coordinators (own region) and national administrators (all regions)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from core.forms import TiedErrorsMixin, form_field
from hospitals import audit
from hospitals.http import AuthenticatedRequest
from hospitals.models import VSV, AccessLog, Location, Region, User
from hospitals.permissions import can_view_statistics, has_role
from refusals import exports, live
from refusals.kraamzorg_statistics import report_figures
from refusals.models import Alert, Refusal
from refusals.outcomes import Outcomes, must_suppress, outcomes
from refusals.services import alert_acknowledge
from refusals.statistics import Filters, Period, Statistics, quarterly_report, region_locations, statistics

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class PeriodForm(TiedErrorsMixin, forms.Form):
    period = forms.ChoiceField(
        label=gettext_lazy("Period"),
        required=False,
        choices=[
            ("quarter", gettext_lazy("quarter")),
            ("month", gettext_lazy("month")),
            ("week", gettext_lazy("week")),
        ],
    )
    start = forms.DateField(
        label=gettext_lazy("Period containing"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("Empty: the last full quarter, or the current month or week."),
    )

    def clean_start(self) -> date | None:
        start: date | None = self.cleaned_data.get("start")
        if start is not None and not (date(2000, 1, 1) <= start <= timezone.localdate()):
            raise forms.ValidationError(_("Choose a date between 2000 and today."))
        return start

    def get_period(self) -> Period:
        kind = self.cleaned_data.get("period") or "quarter"
        start = self.cleaned_data.get("start")
        today = timezone.localdate()
        if start is None:
            return Period.last_full_quarter(today) if kind == "quarter" else Period.containing(kind, today)
        return Period.containing(kind, start)


class StatisticsFilterForm(PeriodForm):
    location: forms.ModelChoiceField[Location] = forms.ModelChoiceField(
        label=gettext_lazy("Location"),
        required=False,
        queryset=Location.objects.none(),
        empty_label=gettext_lazy("all locations"),
    )
    vsv: forms.ModelChoiceField[VSV] = forms.ModelChoiceField(
        label=gettext_lazy("VSV"),
        required=False,
        queryset=VSV.objects.none(),
        empty_label=gettext_lazy("all VSVs"),
        help_text=gettext_lazy("The refusing locations' obstetric partnership."),
    )
    reason = forms.ChoiceField(
        label=gettext_lazy("Reason"),
        required=False,
        choices=[("", gettext_lazy("all reasons")), *Refusal.Reason.choices],
    )
    care_type = forms.ChoiceField(
        label=gettext_lazy("Care type"),
        required=False,
        choices=[("", gettext_lazy("all care types")), *Refusal.CareType.choices],
    )

    def __init__(self, *args: Any, region: Region, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form_field(self, "location", forms.ModelChoiceField).queryset = region_locations(region)
        form_field(self, "vsv", forms.ModelChoiceField).queryset = VSV.objects.filter(region=region)

    def get_filters(self) -> Filters:
        location = self.cleaned_data.get("location")
        vsv = self.cleaned_data.get("vsv")
        return Filters(
            location_id=location.pk if location else None,
            vsv_id=vsv.pk if vsv else None,
            reason=self.cleaned_data.get("reason") or "",
            care_type=self.cleaned_data.get("care_type") or "",
        )


def _statistics_user(request: AuthenticatedRequest) -> User:
    user = request.user
    if not has_role(user) or not (user.role in (User.Role.COORDINATOR, User.Role.NATIONAL_ADMIN) or user.is_superuser):
        raise PermissionDenied
    return user


def _region_for(user: User, region_code: str) -> Region:
    """The region asked for, if this user may see its statistics (404 unknown, 403 not theirs)."""
    region = get_object_or_404(Region, code=region_code)
    if not can_view_statistics(user, region):
        raise PermissionDenied
    return region


def file_response(sheets: list[exports.Table], name: str, fmt: str) -> HttpResponse:
    """Tables as a CSV (in the user's convention) or XLSX download called ``name``.``fmt``."""
    if fmt == "csv":
        response = HttpResponse(exports.tables_to_csv(sheets), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(exports.tables_to_xlsx(sheets), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@require_GET
def statistics_index(request: AuthenticatedRequest) -> HttpResponse:
    user = _statistics_user(request)
    if user.role == User.Role.COORDINATOR and not user.is_superuser:
        if user.region is None:
            raise PermissionDenied
        return redirect("refusals:statistics_region", region_code=user.region.code)
    regions = [r for r in Region.objects.order_by("name") if can_view_statistics(user, r)]
    return render(request, "refusals/statistics.html", {"regions": regions, "chooser": True})


@require_GET
def statistics_region(request: AuthenticatedRequest, region_code: str) -> HttpResponse:
    user = _statistics_user(request)
    region = _region_for(user, region_code)
    form = StatisticsFilterForm(request.GET or None, region=region)
    context: dict[str, Any] = {"region": region, "form": form}
    if request.GET and not form.is_valid():
        return render(request, "refusals/statistics.html", context, status=400)
    if not request.GET:
        form = StatisticsFilterForm({}, region=region)
        form.is_valid()
        context["form"] = form
    stats = statistics(region, form.get_period(), form.get_filters())
    if request.GET.get("format") in ("csv", "xlsx"):
        _log(request, AccessLog.Action.EXPORT, "refusal statistics", stats, fmt=request.GET["format"])
        return file_response(
            exports.tables(stats), _filename("refusals", stats.region, stats.period), request.GET["format"]
        )
    context.update(
        stats=stats,
        hours=range(24),
        chart_data={
            "locations": {
                "labels": [r["name"] for r in stats.per_location],
                "counts": [r["count"] for r in stats.per_location],
                "room": [r["room"] for r in stats.per_location],
                "label": _("Refusals"),
                "roomLabel": _("of which while the board showed room"),
            },
            "reasons": {
                "labels": [r["name"] for r in stats.per_reason],
                "counts": [r["count"] for r in stats.per_reason],
                "label": _("Refusals"),
            },
        },
        regions=[r for r in Region.objects.order_by("name") if can_view_statistics(user, r)],
        csv_query=_with_format(request, "csv"),
        xlsx_query=_with_format(request, "xlsx"),
        outcomes_query=_without_format(request),
        applied=_applied(form),
        report_quarter=_quarter_value(Period.containing("quarter", stats.period.start)),
    )
    if request.htmx and request.htmx.target == "stats-body":
        # The live refresh (static/js/stats.js): just the figures, for the same period and filters.
        # Not logged: the page view that opened it was, and a refresh shows the same scope.
        response = render(request, "refusals/_stats_body.html", context)
    else:
        _log(request, AccessLog.Action.VIEW, "refusal statistics", stats)
        response = render(request, "refusals/statistics.html", context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


@require_GET
def outcomes_region(request: AuthenticatedRequest, region_code: str) -> HttpResponse:
    """Where clients went after a refusal, and to whom it happened (docs/refusals.md, "Outcomes")."""
    user = _statistics_user(request)
    region = _region_for(user, region_code)
    form = StatisticsFilterForm(request.GET or {}, region=region)
    context: dict[str, Any] = {"region": region, "form": form, "outcomes_page": True}
    if not form.is_valid():
        return render(request, "refusals/outcomes.html", context, status=400)
    result = outcomes(region, form.get_period(), form.get_filters(), suppressed=must_suppress(user, region))
    fmt = request.GET.get("format", "")
    _log(
        request,
        AccessLog.Action.EXPORT if fmt in ("csv", "xlsx") else AccessLog.Action.VIEW,
        "refusal outcomes",
        result,
        fmt=fmt if fmt in ("csv", "xlsx") else "",
    )
    if fmt in ("csv", "xlsx"):
        return file_response(exports.outcome_tables(result), _filename("refusal-outcomes", region, result.period), fmt)
    context.update(
        result=result,
        tables=[
            {
                "id": "where",
                "title": _("Where the client went"),
                "head": _("Where the client went"),
                "caption": _("Where clients went after the refusal"),
                "cells": result.where,
            },
            {
                "id": "called",
                "title": _("Hospitals called"),
                "head": _("Hospitals called in all"),
                "caption": _("How many hospitals were called in all for the client"),
                "cells": result.called,
            },
            {
                "id": "referral",
                "title": _("Kind of referral"),
                "head": _("Practice and refusing location"),
                "caption": _("Refusals within the practice's own VSV and across VSVs"),
                "cells": result.referral,
            },
            {
                "id": "distance",
                "title": _("Distance"),
                "head": _("Practice to refusing location"),
                "caption": _("Distance from the practice's postcode to the refusing location"),
                "cells": result.distance,
            },
        ],
        regions=[r for r in Region.objects.order_by("name") if can_view_statistics(user, r)],
        csv_query=_with_format(request, "csv"),
        xlsx_query=_with_format(request, "xlsx"),
        applied=_applied(form),
    )
    return render(request, "refusals/outcomes.html", context)


def _log(request: AuthenticatedRequest, action: str, what: str, stats: Statistics | Outcomes, fmt: str = "") -> None:
    """One access-log entry for what was shown or exported: region, period, filters, format."""
    period, f = stats.period, stats.filters
    audit.record(
        action=action,
        what=what,
        request=request,
        object_id=stats.region.code,
        scope=audit.scope_of(
            region=stats.region.code,
            period=_quarter_value(period) if period.kind == "quarter" else period.label,
            location=f.location_id,
            vsv=f.vsv_id,
            reason=f.reason,
            care_type=f.care_type,
            format=fmt,
        ),
    )


def _applied(form: StatisticsFilterForm) -> list[str]:
    """The chosen filters in words, for the printed report."""
    data = form.cleaned_data
    out = []
    if data.get("location"):
        out.append(data["location"].name)
    if data.get("vsv"):
        out.append(data["vsv"].name)
    if data.get("reason"):
        out.append(str(Refusal.Reason(data["reason"]).label))
    if data.get("care_type"):
        out.append(str(Refusal.CareType(data["care_type"]).label))
    return out


def _with_format(request: HttpRequest, fmt: str) -> str:
    query = request.GET.copy()
    query["format"] = fmt
    return query.urlencode()


def _without_format(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("format", None)
    return query.urlencode()


def _filename(what: str, region: Region, period: Period) -> str:
    """``refusals-midden-Q3-2026``: the download's name without its extension."""
    return f"{what}-{region.code}-{period.label.replace(' ', '-')}"


# --- Alerts ------------------------------------------------------------------------------------


@require_POST
def alert_acknowledge_view(request: AuthenticatedRequest, alert_id: int) -> HttpResponse:
    user = _statistics_user(request)
    alert = get_object_or_404(Alert.objects.select_related("region"), pk=alert_id)
    if not can_view_statistics(user, alert.region):
        raise PermissionDenied
    alert_acknowledge(alert_id=alert.pk, by=user)
    if request.htmx:
        # The region's banner without this alert (other open pages get the same by push).
        return render(
            request,
            "refusals/_alert_region.html",
            {"region_id": alert.region_id, "alerts": live.banner_alerts(alert.region_id), "oob": False},
        )
    messages.success(request, _("Alert acknowledged."))
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect("refusals:statistics_region", region_code=alert.region.code)


# --- Quarterly report --------------------------------------------------------------------------

REPORT_QUARTERS = 20  # five years to choose from


def _quarter_value(period: Period) -> str:
    return f"{period.start.year}-Q{(period.start.month - 1) // 3 + 1}"


def _quarter_choices() -> list[tuple[str, str]]:
    period = Period.last_full_quarter(timezone.localdate())
    current = Period.containing("quarter", timezone.localdate())
    # The running quarter is offered, marked; the default is the last complete one (QuarterForm).
    choices = [(_quarter_value(current), _("%(label)s (running, provisional)") % {"label": current.label})]
    for _i in range(REPORT_QUARTERS):
        choices.append((_quarter_value(period), period.label))
        period = period.previous()
    return choices


class QuarterForm(TiedErrorsMixin, forms.Form):
    quarter = forms.ChoiceField(label=gettext_lazy("Quarter"), required=False)

    def __init__(self, data: Any, **kwargs: Any) -> None:
        # No quarter asked for: the last complete one, also as the picker's selection.
        if not data.get("quarter"):
            data = {"quarter": _quarter_value(Period.last_full_quarter(timezone.localdate()))}
        super().__init__(data, **kwargs)
        form_field(self, "quarter", forms.ChoiceField).choices = _quarter_choices()
        self.fields["quarter"].error_messages["invalid_choice"] = _("Choose one of the listed quarters.")

    def get_period(self) -> Period:
        year, quarter = self.cleaned_data["quarter"].split("-Q")
        return Period.containing("quarter", date(int(year), 3 * (int(quarter) - 1) + 1, 1))


@require_GET
def quarterly_report_view(request: AuthenticatedRequest, region_code: str) -> HttpResponse:
    user = _statistics_user(request)
    region = _region_for(user, region_code)
    form = QuarterForm(request.GET)
    context: dict[str, Any] = {"region": region, "form": form}
    if not form.is_valid():
        return render(request, "refusals/report.html", context, status=400)
    report = quarterly_report(region, form.get_period())
    _log(request, AccessLog.Action.VIEW, "quarterly report", report.current)
    context.update(report=report, stats=report.current, generated_at=timezone.now())
    # Kraamzorg shortages of the quarter's due weeks and the coverage now (docs/kraamzorg.md).
    context["kraamzorg"] = report_figures(region, report.current.period, suppressed=must_suppress(user, region))
    return render(request, "refusals/report.html", context)
