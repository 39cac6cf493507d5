"""Every write to refusals goes through one function here (register, correct, withdraw).

Each runs in its own durable transaction and appends to the history; the request
answers as soon as the refusal is stored. Aggregation is Celery's job, enqueued
after commit (refusals/aggregation.py), so a stopped worker or broker never loses
a refusal: the periodic sweep counts what was missed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from capacity.selectors import board_snapshot, obstetric_locations
from core.exceptions import StaleVersion
from hospitals.models import MAX_WEEKS, MIN_WEEKS, Location, User
from hospitals.permissions import can_view_statistics
from refusals import live, tasks
from refusals.models import CLOCK_SKEW, Alert, Refusal, RefusalEvent


class StaleRefusal(StaleVersion[Refusal]):
    """The midwife edited a refusal on a version that is no longer current; ``current`` is the refusal now."""

    def __init__(self, current: Refusal) -> None:
        super().__init__(current, f"refusal {current.pk} is at version {current.version}")


class CountedAlready(Exception):
    """A placement request's "no" already registered this refusal (``refusal``): registering it by
    hand as well would count it twice. The midwife may say it is another client."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"refusal {refusal.pk} already counts this")
        self.refusal = refusal


@dataclass(frozen=True)
class RefusalInput:
    occurred_at: datetime
    location_id: int
    care_type: str
    reason: str
    outcome: str
    gestational_weeks: int | None = None
    outcome_location_id: int | None = None
    hospitals_called: int | None = None
    note: str = ""


