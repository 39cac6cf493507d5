"""Shortage registration by community midwives and kraamzorg planners (docs/kraamzorg.md)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from hospitals import audit
from hospitals.http import AuthenticatedRequest
from hospitals.models import AccessLog, Organisation, User
from hospitals.permissions import can_register_shortage
from kraamzorg import shortages
from kraamzorg.models import Shortage
from kraamzorg.shortage_forms import ShortageForm

MINE = 100  # the list shows the latest registrations


def _registrar(request: AuthenticatedRequest) -> User:
    if not can_register_shortage(request.user):
        raise PermissionDenied
    return request.user


def _initial(request: AuthenticatedRequest) -> dict[str, object]:
    """Pre-filled from the midwife's kraamzorg lookup: ``?pc4=3584&week=2027-01-11&organisation=7``."""
    initial: dict[str, object] = {}
    pc4 = request.GET.get("pc4", "")
    if len(pc4) == 4 and pc4.isdigit():
        initial["pc4"] = pc4
    week = request.GET.get("week", "")
    if len(week) == 10:
        initial["due_week"] = week
    organisation = request.GET.get("organisation", "")
    if organisation.isdigit() and Organisation.objects.filter(pk=int(organisation), kind="kraamzorg").exists():
        initial["organisation"] = int(organisation)
    return initial


@require_http_methods(["GET", "POST"])
def register(request: AuthenticatedRequest) -> HttpResponse:
    user = _registrar(request)
    form = ShortageForm(request.POST or None, initial=_initial(request), user=user)
    if request.method == "POST":
        if form.is_valid():
            try:
                shortage = shortages.shortage_register(by=user, data=form.to_input())
            except ValidationError as exc:
                form.add_errors_from(exc)
            else:
                messages.success(
                    request,
                    _("Shortage registered for %(pc4)s, due week %(week)s. Thank you.")
                    % {"pc4": shortage.pc4, "week": f"{shortage.due_week:%V}"},
                )
                return redirect("kraamzorg:shortages")
        return render(request, "kraamzorg/shortage_form.html", {"form": form}, status=400)
    return render(request, "kraamzorg/shortage_form.html", {"form": form})


@require_GET
def mine(request: AuthenticatedRequest) -> HttpResponse:
    user = _registrar(request)
    rows = [
        (s, shortages.can_withdraw(s, user))
        for s in Shortage.objects.filter(registered_by=user).select_related("organisation")[:MINE]
    ]
    audit.record(
        action=AccessLog.Action.VIEW,
        what="kraamzorg shortage list",
        request=request,
        scope=audit.scope_of(registered_by=user.username, rows=len(rows)),
    )
    return render(request, "kraamzorg/shortages.html", {"rows": rows})


@require_http_methods(["GET", "POST"])
def withdraw(request: AuthenticatedRequest, shortage_id: int) -> HttpResponse:
    """GET asks first (one slip of the thumb must not withdraw it); its POST withdraws."""
    user = _registrar(request)
    shortage = get_object_or_404(Shortage, pk=shortage_id, registered_by=user)
    if request.method == "GET":
        if not shortages.can_withdraw(shortage, user):
            raise PermissionDenied
        return render(request, "kraamzorg/shortage_withdraw.html", {"shortage": shortage})
    raw = request.POST.get("version", "")
    try:
        shortages.shortage_withdraw(
            shortage_id=shortage.pk, by=user, expected_version=int(raw) if raw.isdigit() else None
        )
    except shortages.StaleShortage:
        messages.error(request, _("This registration was changed in the meantime; check it and try again."))
        return redirect("kraamzorg:shortages")
    messages.success(request, _("Shortage registration withdrawn."))
    return redirect("kraamzorg:shortages")
