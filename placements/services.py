"""Every write to a placement request goes through one function here (docs/requests.md).

``placement_send`` creates a request; ``placement_transition`` moves it from one state to the next
under the row lock, with optimistic concurrency (``expected_version``) and the state machine
``TRANSITIONS``; ``placement_expire_due`` is the sweep that expires unanswered requests. A decline
or an expiry registers a refusal in the same transaction, marked as coming from a request, with
the board as it was when the midwife asked.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from capacity.selectors import board_snapshot, obstetric_locations
from core.exceptions import StaleVersion
from hospitals.models import MAX_WEEKS, MIN_WEEKS, CareType, Location, Organisation, User
from hospitals.permissions import is_hospital_staff
from hospitals.phones import parse_dutch_phone
from placements import signals
from placements.models import PlacementEvent, PlacementRequest
from refusals import alerts
from refusals.models import Refusal
from refusals.services import refusal_register_from_request
from search.selectors import OriginError, parse_origin

State = PlacementRequest.State
Via = PlacementRequest.Via

# Who may move a request from a state to the next: "staff" (of the location asked), "midwife"
# (who sent it), "system" (the expiry sweep). Anything not listed is refused.
TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    (State.SENT, State.SEEN): frozenset({"staff"}),
    (State.SENT, State.ACCEPTED): frozenset({"staff"}),
    (State.SEEN, State.ACCEPTED): frozenset({"staff"}),
    (State.SENT, State.DECLINED): frozenset({"staff"}),
    (State.SEEN, State.DECLINED): frozenset({"staff"}),
    (State.SENT, State.EXPIRED): frozenset({"system"}),
    (State.SEEN, State.EXPIRED): frozenset({"system"}),
    (State.SEEN, State.WITHDRAWN): frozenset({"midwife", "system"}),
    # Parallel asking: another location of the same ask accepted first (withdraw_siblings).
    (State.SENT, State.WITHDRAWN): frozenset({"midwife", "system"}),
    (State.ACCEPTED, State.WITHDRAWN): frozenset({"midwife"}),
    (State.ACCEPTED, State.ARRIVED): frozenset({"staff", "midwife"}),
}
OPEN = frozenset({State.SENT, State.SEEN})  # waiting for an answer: the deadline runs
FINAL = frozenset({State.DECLINED, State.EXPIRED, State.WITHDRAWN, State.ARRIVED})
# A phone's clock may run a little behind: an arrival time this far in the past is still "now".
ARRIVAL_PAST_MARGIN = timedelta(minutes=5)
ARRIVAL_AHEAD_MAX = timedelta(hours=24)


class StalePlacement(StaleVersion[PlacementRequest]):
    """The request changed since the caller read it (another answer came first); ``current`` is it now."""

    def __init__(self, current: PlacementRequest) -> None:
        super().__init__(current, f"placement request {current.pk} is at version {current.version}")


class TransitionRefused(Exception):
    """The state machine does not allow this step now; ``message`` says why, for the user."""

    def __init__(self, current: PlacementRequest, message: str) -> None:
        super().__init__(message)
        self.current = current
        self.message = message


class AnsweringToken(Protocol):
    """An API token answering for its organisation (capacity.models.ApiToken, read through this shape)."""

    pk: int
    organisation_id: int | None
    created_by: User


@dataclass(frozen=True)
class PlacementInput:
    location_id: int
    care_type: str
    urgency: str
    expected_arrival: datetime
    callback_phone: str
    gestational_weeks: int | None = None
    required_level: int = Location.NeonatalLevel.NONE
    # Where she searched from (PC4 or place; empty: her practice), to rank the next location.
    search_origin: str = ""
    # The client's earlier requests (escalation after a "no"): the same ask.
    ask: uuid.UUID | None = None


def validate_placement(data: PlacementInput, *, now: datetime) -> str:
    """Raise ValidationError with a message per field; return the call-back number in E.164."""
    errors: dict[str, list[str]] = {}

    def err(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if not obstetric_locations().filter(pk=data.location_id).exists():
        err("location", _("Choose a location with a delivery suite or a birth centre."))
    if data.care_type not in CareType.values:
        err("care_type", _("Choose begeleiding or overdracht."))
    if data.urgency not in PlacementRequest.Urgency.values:
        err("urgency", _("Choose how urgent it is."))
    if data.gestational_weeks is not None and not MIN_WEEKS <= data.gestational_weeks <= MAX_WEEKS:
        err(
            "gestational_weeks",
            _("Gestational age must lie between %(low)s and %(high)s weeks.") % {"low": MIN_WEEKS, "high": MAX_WEEKS},
        )
    if data.required_level not in Location.NeonatalLevel.values:
        err("required_level", _("Choose a level of neonatal care."))
    if data.expected_arrival < now - ARRIVAL_PAST_MARGIN:
        err("expected_arrival", _("The expected arrival cannot lie in the past."))
    elif data.expected_arrival > now + ARRIVAL_AHEAD_MAX:
        err("expected_arrival", _("The expected arrival must lie within the next 24 hours."))
    if data.search_origin:
        try:
            parse_origin(data.search_origin)
        except OriginError as error:
            err("search_origin", str(error))
    e164 = ""
    try:
        e164 = parse_dutch_phone(data.callback_phone).e164
    except ValidationError:
        err("callback_phone", _("Enter the number the delivery suite can call you back on, like 06 1234 5678."))
    if errors:
        raise ValidationError(errors)
    return e164


def stored_origin(text: str) -> str:
    """What is kept of where she searched from: the 4-digit postcode or the place, never more
    (a full postcode such as 3584 CX is cut to 3584)."""
    if not text:
        return ""
    origin = parse_origin(text)
    return origin.pc4 or origin.label


def parallel_limit(user: User) -> int:
    """How many locations she may ask at once: her practice's region's setting (1: one at a time)."""
    if user.organisation_id is None:
        return 1
    setting = (
        Organisation.objects.filter(pk=user.organisation_id)
        .values_list("region__placement_parallel_max", flat=True)
        .first()
    )
    return max(1, min(3, setting)) if setting else 1


def placement_send(*, by: User, data: PlacementInput) -> PlacementRequest:
    """A midwife asks a location for a place; the answer is needed by the urgency's deadline."""
    return placement_send_to(by=by, data=data, location_ids=[data.location_id])[0]


