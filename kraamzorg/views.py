"""The planner's page: the twelve-week intake grid, one tap to confirm it, three to change a week."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.http import HtmxRequest
from hospitals.models import Organisation, User
from hospitals.permissions import can_plan_intake
from kraamzorg import selectors, services
from kraamzorg.forms import IntakeWeekForm


class PlannerRequest(HtmxRequest):
    user: User


def _organisation(request: PlannerRequest) -> Organisation:
    user = request.user
    if user.organisation_id is None or not can_plan_intake(user, user.organisation_id):
        raise PermissionDenied
    organisation = user.organisation
    assert organisation is not None  # organisation_id is set
    return organisation


def _context(organisation: Organisation, forms: dict[date, IntakeWeekForm] | None = None) -> dict[str, object]:
    weeks = selectors.grid(organisation.pk)
    forms = forms or {}
    return {
        "organisation": organisation,
        "weeks": [forms.get(w.week) or IntakeWeekForm.for_week(w) for w in weeks],
        "stale": sum(1 for w in weeks if w.stale),
        "now": timezone.now(),
    }


@require_GET
def plan(request: PlannerRequest) -> HttpResponse:
    # The live page (static/js/plan.js) fetches just the grid and puts in the weeks that changed.
    template = "kraamzorg/_grid.html" if request.htmx else "kraamzorg/plan.html"
    response = render(request, template, _context(_organisation(request)))
    patch_vary_headers(response, ["HX-Request"])
    return response


def _grid_week(organisation: Organisation, raw: str) -> selectors.GridWeek:
    try:
        week = date.fromisoformat(raw)
    except ValueError:
        raise Http404 from None
    found = next((w for w in selectors.grid(organisation.pk) if w.week == week), None)
    if found is None:
        raise Http404  # not a week of the grid (any more): the page was left open past a Monday
    return found


def _week_response(
    request: PlannerRequest, organisation: Organisation, form: IntakeWeekForm, *, status: int = 200, **extra: object
) -> HttpResponse:
    if request.htmx:
        return render(request, "kraamzorg/_week.html", {"form": form, "now": timezone.now(), **extra}, status=status)
    page = _context(organisation, {form.week.week: form})
    page.update(extra)
    return render(request, "kraamzorg/plan.html", page, status=status)


@require_POST
def week_update(request: PlannerRequest, week: str) -> HttpResponse:
    organisation = _organisation(request)
    grid_week = _grid_week(organisation, week)
    form = IntakeWeekForm(request.POST, week=grid_week)
    if not form.is_valid():
        return _week_response(request, organisation, form, status=400)
    try:
        row = services.intake_week_set(
            by=request.user,
            organisation_id=organisation.pk,
            week=grid_week.week,
            change=form.change(),
            expected_version=form.cleaned_data["version"],
        )
    except ValidationError as error:
        form.add_errors_from(error)
        return _week_response(request, organisation, form, status=400)
    except services.IntakeVersionConflict as conflict:
        fresh = _grid_week(organisation, week)
        current = conflict.current[0] if conflict.current else None
        return _week_response(request, organisation, IntakeWeekForm.for_week(fresh), status=409, conflict=current)
    saved = _("Saved: week %(week)s.") % {"week": row.iso_week}
    if request.htmx:
        fresh = _grid_week(organisation, week)
        return _week_response(request, organisation, IntakeWeekForm.for_week(fresh), saved=saved)
    messages.success(request, saved)
    return redirect("kraamzorg:plan")


@require_POST
def confirm_all(request: PlannerRequest) -> HttpResponse:
    """Every week the page showed, at the versions it showed; all or nothing."""
    organisation = _organisation(request)
    versions: dict[date, int] = {}
    for key in request.POST:
        if key.startswith("version-"):
            try:
                versions[date.fromisoformat(key.removeprefix("version-"))] = int(request.POST[key])
            except ValueError:
                return _grid_response(
                    request, organisation, status=400, problem=_("Nothing was confirmed. Please try again.")
                )
    try:
        rows = services.intake_confirm_unchanged(by=request.user, organisation_id=organisation.pk, versions=versions)
    except ValidationError as error:
        problem = " ".join(m for ms in error.message_dict.values() for m in ms)
        return _grid_response(request, organisation, status=400, problem=problem)
    except services.IntakeVersionConflict:
        problem = _(
            "Someone changed the grid meanwhile: nothing was confirmed. Check the weeks below and confirm again."
        )
        return _grid_response(request, organisation, status=409, problem=problem)
    message = _("Confirmed unchanged: %(count)s weeks.") % {"count": len(rows)}
    if request.htmx:
        return _grid_response(request, organisation, status=200, confirmed=message)
    messages.success(request, message)
    return redirect("kraamzorg:plan")


def _grid_response(
    request: PlannerRequest, organisation: Organisation, *, status: int, **extra: object
) -> HttpResponse:
    context = {**_context(organisation), **extra}
    template = "kraamzorg/_grid.html" if request.htmx else "kraamzorg/plan.html"
    return render(request, template, context, status=status)
