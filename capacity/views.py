"""Thin views: check who is asking, call a selector or a service, render one template."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from capacity import selectors
from capacity.forms import BoardTokenForm, ConfirmAllForm, ConfirmForm, UnitCapacityForm
from capacity.models import BoardToken, Unit
from capacity.services import (
    UnitsVersionConflict,
    VersionConflict,
    board_token_issue,
    board_token_revoke,
    unit_confirm_unchanged,
    unit_update_capacity,
    units_confirm_unchanged,
)
from core.http import local_path
from hospitals.http import AuthenticatedRequest
from hospitals.models import Location, Region, User
from hospitals.permissions import (
    can_edit_unit,
    can_manage_phones,
    can_set_location_phone,
    can_view_board,
    has_role,
    is_hospital_staff,
    screen_regions,
)


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


@require_GET
def home(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    _require(has_role(user))
    if is_hospital_staff(user):
        return redirect("capacity:my_units")
    if user.role == User.Role.KRAAMZORG_PLANNER:
        return redirect("kraamzorg:plan")  # a URL name, not an import: kraamzorg is not below capacity
    region = user.home_region
    if region is None:
        return redirect("capacity:board_national")
    return redirect("capacity:board_region", region_code=region.code)


LAYOUT_COOKIE = "board_layout"
LAYOUTS = ("cards", "grid")


def _layout(request: HttpRequest) -> str:
    """Cards or grid: chosen with ?layout= (the toggle without JavaScript), else remembered in a cookie.

    Decided on the server, so a remembered grid never flashes as cards first.
    """
    chosen = request.GET.get("layout") or request.COOKIES.get(LAYOUT_COOKIE, "")
    return chosen if chosen in LAYOUTS else LAYOUTS[0]


def _remember_layout(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if request.GET.get("layout") in LAYOUTS:
        response.set_cookie(LAYOUT_COOKIE, request.GET["layout"], max_age=365 * 24 * 3600, samesite="Lax")
    return response


def _sees_phone_gaps(user: User) -> bool:
    """Coordinators and administrators are told which locations cannot be called from the board."""
    return can_manage_phones(user) or (has_role(user) and user.role == User.Role.COORDINATOR)


def _board_context(request: AuthenticatedRequest, region: Region | None) -> dict[str, object]:
    rows = selectors.favourites_first(selectors.locations_with_units(region=region), request.user)
    scope = region.code if region else "national"
    lang = request.LANGUAGE_CODE
    user = request.user
    no_phone = selectors.locations_without_phone(rows) if _sees_phone_gaps(user) else []
    return {
        "region": region,
        "regions": selectors.regions_with_locations(),
        "rows": rows,
        "ws_path": f"/ws/board/{scope}/?lang={lang}",
        "rows_url": reverse("capacity:board_rows", kwargs={"scope": scope}),
        "now": timezone.now(),
        "layout": _layout(request),
        "unit_kinds": selectors.unit_kinds_shown(rows),
        "no_phone": [(location, can_set_location_phone(user, location)) for location in no_phone],
        "may_fix_phones": can_manage_phones(user),
    }


def _scope_region(scope: str) -> Region | None:
    if scope == "national":
        return None
    return get_object_or_404(Region, code=scope)


@require_GET
def board(request: AuthenticatedRequest, region_code: str | None = None) -> HttpResponse:
    _require(can_view_board(request.user))
    region = _scope_region(region_code) if region_code else None
    return _remember_layout(request, render(request, "capacity/board.html", _board_context(request, region)))


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
    # Back to the board the star was pressed on; never to another site (open redirect).
    return HttpResponseRedirect(local_path(request, request.POST.get("next", "")) or reverse("home"))


@login_not_required
@require_GET
def screen(request: HttpRequest, token: str) -> HttpResponse:
    """Read-only wall screen behind a revocable token, no login needed."""
    board_token = selectors.board_token_any(token)
    if board_token is None or board_token.revoked_at is not None:
        # A page in the screen's language that says what happened and whom to ask, not "Not Found".
        revoked = board_token is not None
        return render(request, "capacity/screen_gone.html", {"revoked": revoked}, status=410 if revoked else 404)
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
            "screen": True,
            "layout": "grid",
            "unit_kinds": selectors.unit_kinds_shown(rows),
            "last_change": selectors.last_change(rows),
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


@dataclass(frozen=True)
class UnitRow:
    """One unit's form on the staff page, with the unit as it is now if someone else changed it."""

    form: UnitCapacityForm
    conflict: Unit | None = None


