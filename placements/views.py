"""Placement request screens (docs/requests.md, "Screens"). Thin: check who asks, validate, call the service.

Midwife: the request form (from a search result or a board row), her asks with their live state,
withdraw, "ask the next one" after a no, arrival. Staff: the desk (on the staff page and as a
delivery-suite screen), seen, accept, decline with a reason, arrival. A stale or refused answer is
a 409 with the request as it is now and the reason in words; bad input a 400 on its field.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from hospitals import audit
from hospitals.http import AuthenticatedRequest
from hospitals.models import AccessLog, Location, User
from hospitals.permissions import is_hospital_staff, is_midwife
from placements import selectors, services
from placements.forms import DeclineForm, PlacementForm, VersionForm
from placements.models import PlacementRequest

State = PlacementRequest.State


def _midwife(request: AuthenticatedRequest) -> User:
    if not is_midwife(request.user):
        raise PermissionDenied
    return request.user


def _staff(request: AuthenticatedRequest) -> list[int]:
    ids = selectors.desk_location_ids(request.user)
    if not ids:
        raise PermissionDenied
    return ids


def _ids(raw: str, limit: int = 20) -> list[int]:
    return [int(p) for p in raw.split(",")[:limit] if p.strip().isdigit()]


def _messages(error: ValidationError) -> str:
    return " ".join(message for messages in error.message_dict.values() for message in messages)


# --- the midwife ---------------------------------------------------------------------------


# The service's field names where the form calls them otherwise.
FORM_FIELD = {"expected_arrival": "arrival_in", "search_origin": "where"}


def _on_form(error: ValidationError) -> ValidationError:
    return ValidationError({FORM_FIELD.get(k, k): v for k, v in error.message_dict.items()})


@require_http_methods(["GET", "POST"])
def new(request: AuthenticatedRequest) -> HttpResponse:
    """The request form, pre-filled from the search result or board row it was opened from."""
    user = _midwife(request)
    source = request.POST if request.method == "POST" else request.GET
    limit = services.parallel_limit(user)
    near = [i for i in _ids(source.get("near", "")) if str(i) != source.get("location")]
    names = dict(Location.objects.filter(pk__in=near, active=True).values_list("pk", "name"))
    also_choices = [(i, names[i]) for i in near if i in names][:5] if limit > 1 else []
    initial = {
        "location": source.get("location"),
        "care_type": source.get("care_type") or source.get("care"),
        "gestational_weeks": source.get("gestational_weeks") or source.get("weeks"),
        "where": source.get("where", ""),
        "ask": source.get("ask") or None,
        "callback_phone": user.callback_phone,
        "arrival_in": "30",
    }
    if request.method == "POST":
        form = PlacementForm(request.POST, also_choices=also_choices, extra=limit - 1)
    else:
        form = PlacementForm(initial=initial, also_choices=also_choices, extra=limit - 1)
    location_id = source.get("location", "")
    location = (
        Location.objects.filter(pk=int(location_id)).select_related("region").first() if location_id.isdigit() else None
    )
    if location is None:
        return render(request, "placements/new_missing.html", status=400)
    context = {
        "form": form,
        "location": location,
        "near": ",".join(map(str, near)),
        "limit": limit,
        "requirement": _requirement(form, initial),
        "next": _back(request, source.get("next", "")),
    }
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "placements/new.html", context, status=400)
        data = form.to_input()
        try:
            sent = services.placement_send_to(
                by=user, data=data, location_ids=[data.location_id, *form.cleaned_data.get("also", [])]
            )
        except ValidationError as error:
            form.add_errors_from(_on_form(error))
            return render(request, "placements/new.html", context, status=400)
        names_sent = ", ".join(r.location.name for r in sent)
        messages.success(request, _("Request sent to %(names)s. You see the answer here.") % {"names": names_sent})
        return redirect("placements:ask", ask=sent[0].ask)
    return render(request, "placements/new.html", context)


def _requirement(form: PlacementForm, initial: dict[str, Any]) -> Any:
    from search.selectors import requirement_for

    care = (form.data.get("care_type") if form.is_bound else initial["care_type"]) or ""
    weeks_raw = (form.data.get("gestational_weeks") if form.is_bound else initial["gestational_weeks"]) or ""
    weeks = int(weeks_raw) if str(weeks_raw).isdigit() else None
    if care not in ("begeleiding", "overdracht"):
        return None
    return requirement_for(care=care, weeks=weeks)


def _back(request: AuthenticatedRequest, raw: str) -> str:
    if raw and url_has_allowed_host_and_scheme(raw, allowed_hosts={request.get_host()}, require_https=False):
        return raw
    return ""


@require_GET
def mine(request: AuthenticatedRequest) -> HttpResponse:
    user = _midwife(request)
    asks = selectors.asks_of(user)
    audit.record(action=AccessLog.Action.VIEW, what="placement requests", request=request,
                 scope=audit.scope_of(midwife=user.username, rows=len(asks)))  # fmt: skip
    return render(request, "placements/mine.html", {"asks": asks, "now": timezone.now()})


def _own_ask(request: AuthenticatedRequest, ask: uuid.UUID) -> selectors.Ask:
    user = _midwife(request)
    found = selectors.ask_of(ask, user)
    if found is None:
        raise Http404
    return found


@require_GET
def ask_view(request: AuthenticatedRequest, ask: uuid.UUID) -> HttpResponse:
    found = _own_ask(request, ask)
    return render(request, "placements/ask.html", {"ask": found, "now": timezone.now()})


@require_GET
def ask_panel(request: AuthenticatedRequest, ask: uuid.UUID) -> HttpResponse:
    """The ask's panel alone: what the page fetches while its socket is down (polling fallback)."""
    found = _own_ask(request, ask)
    return render(request, "placements/_ask.html", {"ask": found, "now": timezone.now()})


