"""The search page's second tab: which kraamzorg organisations can take in a client, for her postcode and due week.

Thin, as search/views.py: the role check, KraamzorgForm and kraamzorg.selectors.intake_for. The
page and the live refresh render the same partial (templates/search/_kraamzorg_results.html).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from hospitals.http import AuthenticatedRequest
from hospitals.permissions import can_search
from kraamzorg.models import INDICATED_HOURS
from kraamzorg.selectors import intake_fingerprint, intake_for
from search.forms import KraamzorgForm


def _searcher(request: AuthenticatedRequest) -> None:
    # The roles that may search for a hospital place (anonymous visitors go to the login page first).
    if not can_search(request.user):
        raise PermissionDenied


def _results_context(form: KraamzorgForm) -> dict[str, Any]:
    data = form.cleaned_data
    week = data["week"]
    now = timezone.now()
    options = intake_for(data["pc4"], week, now)
    ids = sorted(option.organisation_id for option in options)
    ws_path = ""
    if ids:
        ws_path = f"/ws/search/kraamzorg/?organisations={','.join(map(str, ids))}&week={week:%Y-%m-%d}"
    return {
        "options": options,
        "postcode": data["postcode"],
        "week": week,
        "week_end": week + timedelta(days=6),
        "query": form.query(),
        "ws_path": ws_path,
        "fingerprint": intake_fingerprint(ids, week),
        "now": now,
        "indicated_hours": INDICATED_HOURS,
    }


@require_GET
def kraamzorg(request: AuthenticatedRequest) -> HttpResponse:
    _searcher(request)
    # A link from the capacity search fills in the postcode only when it knows no due date.
    bound = "due" in request.GET
    form = KraamzorgForm(request.GET if bound else None, initial={"pc4": request.GET.get("pc4", "")[:8]})
    context: dict[str, Any] = {"form": form}
    status = 200
    if bound:
        if form.is_valid():
            context.update(_results_context(form))
        else:
            status = 400
    return render(request, "search/kraamzorg.html", context, status=status)


@require_GET
def kraamzorg_results(request: AuthenticatedRequest) -> HttpResponse:
    """The list alone: what the page fetches again when a pushed intake change concerns one of its organisations."""
    _searcher(request)
    form = KraamzorgForm(request.GET)
    if not form.is_valid():
        return render(request, "search/_search_invalid.html", {"form": form}, status=400)
    return render(request, "search/_kraamzorg_results.html", _results_context(form))