def placement_send_to(*, by: User, data: PlacementInput, location_ids: list[int]) -> list[PlacementRequest]:
    """Ask one location, or up to the region's limit at once (parallel asking), for the same client.

    With ``data.ask`` (a "no" came, she asks the next one) the requests join her earlier ones: the
    ask must be hers, nobody may have taken the client in yet, and a location is asked once."""
    if not (by.is_active and by.role == User.Role.MIDWIFE):
        raise PermissionDenied
    now = timezone.now()
    ids = list(dict.fromkeys(location_ids))
    if not ids:
        raise ValidationError({"location": [_("Choose a location to ask.")]})
    e164 = ""
    for location_id in ids:
        e164 = validate_placement(PlacementInput(**{**data.__dict__, "location_id": location_id}), now=now)
    with transaction.atomic(durable=True):
        ask = data.ask or uuid.uuid4()
        earlier = list(PlacementRequest.objects.select_for_update().filter(ask=ask).order_by("pk"))
        if data.ask is not None:
            _check_ask(earlier, by=by, ids=ids)
        limit = parallel_limit(by)
        if len(ids) + sum(r.state in OPEN for r in earlier) > limit:
            message = (
                _("Ask one location at a time.")
                if limit == 1
                else _("Ask at most %(count)s locations at once.") % {"count": limit}
            )
            raise ValidationError({"location": [message]})
        sent: list[PlacementRequest] = []
        for location_id in ids:
            location = Location.objects.get(pk=location_id)
            snapshot, room = board_snapshot(location.pk, now=now)
            request = PlacementRequest.objects.create(
                location=location,
                region_id=location.region_id,
                ask=ask,
                search_origin=stored_origin(data.search_origin),
                care_type=data.care_type,
                gestational_weeks=data.gestational_weeks,
                required_level=data.required_level,
                urgency=data.urgency,
                expected_arrival=data.expected_arrival,
                callback_phone=e164,
                midwife=by,
                sent_at=now,
                deadline=now + settings.PLACEMENT_DEADLINE[data.urgency],
                board_snapshot=snapshot,
                board_showed_room=room,
            )
            PlacementEvent.objects.create(request=request, before="", after=State.SENT, by=by, via=Via.WEB, at=now,
                                          version=request.version)  # fmt: skip
            # Expire it at its deadline; the beat sweep (placements.tasks.expire_due) is the backstop.
            transaction.on_commit(
                functools.partial(
                    signals.request_sent.send_robust, PlacementRequest, request_id=request.pk, deadline=request.deadline
                )
            )
            _announce(request)
            sent.append(request)
        if by.callback_phone != e164:
            # Her profile keeps the number she last gave, so the next request is pre-filled with it.
            User.objects.filter(pk=by.pk).update(callback_phone=e164)
            by.callback_phone = e164
    return sent