@require_POST
def ask_next(request: AuthenticatedRequest, ask: uuid.UUID) -> HttpResponse:
    """After a no: the same request, in one tap, to the next location of the ranking."""
    found = _own_ask(request, ask)
    location_id = request.POST.get("location", "")
    first = found.first
    if not location_id.isdigit():
        return _ask_problem(request, found, _("Choose the location to ask."), status=400)
    data = services.PlacementInput(
        location_id=int(location_id),
        care_type=first.care_type,
        urgency=first.urgency,
        # The arrival she gave still holds; a past one becomes "now".
        expected_arrival=max(first.expected_arrival, timezone.now()),
        callback_phone=first.callback_phone,
        gestational_weeks=first.gestational_weeks,
        required_level=first.required_level,
        search_origin=first.search_origin,
        ask=found.ask,
    )
    try:
        services.placement_send_to(by=request.user, data=data, location_ids=[data.location_id])
    except ValidationError as error:
        return _ask_problem(request, found, _messages(error), status=400)
    return _ask_response(request, found.ask, _("Request sent."))


def _ask_problem(request: AuthenticatedRequest, found: selectors.Ask, problem: str, *, status: int) -> HttpResponse:
    if request.htmx:
        return _ask_with_notice(request, found, problem=problem, status=status)
    messages.error(request, problem)
    return redirect("placements:ask", ask=found.ask)


def _ask_response(request: AuthenticatedRequest, ask: uuid.UUID, message: str) -> HttpResponse:
    found = selectors.ask_of(ask, request.user)
    if request.htmx and found is not None:
        return _ask_with_notice(request, found, saved=message)
    messages.success(request, message)
    return redirect("placements:ask", ask=ask)


def _ask_with_notice(
    request: AuthenticatedRequest, found: selectors.Ask | None, *, problem: str = "", saved: str = "", status: int = 200
) -> HttpResponse:
    """The ask's section and, beside it, what her step said: the pushes that follow replace the
    section, so the message lives outside it (#ask-notice)."""
    response = render(request, "placements/_ask.html", {"ask": found, "now": timezone.now()}, status=status)
    response.content += render(request, "placements/_ask_notice.html", {"problem": problem, "saved": saved}).content
    return response


# --- transitions (midwife and staff) -------------------------------------------------------

# The step each answer URL takes, and the message once it is taken.
STEPS = {
    "seen": (State.SEEN, "staff"),
    "accept": (State.ACCEPTED, "staff"),
    "decline": (State.DECLINED, "staff"),
    "withdraw": (State.WITHDRAWN, "midwife"),
    "arrived": (State.ARRIVED, "either"),
}