@dataclass(frozen=True)
class LocationRows:
    location: Location
    rows: list[UnitRow]


def _staff_context(
    request: AuthenticatedRequest,
    *,
    form: UnitCapacityForm | None = None,
    conflicts: Sequence[Unit] = (),
) -> dict[str, object]:
    """The staff page: the user's units by location, in board order; ``form`` replaces its unit's
    fresh form (as submitted, without JavaScript), ``conflicts`` are units changed meanwhile."""
    units = sorted(
        selectors.units_for_staff(request.user),
        key=lambda u: (u.location.name, u.location_id, Unit.KIND_ORDER.index(Unit.Kind(u.kind))),
    )
    changed = {unit.pk: unit for unit in conflicts}
    groups: dict[int, LocationRows] = {}
    for unit in units:
        unit_form = form if form is not None and form.unit.pk == unit.pk else UnitCapacityForm.for_unit(unit)
        group = groups.setdefault(unit.location_id, LocationRows(unit.location, []))
        group.rows.append(UnitRow(unit_form, changed.get(unit.pk)))
    return {"locations": list(groups.values()), "now": timezone.now()}


@require_GET
def my_units(request: AuthenticatedRequest) -> HttpResponse:
    _require(is_hospital_staff(request.user))
    return render(request, "capacity/my_units.html", _staff_context(request))


def _unit_response(
    request: AuthenticatedRequest,
    form: UnitCapacityForm,
    *,
    status: int = 200,
    conflict: Unit | None = None,
    problem: str = "",
) -> HttpResponse:
    if request.htmx:
        context = {"form": form, "conflict": conflict, "problem": problem, "now": timezone.now()}
        return render(request, "capacity/_unit_form.html", context, status=status)
    # Without JavaScript: the whole page, with this unit's form as submitted.
    page = _staff_context(request, form=form, conflicts=[conflict] if conflict else [])
    page["problem"] = problem
    return render(request, "capacity/my_units.html", page, status=status)


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
        # Only the hidden version can be wrong here: say so, with the current figures.
        problem = str(ConfirmForm.HIDDEN_FIELD_ERROR)
        return _unit_response(request, UnitCapacityForm.for_unit(unit), status=400, problem=problem)
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


def _units_response(
    request: AuthenticatedRequest, *, status: int, conflicts: Sequence[Unit] = (), **extra: object
) -> HttpResponse:
    """All of the user's units: the list alone for htmx, else the whole page."""
    template = "capacity/_my_units.html" if request.htmx else "capacity/my_units.html"
    context = _staff_context(request, conflicts=conflicts) | extra
    return render(request, template, context, status=status)


@require_POST
def units_confirm_all(request: AuthenticatedRequest) -> HttpResponse:
    """Confirm all unchanged: every unit on the page, at the versions the page showed; all or none."""
    _require(is_hospital_staff(request.user))
    form = ConfirmAllForm(request.POST)
    if not form.is_valid():
        return _units_response(request, status=400, problem=_("Nothing was confirmed. Please try again."))
    try:
        confirmed = units_confirm_unchanged(by=request.user, versions=form.versions())
    except Unit.DoesNotExist as missing:
        raise Http404 from missing
    except UnitsVersionConflict as conflict:
        names = ", ".join(str(unit) for unit in conflict.stale)
        return _units_response(request, status=409, conflicts=conflict.stale, stale_names=names)
    count = len(confirmed)
    message = ngettext("Confirmed unchanged: %(count)s unit.", "Confirmed unchanged: %(count)s units.", count)
    message %= {"count": count}
    if request.htmx:
        return _units_response(request, status=200, confirmed_all=message)
    messages.success(request, message)
    return redirect("capacity:my_units")