def _check_ask(earlier: list[PlacementRequest], *, by: User, ids: list[int]) -> None:
    if not earlier or any(r.midwife_id != by.pk for r in earlier):
        raise PermissionDenied
    if any(r.state in (State.ACCEPTED, State.ARRIVED) for r in earlier):
        raise ValidationError({"location": [_("A location already took her in: this client needs no other place.")]})
    asked = {r.location_id for r in earlier if r.state in OPEN}
    if asked & set(ids):
        raise ValidationError(
            {"location": [_("You already asked this location for this client; wait for its answer.")]}
        )


def _announce(request: PlacementRequest) -> None:
    """After commit: the request's screens (its location's staff, the midwife) get it as it is now."""
    transaction.on_commit(
        functools.partial(
            signals.request_changed.send_robust,
            PlacementRequest,
            request_id=request.pk,
            location_id=request.location_id,
            midwife_id=request.midwife_id,
            state=request.state,
            version=request.version,
        )
    )


def _actor(request: PlacementRequest, by: User | None, api_token: AnsweringToken | None) -> str:
    if api_token is not None:
        # A hospital system answers for its organisation's locations; it never acts as the midwife.
        org = Location.objects.filter(pk=request.location_id).values_list("organisation_id", flat=True).first()
        return "staff" if api_token.organisation_id is not None and api_token.organisation_id == org else ""
    if by is None:
        return "system"
    if by.is_active and by.pk == request.midwife_id:
        return "midwife"
    if is_hospital_staff(by) and by.locations.filter(pk=request.location_id).exists():
        return "staff"
    return ""


def may_take(request: PlacementRequest, user: User, to: str) -> bool:
    """Whether ``user`` is someone who may ever take this step on this request (views: 403 before anything else)."""
    actor = _actor(request, user, None)
    return actor != "" and any(actor in who for (_a, b), who in TRANSITIONS.items() if b == to)


def placement_transition(
    *,
    request_id: int,
    to: str,
    by: User | None,
    via: str = Via.WEB,
    expected_version: int | None = None,
    reason: str = "",
    now: datetime | None = None,
    api_token: AnsweringToken | None = None,
) -> PlacementRequest:
    """Move one request to ``to``. ``by`` None is the system (the expiry sweep).

    Raises PermissionDenied when ``by`` may not take this step (only the location's staff answer,
    only the midwife withdraws), StalePlacement when ``expected_version`` is no longer current,
    TransitionRefused when the state machine does not allow it now: an answer after the deadline
    expires the request instead and says so. A decline needs a reason and, like an expiry,
    registers a refusal. An acceptance withdraws the ask's other open requests (parallel asking).
    ``api_token``: a hospital system answers (via the API); ``by`` is then the account that issued it.
    """
    now = now or timezone.now()
    if api_token is not None:
        by, via = api_token.created_by, Via.API
    expired_instead = False
    with transaction.atomic(durable=True):
        ask = PlacementRequest.objects.filter(pk=request_id).values_list("ask", flat=True).get()
        # Every request of the ask, locked in one order: two locations accepting the same client at
        # once wait for each other instead of deadlocking, and the second finds hers withdrawn.
        family = {r.pk: r for r in PlacementRequest.objects.select_for_update().filter(ask=ask).order_by("pk")}
        request = family[request_id]
        actor = _actor(request, None if api_token else by, api_token)
        if actor == "" or not any(actor in who for (a, b), who in TRANSITIONS.items() if b == to):
            raise PermissionDenied
        if expected_version is not None and request.version != expected_version:
            raise StalePlacement(request)
        if to in (State.SEEN, State.ACCEPTED, State.DECLINED) and request.state in OPEN and now >= request.deadline:
            _move(request, State.EXPIRED, by=None, via=Via.SYSTEM, now=now)
            expired_instead = True
        else:
            allowed = TRANSITIONS.get((request.state, to), frozenset())
            if actor not in allowed:
                raise TransitionRefused(request, _refused_message(request, to))
            if to == State.DECLINED and reason not in Refusal.Reason.values:
                raise ValidationError({"reason": [_("Choose the reason you cannot take her in.")]})
            if to == State.EXPIRED and now < request.deadline:
                raise TransitionRefused(request, _("The request has not reached its deadline yet."))
            why = PlacementRequest.Withdrawn.MIDWIFE if to == State.WITHDRAWN and actor == "midwife" else ""
            _move(request, to, by=by, via=via, now=now, reason=reason, why=why, api_token=api_token)
            if to == State.ACCEPTED:
                for sibling in family.values():
                    if sibling.pk != request.pk and sibling.state in OPEN:
                        _move(sibling, State.WITHDRAWN, by=None, via=Via.SYSTEM, now=now,
                              why=PlacementRequest.Withdrawn.TAKEN_ELSEWHERE)  # fmt: skip
    if expired_instead:
        raise TransitionRefused(
            request,
            _("Too late: the request expired at %(time)s without an answer; the midwife is finding another place.")
            % {"time": formats.time_format(timezone.localtime(request.deadline), "H:i")},
        )
    return request