def _done_message(step: str, request: PlacementRequest) -> str:
    if step == "seen":
        return _("Seen: the midwife sees that you are on it.")
    if step == "accept":
        return _("Accepted: the midwife is told at once. Lower the free beds if she takes one.")
    if step == "decline":
        return _("Declined: the midwife is told at once and gets the next location.")
    if step == "withdraw":
        return _("Request withdrawn.")
    return _("Arrival recorded: the request is closed.")


@require_POST
def transition(request: AuthenticatedRequest, request_id: int, step: str) -> HttpResponse:
    to, who = STEPS[step]
    user = request.user
    if (who == "staff" and not is_hospital_staff(user)) or (who == "midwife" and not is_midwife(user)):
        raise PermissionDenied
    placement = PlacementRequest.objects.filter(pk=request_id).first()
    if placement is None:
        raise Http404
    if not services.may_take(placement, user, to):
        raise PermissionDenied
    form = (DeclineForm if step == "decline" else VersionForm)(request.POST)
    as_staff = is_hospital_staff(user)
    if not form.is_valid():
        problem = (
            _("Choose the reason you cannot take her in.")
            if "reason" in form.errors
            else _("The page was out of date: this is the request as it is now.")
        )
        return _transition_response(request, placement, as_staff, problem=problem, status=400)
    try:
        placement = services.placement_transition(
            request_id=placement.pk,
            to=to,
            by=user,
            via=PlacementRequest.Via.WEB,
            expected_version=form.cleaned_data["version"],
            reason=form.cleaned_data.get("reason", ""),
        )
    except services.StalePlacement as stale:
        current = stale.current
        problem = _("Someone else changed this request first: it is now %(state)s. Nothing was saved.") % {
            "state": current.get_state_display()
        }
        return _transition_response(request, current, as_staff, problem=problem, status=409)
    except services.TransitionRefused as refused:
        return _transition_response(request, refused.current, as_staff, problem=refused.message, status=409)
    except ValidationError as error:
        problem = _messages(error)
        return _transition_response(request, placement, as_staff, problem=problem, status=400)
    return _transition_response(request, placement, as_staff, saved=_done_message(step, placement),
                                accepted=step == "accept")  # fmt: skip


def _transition_response(
    request: AuthenticatedRequest,
    placement: PlacementRequest,
    as_staff: bool,
    *,
    problem: str = "",
    saved: str = "",
    status: int = 200,
    accepted: bool = False,
) -> HttpResponse:
    now = timezone.now()
    if as_staff:
        if request.htmx:
            context = {"desk": selectors.desk(placement.location_id), "now": now}
            response = render(request, "placements/_desk_location.html", context, status=status)
            # The message and the bed prompt go beside the desk, not in it: the push that follows replaces the desk.
            notice = {"placement": placement, "problem": problem, "saved": saved}
            if accepted:
                notice["beds"] = selectors.beds_to_lower(placement)
            response.content += render(request, "placements/_desk_notice.html", notice).content
            return response
        (messages.error if problem else messages.success)(request, problem or saved)
        return redirect("placements:desk")
    if request.htmx:
        found = selectors.ask_of(placement.ask, request.user)
        return _ask_with_notice(request, found, problem=problem, saved=saved, status=status)
    (messages.error if problem else messages.success)(request, problem or saved)
    return redirect("placements:ask", ask=placement.ask)


# --- the staff's desk ----------------------------------------------------------------------


@require_GET
def desk(request: AuthenticatedRequest) -> HttpResponse:
    """The delivery-suite screen: the requests to the locations of this member of staff, live."""
    ids = _staff(request)
    desks = selectors.desks(ids)
    audit.record(action=AccessLog.Action.VIEW, what="placement desk", request=request,
                 scope=audit.scope_of(locations=",".join(map(str, ids))))  # fmt: skip
    return render(request, "placements/desk.html", {"desks": desks, "now": timezone.now(), "screen": True})


@require_GET
def desk_panel(request: AuthenticatedRequest) -> HttpResponse:
    """The desk sections alone: the staff page embeds them, and the pages poll them while the socket is down."""
    ids = _staff(request)
    return render(request, "placements/_desks.html", {"desks": selectors.desks(ids), "now": timezone.now()})


def desk_link(user: User) -> str:
    return reverse("placements:desk") if selectors.desk_location_ids(user) else ""
