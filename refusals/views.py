"""Registration, correction and withdrawal of refusals by community midwives."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from core.http import local_path
from hospitals import audit
from hospitals.http import AuthenticatedRequest
from hospitals.models import AccessLog, User
from hospitals.permissions import is_midwife
from refusals import selectors, services
from refusals.forms import RefusalForm
from refusals.models import Refusal


@dataclass(frozen=True)
class OwnRefusal:
    """A row of the midwife's list: the refusal, and whether she may still correct or withdraw it."""

    refusal: Refusal
    changeable: bool


def _midwife(request: AuthenticatedRequest) -> User:
    if not is_midwife(request.user):
        raise PermissionDenied
    return request.user


MAX_NEAR = 50  # more ids than a search lists are ignored


def _near(raw: str) -> list[int]:
    """The search's result ids, nearest first (``near=12,7,31``); anything else is dropped."""
    return [int(part) for part in raw.split(",")[:MAX_NEAR] if part.strip().isdigit()]


@require_http_methods(["GET", "POST"])
def register(request: AuthenticatedRequest) -> HttpResponse:
    user = _midwife(request)
    # Opened from a search result or a board row: `next` and `near` ride along in hidden fields.
    params = request.POST if request.method == "POST" else request.GET
    back = local_path(request, params.get("next", ""))
    near = _near(params.get("near", ""))
    initial: dict[str, object] = {}
    if request.GET.get("location", "").isdigit():
        initial["location"] = int(request.GET["location"])
    # Pre-filled from a capacity-search result (templates/search/_search_results.html).
    if request.GET.get("care_type") in Refusal.CareType.values:
        initial["care_type"] = request.GET["care_type"]
    if request.GET.get("gestational_weeks", "").isdigit():
        initial["gestational_weeks"] = int(request.GET["gestational_weeks"])
    form = RefusalForm(request.POST or None, initial=initial, user=user, near=near)
    context: dict[str, object] = {"form": form, "next": back, "near": ",".join(map(str, near))}
    if request.method == "POST":
        if form.is_valid():
            try:
                refusal = services.refusal_register(
                    by=user, data=form.to_input(), another_client=request.POST.get("another_client") == "1"
                )
            except services.CountedAlready as counted:
                # Her placement request's "no" already registered it: say so, count it once.
                context["counted"] = counted.refusal
                return render(request, "refusals/form.html", context, status=409)
            messages.success(
                request, _("Refusal by %(location)s registered. Thank you.") % {"location": refusal.location.name}
            )
            return redirect(back or "refusals:mine")
        return render(request, "refusals/form.html", context, status=400)
    return render(request, "refusals/form.html", context)


@require_GET
def mine(request: AuthenticatedRequest) -> HttpResponse:
    user = _midwife(request)
    rows = [OwnRefusal(r, services.can_change(r, user)) for r in selectors.refusals_of(user)[:100]]
    audit.record(
        action=AccessLog.Action.VIEW,
        what="refusal list",
        request=request,
        scope=audit.scope_of(registered_by=user.username, rows=len(rows)),
    )
    return render(request, "refusals/mine.html", {"rows": rows})


def _own(request: AuthenticatedRequest, refusal_id: int) -> tuple[User, Refusal]:
    user = _midwife(request)
    refusal = get_object_or_404(Refusal, pk=refusal_id, registered_by=user)
    return user, refusal


@require_http_methods(["GET", "POST"])
def correct(request: AuthenticatedRequest, refusal_id: int) -> HttpResponse:
    user, refusal = _own(request, refusal_id)
    if not services.can_change(refusal, user):
        raise PermissionDenied
    form = RefusalForm(request.POST or None, initial=RefusalForm.initial_for(refusal), user=user)
    context = {"form": form, "refusal": refusal}
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "refusals/form.html", context, status=400)
        try:
            services.refusal_correct(
                refusal_id=refusal.pk, by=user, data=form.to_input(), expected_version=_version(request)
            )
        except services.StaleRefusal as stale:
            context["stale"] = stale.current
            return render(request, "refusals/form.html", context, status=409)
        messages.success(request, _("Refusal corrected."))
        return redirect("refusals:mine")
    return render(request, "refusals/form.html", context)


@require_http_methods(["GET", "POST"])
def withdraw(request: AuthenticatedRequest, refusal_id: int) -> HttpResponse:
    """GET asks "withdraw the refusal by X of <date>?" (works without JavaScript); its POST withdraws."""
    user, refusal = _own(request, refusal_id)
    if request.method == "GET":
        if not services.can_change(refusal, user):
            raise PermissionDenied
        return render(request, "refusals/withdraw.html", {"refusal": refusal})
    try:
        services.refusal_withdraw(refusal_id=refusal.pk, by=user, expected_version=_version(request))
    except services.StaleRefusal:
        messages.error(request, _("This refusal was changed in the meantime; check it and try again."))
        return redirect("refusals:mine")
    messages.success(request, _("Refusal withdrawn."))
    return redirect("refusals:mine")


def _version(request: AuthenticatedRequest) -> int | None:
    raw = request.POST.get("version", "")
    return int(raw) if raw.isdigit() else None
