"""The region's kraamzorg view beside the refusal statistics (docs/kraamzorg.md, "The region's view").

The same people as the refusal statistics (``can_view_statistics``: the region's coordinators,
national administrators for any region; everyone else 403), the same files, the same
small-number rule. Every view and download is an access-log entry.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from django import forms
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from core.forms import TiedErrorsMixin, form_field
from hospitals import audit
from hospitals.http import AuthenticatedRequest
from hospitals.models import VSV, AccessLog, Region
from hospitals.permissions import can_view_statistics
from kraamzorg.regional import MAX_WEEKS, default_weeks, region_municipalities
from refusals.kraamzorg_statistics import KraamzorgFigures, kraamzorg_figures, tables, week_label
from refusals.outcomes import must_suppress
from refusals.stats_views import _region_for, _statistics_user, _with_format, file_response

FORMATS = ("csv", "xlsx")
ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


class IsoWeekField(forms.Field):
    """An ISO week as ``2026-W49`` (what ``<input type="week">`` sends); cleaned to its Monday."""

    widget = forms.TextInput(attrs={"type": "week", "placeholder": "2026-W49"})

    def to_python(self, value: Any) -> date | None:
        text = str(value or "").strip()
        if not text:
            return None
        match = ISO_WEEK.match(text)
        try:
            if match is None:
                raise ValueError(text)
            return date.fromisocalendar(int(match[1]), int(match[2]), 1)
        except ValueError:
            raise forms.ValidationError(_("Enter a week as year and week number, e.g. 2026-W49.")) from None

    def prepare_value(self, value: Any) -> Any:
        return week_label(value) if isinstance(value, date) else value


class KraamzorgFilterForm(TiedErrorsMixin, forms.Form):
    first = IsoWeekField(
        label=gettext_lazy("From due week"),
        required=False,
        help_text=gettext_lazy("Empty: the last 13 weeks and the coming 12."),
    )
    last = IsoWeekField(label=gettext_lazy("To due week"), required=False)
    municipality = forms.ChoiceField(
        label=gettext_lazy("Municipality"),
        required=False,
        help_text=gettext_lazy("One municipality: its postcode areas one by one."),
    )
    vsv = forms.ModelChoiceField(
        label=gettext_lazy("VSV"),
        queryset=VSV.objects.none(),
        required=False,
        empty_label=gettext_lazy("the whole region"),
        help_text=gettext_lazy("Only the postcode areas nearest to the VSV's locations."),
    )

    def __init__(self, *args: Any, region: Region, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = region_municipalities(region)
        field = form_field(self, "municipality", forms.ChoiceField)
        field.choices = [("", _("all municipalities")), *[(m, m) for m in names if m]]
        field.error_messages["invalid_choice"] = _("Choose one of the listed municipalities.")
        vsv = form_field(self, "vsv", forms.ModelChoiceField)
        vsv.queryset = VSV.objects.filter(region=region).order_by("name")
        vsv.error_messages["invalid_choice"] = _("Choose one of the VSVs of this region.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        default_first, default_last = default_weeks()
        first = data.get("first") or default_first
        last = data.get("last") or default_last
        if "first" in self.errors or "last" in self.errors:
            return data
        if not date(2000, 1, 3) <= first <= timezone.localdate() + timedelta(weeks=60):
            self.add_error("first", _("Choose a week between 2000 and a year ahead."))
        elif last < first:
            self.add_error("last", _("The last week must not lie before the first."))
        elif (last - first).days // 7 + 1 > MAX_WEEKS:
            self.add_error("last", _("Choose at most %(weeks)s weeks.") % {"weeks": MAX_WEEKS})
        data["first"], data["last"] = first, last
        return data


@require_GET
def region_kraamzorg(request: AuthenticatedRequest, region_code: str) -> HttpResponse:
    user = _statistics_user(request)
    region = _region_for(user, region_code)
    form = KraamzorgFilterForm(request.GET or {}, region=region)
    context: dict[str, Any] = {
        "region": region,
        "form": form,
        "regions": [r for r in Region.objects.order_by("name") if can_view_statistics(user, r)],
    }
    if not form.is_valid():
        return render(request, "refusals/kraamzorg.html", context, status=400)
    municipality = form.cleaned_data.get("municipality") or None
    result = kraamzorg_figures(
        region,
        form.cleaned_data["first"],
        form.cleaned_data["last"],
        municipality=municipality,
        vsv=form.cleaned_data.get("vsv"),
        suppressed=must_suppress(user, region),
    )
    fmt = request.GET.get("format", "")
    export = fmt in FORMATS
    query = request.GET.copy()
    query.pop("format", None)
    query.pop("municipality", None)
    context["drill_query"] = query.urlencode()
    if not export and request.htmx and request.htmx.target == "stats-body":
        # The live refresh (static/js/stats.js, docs/kraamzorg.md "Live"): just the figures, for the
        # same weeks and municipality. Not logged: the page view that opened it was, with this scope.
        response = render(request, "refusals/_kraamzorg_body.html", {**context, "result": result})
        patch_vary_headers(response, ["HX-Request", "HX-Target"])
        return response
    audit.record(
        action=AccessLog.Action.EXPORT if export else AccessLog.Action.VIEW,
        what="kraamzorg statistics",
        request=request,
        object_id=region.code,
        scope=audit.scope_of(
            region=region.code,
            weeks=f"{week_label(result.first)}..{week_label(result.last)}",
            municipality=municipality,
            vsv=form.cleaned_data["vsv"].pk if form.cleaned_data.get("vsv") else None,
            format=fmt if export else "",
        ),
    )
    if export:
        return file_response(tables(result), _filename(result), fmt)
    context.update(
        result=result,
        csv_query=_with_format(request, "csv"),
        xlsx_query=_with_format(request, "xlsx"),
    )
    response = render(request, "refusals/kraamzorg.html", context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def _filename(result: KraamzorgFigures) -> str:
    """``kraamzorg-midden-2026-W36-2027-W08``: the download's name without its extension."""
    return f"kraamzorg-{result.region.code}-{week_label(result.first)}-{week_label(result.last)}"
