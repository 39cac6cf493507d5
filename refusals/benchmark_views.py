"""The region benchmark: every region side by side (docs/refusals.md, "Region benchmark")."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from hospitals import audit
from hospitals.http import AuthenticatedRequest
from hospitals.models import AccessLog
from refusals import exports
from refusals.benchmark import benchmark
from refusals.stats_views import PeriodForm, _statistics_user, _with_format, file_response


@require_GET
def benchmark_view(request: AuthenticatedRequest) -> HttpResponse:
    """Coordinators see their region beside every other; national administrators the national view."""
    user = _statistics_user(request)
    form = PeriodForm(request.GET or {})
    context: dict[str, Any] = {"form": form}
    if not form.is_valid():
        return render(request, "refusals/benchmark.html", context, status=400)
    period = form.get_period()
    fmt = request.GET.get("format", "")
    export = fmt in ("csv", "xlsx")
    audit.record(
        action=AccessLog.Action.EXPORT if export else AccessLog.Action.VIEW,
        what="region benchmark",
        request=request,
        object_id="",
        scope=audit.scope_of(period=period.label, format=fmt if export else ""),
    )
    if export:
        # Exports travel: every region's small numbers are suppressed, the viewer's own too.
        name = f"region-benchmark-{period.label.replace(' ', '-')}"
        return file_response(exports.benchmark_tables(benchmark(period, viewer=None)), name, fmt)
    context.update(
        result=benchmark(period, viewer=user),
        csv_query=_with_format(request, "csv"),
        xlsx_query=_with_format(request, "xlsx"),
    )
    return render(request, "refusals/benchmark.html", context)
