"""Thin views: check who is asking, call a selector or a service, render one template."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from capacity import selectors
from capacity.forms import BoardTokenForm, ConfirmForm, UnitCapacityForm
from capacity.models import BoardToken, Unit
from capacity.services import (
    VersionConflict,
    board_token_issue,
    board_token_revoke,
    unit_confirm_unchanged,
    unit_update_capacity,
)
from hospitals.http import AuthenticatedRequest
from hospitals.models import Location, Region
from hospitals.permissions import can_edit_unit, can_view_board, has_role, is_hospital_staff, screen_regions


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


@require_GET
def home(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    _require(has_role(user))
    if is_hospital_staff(user):
        return redirect("capacity:my_units")
    region = user.home_region
    if region is None:
        return redirect("capacity:board_national")
    return redirect("capacity:board_region", region_code=region.code)


def _board_context(request: AuthenticatedRequest, region: Region | None) -> dict[str, object]:
    rows = selectors.favourites_first(selectors.locations_with_units(region=region), request.user)
    scope = region.code if region else "national"
    lang = request.LANGUAGE_CODE
    return {
        "region": region,
        "regions": selectors.regions_with_locations(),
        "rows": rows,
        "ws_path": f"/ws/board/{scope}/?lang={lang}",
        "rows_url": reverse("capacity:board_rows", kwargs={"scope": scope}),
        "now": timezone.now(),
    }


def _scope_region(scope: str) -> Region | None:
    if scope == "national":
        return None
    return get_object_or_404(Region, code=scope)


@require_GET
def board(request: AuthenticatedRequest, region_code: str | None = None) -> HttpResponse:
    _require(can_view_board(request.user))
    region = _scope_region(region_code) if region_code else None
    return render(request, "capacity/board.html", _board_context(request, region))


@require_GET
def board_rows(request: AuthenticatedRequest, scope: str) -> HttpResponse:
    """The board's list alone: the polling fallback when the websocket cannot connect."""
    _require(can_view_board(request.user))
    return render(request, "capacity/_board_list.html", _board_context(request, _scope_region(scope)))


@require_POST
def toggle_favourite(request: AuthenticatedRequest, location_id: int) -> HttpResponse:
    _require(can_view_board(request.user))
    user = request.user
    location = get_object_or_404(Location, pk=location_id, active=True)
    if user.favourite_locations.filter(pk=location.pk).exists():
        user.favourite_locations.remove(location)
    else:
        user.favourite_locations.add(location)
    return HttpResponseRedirect(request.POST.get("next") or reverse("home"))


@login_not_required
@require_GET
def screen(request: HttpRequest, token: str) -> HttpResponse:
    """Read-only wall screen behind a revocable token, no login needed."""
    board_token = BoardToken.lookup(token)
    if board_token is None:
        raise Http404
    region = board_token.region
    rows = selectors.locations_with_units(region=region)
    scope = region.code if region else "national"
    return render(
        request,
        "capacity/screen.html",
        {
            "region": region,
            "rows": rows,
            "ws_path": f"/ws/board/screen/{token}/?lang={request.LANGUAGE_CODE}",
            "rows_url": "",
            "scope": scope,
            "now": timezone.now(),
        },
    )


@require_http_methods(["GET", "POST"])
def screens(request: AuthenticatedRequest) -> HttpResponse:
    """Coordinators manage the wall-screen links of their region (national admins: all)."""
    regions = screen_regions(request.user)
    _require(regions.exists())
    form = BoardTokenForm(request.POST or None, regions=regions)
    new_link = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            _token, raw = board_token_issue(
                label=form.cleaned_data["label"],
                region_id=form.cleaned_data["region"].pk,
                by=request.user,
            )
            new_link = request.build_absolute_uri(reverse("capacity:screen", args=[raw]))
            form = BoardTokenForm(regions=regions)
        else:
            status = 400
    tokens = (
        BoardToken.objects.filter(region__in=regions).select_related("region", "created_by").order_by("-created_at")
    )
    return render(
        request, "capacity/screens.html", {"form": form, "tokens": tokens, "new_link": new_link}, status=status
    )


@require_POST
def screen_revoke(request: AuthenticatedRequest, token_id: int) -> HttpResponse:
    regions = screen_regions(request.user)
    _require(regions.exists())
    token = get_object_or_404(BoardToken, pk=token_id, region__in=regions)
    board_token_revoke(token_id=token.pk, by=request.user)
    messages.success(request, _("Link %(label)s revoked.") % {"label": token.label})
    return redirect("capacity:screens")


# --- hospital staff -----------------------------------------------------------------


@require_GET
def my_units(request: AuthenticatedRequest) -> HttpResponse:
    _require(is_hospital_staff(request.user))
    units = list(selectors.units_for_staff(request.user))
    forms = [UnitCapacityForm.for_unit(unit) for unit in units]
    return render(request, "capacity/my_units.html", {"forms": forms, "now": timezone.now()})


def _unit_response(
    request: AuthenticatedRequest, form: UnitCapacityForm, *, status: int = 200, conflict: Unit | None = None
) -> HttpResponse:
    context = {"form": form, "conflict": conflict, "now": timezone.now()}
    if request.htmx:
        return render(request, "capacity/_unit_form.html", context, status=status)
    # Without JavaScript: the whole page, with this unit's form as submitted.
    units = list(selectors.units_for_staff(request.user))
    forms = [form if u.pk == form.unit.pk else UnitCapacityForm.for_unit(u) for u in units]
    return render(
        request, "capacity/my_units.html", {"forms": forms, "conflict": conflict, "now": timezone.now()}, status=status
    )


def _editable_unit(request: AuthenticatedRequest, unit_id: int) -> Unit:
    unit = get_object_or_404(Unit.objects.select_related("location"), pk=unit_id)
    _require(can_edit_unit(request.user, unit))
    return unit


def _saved(request: AuthenticatedRequest, unit: Unit, message: str) -> HttpResponse:
    if request.htmx:
        form = UnitCapacityForm.for_unit(unit)
        return render(request, "capacity/_unit_form.html", {"form": form, "saved": message, "now": timezone.now()})
    messages.success(request, message)
    return redirect(f"{reverse('capacity:my_units')}#unit-{unit.pk}")


@require_POST
def unit_update(request: AuthenticatedRequest, unit_id: int) -> HttpResponse:
    unit = _editable_unit(request, unit_id)
    form = UnitCapacityForm(request.POST, unit=unit)
    if not form.is_valid():
        return _unit_response(request, form, status=400)
    try:
        unit = unit_update_capacity(
            unit_id=unit.pk,
            by=request.user,
            change=form.change(),
            expected_version=form.cleaned_data["version"],
        ).unit
    except VersionConflict as conflict:
        fresh = UnitCapacityForm.for_unit(conflict.current)
        return _unit_response(request, fresh, status=409, conflict=conflict.current)
    return _saved(request, unit, _("Saved: %(unit)s") % {"unit": unit})


@require_POST
def unit_confirm(request: AuthenticatedRequest, unit_id: int) -> HttpResponse:
    unit = _editable_unit(request, unit_id)
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        return _unit_response(request, UnitCapacityForm.for_unit(unit), status=400)
    try:
        unit = unit_confirm_unchanged(
            unit_id=unit.pk,
            by=request.user,
            expected_version=form.cleaned_data["version"],
        )
    except VersionConflict as conflict:
        return _unit_response(
            request, UnitCapacityForm.for_unit(conflict.current), status=409, conflict=conflict.current
        )
    return _saved(request, unit, _("Confirmed unchanged: %(unit)s") % {"unit": unit})
