"""The capacity search page, its result list (live refresh), its JSON twin, place suggestions, and the rules page.

Thin: each view checks who is asking, validates with SearchForm and calls search.selectors.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from core.time import ZONE
from hospitals.http import AuthenticatedRequest
from hospitals.models import CareLevelRules, CareLevelRulesChange, User
from hospitals.permissions import can_search, can_set_care_rules
from hospitals.services import RulesConflict, care_rules_update
from search.forms import CareRulesForm, SearchForm
from search.selectors import (
    CareType,
    live_fingerprint,
    place_suggestions,
    requirement_for,
    result_data,
    travel_time_note,
)

SEARCH_FIELDS = ("where", "care", "weeks")
# A pregnancy is due at 40 weeks: the due date a gestational age gives, for the kraamzorg tab.
TERM_WEEKS = 40


def _searcher(request: AuthenticatedRequest) -> User:
    if not can_search(request.user):
        raise PermissionDenied
    return request.user


def _results_context(request: AuthenticatedRequest, form: SearchForm, user: User) -> dict[str, Any]:
    result = form.search()
    ids = result.location_ids
    query = form.query()
    return {
        "result": result,
        "rule": result.requirement.describe(),
        "ranking_rule": result.rule.describe(),
        "travel_time_note": travel_time_note(),
        "query": query,
        "summary": form.summary(),
        # A refusal registered from a result returns here, and offers these locations first.
        "back": f"{reverse('search:search')}?{query}",
        "near": ",".join(str(r.location.pk) for r in result.results),
        "ws_path": f"/ws/search/?locations={','.join(map(str, ids))}" if ids else "",
        "fingerprint": live_fingerprint(ids),
        "now": timezone.now(),
        "kraamzorg_query": kraamzorg_query(result.origin.pc4, form.cleaned_data.get("weeks")),
        "kraamzorg_pc4": result.origin.pc4,
    }


def kraamzorg_query(pc4: str, weeks: int | None) -> str:
    """The kraamzorg tab for the same client: her postcode, and the due date her gestational age gives."""
    if not pc4:
        return ""
    params = {"pc4": pc4}
    if weeks is not None:
        today = timezone.now().astimezone(ZONE).date()
        params["due"] = (today + timedelta(weeks=max(0, TERM_WEEKS - weeks))).isoformat()
    return urlencode(params)


@require_GET
def search(request: AuthenticatedRequest) -> HttpResponse:
    user = _searcher(request)
    bound = any(name in request.GET for name in SEARCH_FIELDS)
    form = SearchForm(request.GET if bound else None, user=user)
    context: dict[str, Any] = {"form": form}
    status = 200
    if bound:
        if form.is_valid():
            context.update(_results_context(request, form, user))
        else:
            status = 400
    return render(request, "search/search.html", context, status=status)


@require_GET
def search_results(request: AuthenticatedRequest) -> HttpResponse:
    """The result list alone: what the page re-fetches when a pushed change concerns one of its locations."""
    user = _searcher(request)
    form = SearchForm(request.GET, user=user)
    if not form.is_valid():
        return render(request, "search/_search_invalid.html", {"form": form}, status=400)
    return render(request, "search/_search_results.html", _results_context(request, form, user))


@login_not_required
@require_GET
def search_json(request: HttpRequest) -> JsonResponse:
    """The same search for programs and tests: 401 without a session (no login redirect), 403 for other roles."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": _("Log in to search.")}, status=401)
    if not can_search(request.user):
        return JsonResponse({"error": _("Your role cannot search for capacity.")}, status=403)
    user = request.user
    form = SearchForm(request.GET, user=user)
    if not form.is_valid():
        errors = {field: [e["message"] for e in errs] for field, errs in form.errors.get_json_data().items()}
        return JsonResponse({"errors": errors}, status=400)
    return JsonResponse(result_data(form.search()))


@require_GET
def place_options(request: AuthenticatedRequest) -> HttpResponse:
    """<option>s for the place field's datalist (htmx, as the midwife types)."""
    _searcher(request)
    names = place_suggestions(request.GET.get("where", "")[:80])
    return render(request, "search/_place_options.html", {"names": names})


@require_http_methods(["GET", "POST"])
def care_rules(request: AuthenticatedRequest) -> HttpResponse:
    """National administrators set the gestational-age thresholds; every change is recorded with who made it."""
    if not can_set_care_rules(request.user):
        raise PermissionDenied
    rules = CareLevelRules.current()
    form = CareRulesForm(request.POST or None, initial={"version": rules.version, **rules.thresholds()})
    status = 200
    conflict = False
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                care_rules_update(
                    by=request.user,
                    nicu_below_weeks=data["nicu_below_weeks"],
                    high_care_below_weeks=data["high_care_below_weeks"],
                    term_from_weeks=data["term_from_weeks"],
                    expected_version=data["version"],
                )
            except RulesConflict as exc:
                rules = exc.current
                form = CareRulesForm(initial={"version": rules.version, **rules.thresholds()})
                status, conflict = 409, True
            except ValidationError as exc:  # a rule the form did not know of
                form.add_errors_from(exc)
                status = 400
            else:
                messages.success(request, _("Care-level rules saved."))
                return redirect("search:care_rules")
        else:
            status = 400
    history = CareLevelRulesChange.objects.select_related("by")[:20]
    # The rule as midwives read it, one sentence per band, each said for which care type it holds.
    both = _("Begeleiding and overdracht")
    bands = [
        (both, CareType.OVERDRACHT, rules.nicu_below_weeks - 1),
        (both, CareType.OVERDRACHT, rules.nicu_below_weeks),
        (both, CareType.OVERDRACHT, rules.high_care_below_weeks),
        (_("Overdracht at term"), CareType.OVERDRACHT, rules.term_from_weeks),
        (_("Begeleiding at term"), CareType.BEGELEIDING, rules.term_from_weeks),
    ]
    in_words = [
        (label, requirement_for(care=care, weeks=weeks, rules=rules).level_rule()) for label, care, weeks in bands
    ]
    return render(
        request,
        "search/care_rules.html",
        {"form": form, "rules": rules, "history": history, "conflict": conflict, "in_words": in_words},
        status=status,
    )
