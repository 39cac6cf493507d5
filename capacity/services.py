"""Every write to capacity goes through one function here.

Each runs in one durable transaction, locks the unit row, checks the version the
caller saw (optimistic concurrency), appends to the history and schedules the
live push for after commit, so nothing is pushed for work that was rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from capacity import live
from capacity.models import BoardToken, CapacityEvent, Unit
from hospitals.models import Region, User


class VersionConflict(Exception):
    """The caller edited a version that is no longer current."""

    def __init__(self, current: Unit) -> None:
        super().__init__(f"unit {current.pk} is at version {current.version}")
        self.current = current


@dataclass(frozen=True)
class CapacityChange:
    staffed_total: int
    available: int
    status: str
    stop_reason: str = ""
    stop_expected_end: datetime | None = None
    note: str = ""


def validate_change(change: CapacityChange, *, now: datetime | None = None) -> None:
    """Raise a ValidationError with messages tied to fields; nothing is written before this passes."""
    errors: dict[str, list[str]] = {}
    if change.staffed_total < 0:
        errors.setdefault("staffed_total", []).append(_("The number of staffed beds cannot be negative."))
    if change.available < 0:
        errors.setdefault("available", []).append(_("The number of free beds cannot be negative."))
    elif change.available > change.staffed_total:
        errors.setdefault("available", []).append(
            _("Free beds (%(available)s) cannot exceed staffed beds (%(total)s).")
            % {"available": change.available, "total": change.staffed_total}
        )
    if change.status not in Unit.Status.values:
        errors.setdefault("status", []).append(_("Choose open, limited or admission stop."))
    if change.status == Unit.Status.STOP:
        if change.stop_reason not in Unit.StopReason.values:
            errors.setdefault("stop_reason", []).append(_("An admission stop needs a reason."))
        if change.stop_expected_end is not None and change.stop_expected_end <= (now or timezone.now()):
            errors.setdefault("stop_expected_end", []).append(_("The expected end must lie in the future."))
    if len(change.note) > 200:
        errors.setdefault("note", []).append(_("The note can be at most 200 characters."))
    if errors:
        raise ValidationError(errors)


def _lock(unit_id: int, expected_version: int | None) -> Unit:
    unit = Unit.objects.select_for_update().select_related("location").get(pk=unit_id)
    if expected_version is not None and unit.version != expected_version:
        raise VersionConflict(unit)
    return unit


def _record(unit: Unit, *, action: str, source: str, by: User | None, before: dict[str, object], at: datetime) -> None:
    CapacityEvent.objects.create(
        unit=unit,
        action=action,
        source=source,
        by=by,
        at=at,
        version=unit.version,
        before=before,
        after=unit.snapshot(),
    )
    location_id = unit.location_id
    transaction.on_commit(lambda: live.publish_location(location_id))


def unit_update_capacity(
    *,
    unit_id: int,
    by: User | None,
    change: CapacityChange,
    expected_version: int | None,
    source: str = CapacityEvent.Source.WEB,
) -> Unit:
    """Set a unit's figures and status. Sending the same figures again only confirms them.

    ``by`` is the account that made the change; None only for source=system (demo data, imports).
    """
    validate_change(change)
    # A stop's reason and end only mean something during a stop.
    if change.status != Unit.Status.STOP:
        change = CapacityChange(
            staffed_total=change.staffed_total,
            available=change.available,
            status=change.status,
            note=change.note,
        )
    with transaction.atomic(durable=True):
        unit = _lock(unit_id, expected_version)
        before = unit.snapshot()
        now = timezone.now()
        unchanged = (
            unit.staffed_total == change.staffed_total
            and unit.available == change.available
            and unit.status == change.status
            and unit.stop_reason == change.stop_reason
            and unit.stop_expected_end == change.stop_expected_end
            and unit.note == change.note
        )
        if unchanged:
            return _confirm(unit, by=by, source=source, before=before, now=now)
        stop_changed = unit.status != change.status or unit.stop_expected_end != change.stop_expected_end
        unit.staffed_total = change.staffed_total
        unit.available = change.available
        unit.status = change.status
        unit.stop_reason = change.stop_reason
        unit.stop_expected_end = change.stop_expected_end
        unit.note = change.note
        unit.version += 1
        unit.updated_at = unit.confirmed_at = now
        unit.updated_by = unit.confirmed_by = by
        unit.stale_flagged_at = unit.reminder_sent_at = None
        if stop_changed:
            unit.stop_overdue_flagged_at = None
        unit.save()
        _record(unit, action=CapacityEvent.Action.UPDATE, source=source, by=by, before=before, at=now)
    return unit


def _confirm(unit: Unit, *, by: User | None, source: str, before: dict[str, object], now: datetime) -> Unit:
    unit.confirmed_at = now
    unit.confirmed_by = by
    unit.stale_flagged_at = unit.reminder_sent_at = None
    unit.save(update_fields=["confirmed_at", "confirmed_by", "stale_flagged_at", "reminder_sent_at"])
    _record(unit, action=CapacityEvent.Action.CONFIRM, source=source, by=by, before=before, at=now)
    return unit


def unit_confirm_unchanged(
    *, unit_id: int, by: User, expected_version: int | None, source: str = CapacityEvent.Source.WEB
) -> Unit:
    """Record that the figures were checked and still hold (counts for staleness)."""
    with transaction.atomic(durable=True):
        unit = _lock(unit_id, expected_version)
        return _confirm(unit, by=by, source=source, before=unit.snapshot(), now=timezone.now())


def unit_flag(*, unit_id: int, action: str, now: datetime) -> bool:
    """Mark a unit stale or its stop overdue, once; returns whether this call flagged it.

    Compare-and-set on the flag column, so two beat runs racing flag and push once.
    """
    # The claim re-checks the condition itself: a confirmation or a new stop end that
    # landed after the beat's query must win over the flag.
    if action == CapacityEvent.Action.STALE:
        field = "stale_flagged_at"
        still = Q(confirmed_at__lte=now - settings.CAPACITY_STALE_AFTER)
    else:
        field = "stop_overdue_flagged_at"
        still = Q(status=Unit.Status.STOP, stop_expected_end__lte=now)
    with transaction.atomic(durable=True):
        claimed = Unit.objects.filter(still, pk=unit_id, **{f"{field}__isnull": True}).update(**{field: now})
        if not claimed:
            return False
        unit = Unit.objects.select_related("location").get(pk=unit_id)
        snap = unit.snapshot()
        _record(unit, action=action, source=CapacityEvent.Source.SYSTEM, by=None, before=snap, at=now)
    return True


def board_token_issue(*, label: str, region_id: int, by: User) -> tuple[BoardToken, str]:
    """A new wall-screen link; the raw token is returned once and only its hash is kept."""
    with transaction.atomic(durable=True):
        return BoardToken.issue(label=label, region=Region.objects.get(pk=region_id), created_by=by)


def board_token_revoke(*, token_id: int, by: User) -> bool:
    return bool(BoardToken.objects.filter(pk=token_id, revoked_at__isnull=True).update(revoked_at=timezone.now()))