def validate_refusal(data: RefusalInput, *, now: datetime | None = None) -> None:
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}

    def err(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if data.occurred_at > now + CLOCK_SKEW:
        err("occurred_at", _("The time cannot lie in the future."))
    elif data.occurred_at < now - settings.REFUSAL_MAX_AGE:
        err(
            "occurred_at",
            _("Refusals older than %(days)s days cannot be registered.") % {"days": settings.REFUSAL_MAX_AGE.days},
        )
    if not obstetric_locations().filter(pk=data.location_id).exists():
        err("location", _("Choose a location with a delivery suite or a birth centre."))
    if data.care_type not in Refusal.CareType.values:
        err("care_type", _("Choose begeleiding or overdracht."))
    if data.reason not in Refusal.Reason.values:
        err("reason", _("Choose the reason the hospital gave."))
    if data.gestational_weeks is not None and not MIN_WEEKS <= data.gestational_weeks <= MAX_WEEKS:
        err(
            "gestational_weeks",
            _("Gestational age must lie between %(low)s and %(high)s weeks.") % {"low": MIN_WEEKS, "high": MAX_WEEKS},
        )
    if data.outcome not in Refusal.Outcome.values:
        err("outcome", _("Choose where the client went."))
    elif data.outcome == Refusal.Outcome.LOCATION:
        if data.outcome_location_id is None:
            err("outcome_location", _("Choose the location that took her in."))
        elif data.outcome_location_id == data.location_id:
            err("outcome_location", _("That is the location that refused."))
        elif not Location.objects.filter(pk=data.outcome_location_id, active=True).exists():
            err("outcome_location", _("Choose a location with obstetrics."))
    if data.hospitals_called is not None and not 1 <= data.hospitals_called <= 30:
        err("hospitals_called", _("Enter a number from 1 to 30."))
    if len(data.note) > 280:
        err("note", _("The note can be at most 280 characters."))
    if errors:
        raise ValidationError(errors)


def refusal_state(refusal: Refusal) -> dict[str, object]:
    """The refusal as its history records it (before/after)."""
    return {
        "occurred_at": refusal.occurred_at.isoformat(),
        "location_id": refusal.location_id,
        "care_type": refusal.care_type,
        "reason": refusal.reason,
        "gestational_weeks": refusal.gestational_weeks,
        "outcome": refusal.outcome,
        "outcome_location_id": refusal.outcome_location_id,
        "hospitals_called": refusal.hospitals_called,
        "note": refusal.note,
        "withdrawn": refusal.withdrawn_at is not None,
        "version": refusal.version,
    }


def _apply(refusal: Refusal, data: RefusalInput) -> None:
    fields = asdict(data)
    if data.outcome != Refusal.Outcome.LOCATION:
        fields["outcome_location_id"] = None
    for name, value in fields.items():
        setattr(refusal, name, value)


def counted_from_request(by: User, data: RefusalInput) -> Refusal | None:
    """Her refusal registered from a placement request's "no" that this one repeats: same
    location and care, within ``REFUSAL_REQUEST_LINK_WINDOW`` of its time, not withdrawn."""
    window = settings.REFUSAL_REQUEST_LINK_WINDOW
    return (
        Refusal.objects.filter(
            source=Refusal.Source.REQUEST,
            registered_by=by,
            location_id=data.location_id,
            care_type=data.care_type,
            withdrawn_at__isnull=True,
            occurred_at__gte=data.occurred_at - window,
            occurred_at__lte=data.occurred_at + window,
        )
        .order_by("-occurred_at")
        .first()
    )


def refusal_register(*, by: User, data: RefusalInput, another_client: bool = False) -> Refusal:
    """Register a refusal by hand. One her placement request already registered is not counted
    again (``CountedAlready``) unless she says it concerns ``another_client``."""
    if by.role != User.Role.MIDWIFE:
        raise PermissionDenied
    now = timezone.now()
    validate_refusal(data, now=now)
    with transaction.atomic(durable=True):
        if not another_client and (counted := counted_from_request(by, data)) is not None:
            raise CountedAlready(counted)
        location = Location.objects.get(pk=data.location_id)
        snapshot, room = board_snapshot(location.pk, now=now)
        refusal = Refusal(
            region_id=location.region_id,
            registered_by=by,
            practice_id=by.organisation_id,
            registered_at=now,
            board_snapshot=snapshot,
            board_showed_room=room,
        )
        _apply(refusal, data)
        refusal.save()
        _record(refusal, action=RefusalEvent.Action.REGISTER, by=by, at=now, before=None)
    return refusal


def refusal_register_from_request(
    *,
    midwife: User,
    by: User,
    location_id: int,
    care_type: str,
    reason: str,
    gestational_weeks: int | None,
    board_snapshot: dict[str, object],
    board_showed_room: bool,
    at: datetime,
) -> Refusal:
    """A placement request's "no" (declined, or no answer in time) as a refusal in the midwife's
    name, with the board as it was when she asked. Runs inside the caller's transaction (the
    request's transition), so the answer and its refusal are stored together or not at all;
    ``by`` (who declined, or the midwife for an expiry) is recorded in the history."""
    location = Location.objects.get(pk=location_id)
    refusal = Refusal(
        occurred_at=at,
        location=location,
        region_id=location.region_id,
        care_type=care_type,
        reason=reason,
        gestational_weeks=gestational_weeks,
        outcome=Refusal.Outcome.UNKNOWN,
        registered_by=midwife,
        practice_id=midwife.organisation_id,
        registered_at=at,
        board_snapshot=board_snapshot,
        board_showed_room=board_showed_room,
        source=Refusal.Source.REQUEST,
    )
    refusal.save()
    _record(refusal, action=RefusalEvent.Action.REGISTER, by=by, at=at, before=None)
    return refusal


def can_change(refusal: Refusal, user: User, *, now: datetime | None = None) -> bool:
    """Only the midwife who registered it, within the correction window."""
    return (
        refusal.registered_by_id == user.pk
        and refusal.withdrawn_at is None
        and (now or timezone.now()) < refusal.registered_at + settings.REFUSAL_EDIT_WINDOW
    )


def _lock_own(refusal_id: int, by: User, expected_version: int | None) -> Refusal:
    refusal = Refusal.objects.select_for_update().get(pk=refusal_id)
    if not can_change(refusal, by):
        raise PermissionDenied
    if expected_version is not None and refusal.version != expected_version:
        raise StaleRefusal(refusal)
    return refusal


def refusal_correct(*, refusal_id: int, by: User, data: RefusalInput, expected_version: int | None) -> Refusal:
    now = timezone.now()
    validate_refusal(data, now=now)
    with transaction.atomic(durable=True):
        refusal = _lock_own(refusal_id, by, expected_version)
        before = refusal_state(refusal)
        location = Location.objects.get(pk=data.location_id)
        if location.pk != refusal.location_id:
            # Another location: what its board showed then is not known; take it now.
            refusal.board_snapshot, refusal.board_showed_room = board_snapshot(location.pk, now=now)
        _apply(refusal, data)
        refusal.region_id = location.region_id
        refusal.version += 1
        refusal.save()
        _record(refusal, action=RefusalEvent.Action.CORRECT, by=by, at=now, before=before)
    return refusal


def refusal_withdraw(*, refusal_id: int, by: User, expected_version: int | None) -> Refusal:
    now = timezone.now()
    with transaction.atomic(durable=True):
        refusal = _lock_own(refusal_id, by, expected_version)
        before = refusal_state(refusal)
        refusal.withdrawn_at = now
        refusal.version += 1
        refusal.save(update_fields=["withdrawn_at", "version"])
        _record(refusal, action=RefusalEvent.Action.WITHDRAW, by=by, at=now, before=before)
    return refusal


def _record(refusal: Refusal, *, action: str, by: User, at: datetime, before: dict[str, object] | None) -> None:
    """Append the change to the history and hand the refusal to aggregation after commit."""
    RefusalEvent.objects.create(
        refusal=refusal,
        action=action,
        by=by,
        at=at,
        version=refusal.version,
        before=before,
        after=refusal_state(refusal),
    )
    _after_commit(refusal.pk)


def _after_commit(refusal_id: int) -> None:
    """Hand the refusal to the aggregation pipeline (refusals/tasks.py) once it is stored."""
    transaction.on_commit(lambda: tasks.enqueue(refusal_id))


def alert_acknowledge(*, alert_id: int, by: User) -> Alert:
    """A coordinator of the alert's region (or a national administrator) has seen it. Once."""
    with transaction.atomic(durable=True):
        alert = Alert.objects.select_for_update().select_related("region").get(pk=alert_id)
        if not can_view_statistics(by, alert.region):
            raise PermissionDenied
        if alert.acknowledged_at is None:
            alert.acknowledged_at = timezone.now()
            alert.acknowledged_by = by
            alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
            region_id = alert.region_id
            # Every open page of the region drops the banner.
            transaction.on_commit(lambda: live.alerts_changed(region_id))
    return alert