def _refused_message(request: PlacementRequest, to: str) -> str:
    if request.state == State.ACCEPTED and to in (State.ACCEPTED, State.DECLINED, State.SEEN):
        return _("The request was already accepted.")
    if request.state in FINAL:
        return _("The request is closed: %(state)s.") % {"state": request.get_state_display()}
    return _("That step is not possible now: the request is %(state)s.") % {"state": request.get_state_display()}


def _move(
    request: PlacementRequest,
    to: str,
    *,
    by: User | None,
    via: str,
    now: datetime,
    reason: str = "",
    why: str = "",
    api_token: AnsweringToken | None = None,
) -> None:
    before = request.state
    request.state = to
    request.version += 1
    fields = ["state", "version"]
    if to in (State.ACCEPTED, State.DECLINED):
        request.answered_at = now
        fields.append("answered_at")
    if to == State.DECLINED:
        request.decline_reason = reason
        fields.append("decline_reason")
    if to == State.WITHDRAWN:
        request.withdrawn_why = why or PlacementRequest.Withdrawn.MIDWIFE
        fields.append("withdrawn_why")
    if to in (State.DECLINED, State.EXPIRED) and request.refusal_id is None:
        # Every "no" counts, once: the refusal she registered by hand for it, or one registered now.
        request.refusal = _refusal_by_hand(request) or refusal_register_from_request(
            midwife=request.midwife,
            by=by or request.midwife,
            location_id=request.location_id,
            care_type=request.care_type,
            reason=reason if to == State.DECLINED else Refusal.Reason.OTHER,
            gestational_weeks=request.gestational_weeks,
            board_snapshot=request.board_snapshot,
            board_showed_room=request.board_showed_room,
            at=now,
        )
        fields.append("refusal")
    request.save(update_fields=fields)
    PlacementEvent.objects.create(
        request=request,
        before=before,
        after=to,
        by=by,
        via=via,
        at=now,
        version=request.version,
        api_token_id=api_token.pk if api_token else None,
    )
    if to == State.EXPIRED:
        # No answer: the region's coordinators are alerted (banner and e-mail, after commit).
        alerts.raise_request_expired(
            request_id=request.pk,
            region_id=request.region_id,
            location_id=request.location_id,
            urgency=request.urgency,
            sent_at=request.sent_at,
        )
    _announce(request)


def _refusal_by_hand(request: PlacementRequest) -> Refusal | None:
    """The refusal the midwife already registered by hand for this request (she phoned, they said
    no), so that the request's "no" links to it instead of counting the same refusal twice: hers,
    at this location, for this care, registered since she sent the request and not yet linked."""
    return (
        Refusal.objects.filter(
            registered_by_id=request.midwife_id,
            location_id=request.location_id,
            care_type=request.care_type,
            source=Refusal.Source.MANUAL,
            withdrawn_at__isnull=True,
            registered_at__gte=request.sent_at,
            placement_request__isnull=True,
        )
        .order_by("registered_at")
        .first()
    )


def placement_expire_due(*, now: datetime | None = None, limit: int = 500, only: list[int] | None = None) -> int:
    """Expire the open requests past their deadline (the beat sweep); returns how many expired.

    Each in its own transaction through ``placement_transition``, so one that an answer or a
    withdrawal overtook is simply skipped. ``only``: just these requests (the deadline task)."""
    now = now or timezone.now()
    due_qs = PlacementRequest.objects.filter(state__in=OPEN, deadline__lte=now)
    if only is not None:
        due_qs = due_qs.filter(pk__in=only)
    due = list(due_qs.order_by("deadline").values_list("pk", flat=True)[:limit])
    expired = 0
    for pk in due:
        try:
            placement_transition(request_id=pk, to=State.EXPIRED, by=None, via=Via.SYSTEM, now=now)
        except TransitionRefused:
            continue
        expired += 1
    return expired
