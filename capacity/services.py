"""Every write to capacity goes through one function here.

Each runs in one durable transaction, locks the unit row, checks the version the
caller saw (optimistic concurrency), appends to the history and schedules the
live push for after commit, so nothing is pushed for work that was rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from capacity import live
from capacity.models import ApiToken, BoardToken, CapacityEvent, Unit
from core import revocation
from core.exceptions import StaleVersion
from hospitals import audit
from hospitals.models import AccessLog, Region, User
from hospitals.permissions import can_edit_unit


class VersionConflict(StaleVersion[Unit]):
    """The caller edited a unit on a version that is no longer current; ``current`` is the unit now."""

    def __init__(self, current: Unit) -> None:
        super().__init__(current, f"unit {current.pk} is at version {current.version}")


@dataclass(frozen=True)
class UnitWrite:
    """What a write did: ``updated`` (a new version) or, with the same figures, only confirmed them."""

    unit: Unit
    updated: bool


@dataclass(frozen=True)
class CapacityChange:
    staffed_total: int
    available: int
    status: str
    stop_reason: str = ""
    stop_expected_end: datetime | None = None
    note: str = ""


# One set of limits for every way in (staff form, API, admin): docs/security.md, "Limits".
MAX_BEDS = 999  # per unit; no Dutch unit comes near it, so more is a typo
MAX_STOP_AHEAD = timedelta(days=366)  # a stop's expected end: stops last hours or days


def validate_change(change: CapacityChange, *, now: datetime | None = None) -> None:
    """Raise a ValidationError with messages tied to fields; nothing is written before this passes."""
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    if change.staffed_total < 0:
        errors.setdefault("staffed_total", []).append(_("The number of staffed beds cannot be negative."))
    elif change.staffed_total > MAX_BEDS:
        errors.setdefault("staffed_total", []).append(
            _("A unit can have at most %(max)s staffed beds.") % {"max": MAX_BEDS}
        )
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
        if change.stop_expected_end is not None and change.stop_expected_end <= now:
            errors.setdefault("stop_expected_end", []).append(_("The expected end must lie in the future."))
        elif change.stop_expected_end is not None and change.stop_expected_end > now + MAX_STOP_AHEAD:
            errors.setdefault("stop_expected_end", []).append(
                _("The expected end can be at most %(days)s days ahead.") % {"days": MAX_STOP_AHEAD.days}
            )
    if len(change.note) > 200:
        errors.setdefault("note", []).append(_("The note can be at most 200 characters."))
    if errors:
        raise ValidationError(errors)


def _stale(unit: Unit, expected_version: int | None, change: CapacityChange | None, retry_confirms: bool) -> bool:
    """The caller saw another version of the unit than the one stored, so nothing may be written.

    Except, where the caller asks for it (``retry_confirms``: a hospital system's retry after a
    lost answer), a stale version whose figures the unit already holds: that request did get
    through, and this one confirms it. On the staff page a stale form always means someone
    else changed the unit, and she must see it.
    """
    if expected_version is None or unit.version == expected_version:
        return False
    return not (retry_confirms and change is not None and _holds(unit, change))


def _lock(
    unit_id: int, expected_version: int | None, change: CapacityChange | None = None, *, retry_confirms: bool = False
) -> Unit:
    unit = Unit.objects.select_for_update().select_related("location").get(pk=unit_id)
    if _stale(unit, expected_version, change, retry_confirms):
        raise VersionConflict(unit)
    return unit


def _holds(unit: Unit, change: CapacityChange) -> bool:
    """The unit already holds exactly these figures (a change without stop details, see below)."""
    return (
        unit.staffed_total == change.staffed_total
        and unit.available == change.available
        and unit.status == change.status
        and unit.stop_reason == change.stop_reason
        and unit.stop_expected_end == change.stop_expected_end
        and unit.note == change.note
    )


def _record(
    unit: Unit,
    *,
    action: str,
    source: str,
    by: User | None,
    before: dict[str, object],
    at: datetime,
    api_token: ApiToken | None = None,
    push: bool = True,
) -> None:
    CapacityEvent.objects.create(
        unit=unit,
        action=action,
        source=source,
        by=by,
        at=at,
        version=unit.version,
        before=before,
        after=unit.snapshot(),
        api_token=api_token,
    )
    if push:
        location_id = unit.location_id
        transaction.on_commit(lambda: live.publish_location(location_id))


def _without_stop_details(change: CapacityChange) -> CapacityChange:
    """A stop's reason and end only mean something during a stop."""
    if change.status == Unit.Status.STOP:
        return change
    return CapacityChange(
        staffed_total=change.staffed_total, available=change.available, status=change.status, note=change.note
    )


def unit_update_capacity(
    *,
    unit_id: int,
    by: User | None,
    change: CapacityChange,
    expected_version: int | None,
    source: str = CapacityEvent.Source.WEB,
    api_token: ApiToken | None = None,
    retry_confirms: bool = False,
) -> UnitWrite:
    """Set a unit's figures and status. Sending the same figures again only confirms them.

    ``by`` is the account that made the change; None only for source=system (demo data, imports).
    ``api_token`` is the token an API call came with (``by`` is then the account that issued it).
    ``retry_confirms``: a stale version whose figures the unit already holds confirms them
    instead of raising ``VersionConflict`` (a retried request, ``_stale``).
    """
    validate_change(change)
    change = _without_stop_details(change)
    with transaction.atomic(durable=True):
        unit = _lock(unit_id, expected_version, change, retry_confirms=retry_confirms)
        return _apply(unit, change, by=by, source=source, api_token=api_token, now=timezone.now())


def _apply(
    unit: Unit,
    change: CapacityChange,
    *,
    by: User | None,
    source: str,
    api_token: ApiToken | None,
    now: datetime,
    push: bool = True,
) -> UnitWrite:
    """Write a validated change to a locked unit and record it (inside the caller's transaction)."""
    before = unit.snapshot()
    if _holds(unit, change):
        confirmed = _confirm(unit, by=by, source=source, before=before, now=now, api_token=api_token, push=push)
        return UnitWrite(confirmed, updated=False)
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
    _record(
        unit,
        action=CapacityEvent.Action.UPDATE,
        source=source,
        by=by,
        before=before,
        at=now,
        api_token=api_token,
        push=push,
    )
    return UnitWrite(unit, updated=True)


def _confirm(
    unit: Unit,
    *,
    by: User | None,
    source: str,
    before: dict[str, object],
    now: datetime,
    api_token: ApiToken | None = None,
    push: bool = True,
) -> Unit:
    unit.confirmed_at = now
    unit.confirmed_by = by
    unit.stale_flagged_at = unit.reminder_sent_at = None
    unit.save(update_fields=["confirmed_at", "confirmed_by", "stale_flagged_at", "reminder_sent_at"])
    _record(
        unit,
        action=CapacityEvent.Action.CONFIRM,
        source=source,
        by=by,
        before=before,
        at=now,
        api_token=api_token,
        push=push,
    )
    return unit


def unit_confirm_unchanged(
    *,
    unit_id: int,
    by: User,
    expected_version: int | None,
    source: str = CapacityEvent.Source.WEB,
    api_token: ApiToken | None = None,
) -> Unit:
    """Record that the figures were checked and still hold (counts for staleness)."""
    with transaction.atomic(durable=True):
        unit = _lock(unit_id, expected_version)
        return _confirm(unit, by=by, source=source, before=unit.snapshot(), now=timezone.now(), api_token=api_token)


class UnitsVersionConflict(StaleVersion[list[Unit]]):
    """Some of several units were changed meanwhile; nothing was written.

    ``current`` is every unit asked for, as it is now; ``stale`` those whose version was stale.
    """

    def __init__(self, stale: list[Unit], current: list[Unit]) -> None:
        super().__init__(current, ", ".join(str(u.pk) for u in stale))
        self.stale = stale


def units_confirm_unchanged(
    *, by: User, versions: dict[int, int], source: str = CapacityEvent.Source.WEB
) -> list[Unit]:
    """Confirm several units' figures at once (the staff page's "confirm all"): all of them or none.

    ``versions`` maps each unit's id to the version the caller saw. Each unit is confirmed and
    recorded as ``unit_confirm_unchanged`` does; each location's row is pushed once, after commit.
    Raises ``Unit.DoesNotExist`` for an unknown id, ``PermissionDenied`` when ``by`` may not
    change one of them, and ``UnitsVersionConflict`` when a version is stale.
    """
    with transaction.atomic(durable=True):
        # Lock in a fixed order (by id), as location_update_capacity does, so calls cannot deadlock.
        units = list(Unit.objects.select_for_update().select_related("location").filter(pk__in=versions).order_by("pk"))
        if len(units) != len(versions):
            raise Unit.DoesNotExist(f"no unit {sorted(set(versions) - {u.pk for u in units})}")
        if not all(can_edit_unit(by, unit) for unit in units):
            raise PermissionDenied
        stale = [unit for unit in units if _stale(unit, versions[unit.pk], None, retry_confirms=False)]
        if stale:
            raise UnitsVersionConflict(stale, units)
        now = timezone.now()
        confirmed = [
            _confirm(unit, by=by, source=source, before=unit.snapshot(), now=now, push=False) for unit in units
        ]
        for location_id in sorted({unit.location_id for unit in units}):
            transaction.on_commit(partial(live.publish_location, location_id))
    return confirmed


class LocationChangeInvalid(Exception):
    """One or more of a location's changes failed validation; nothing was written."""

    def __init__(self, errors: dict[str, ValidationError]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors  # unit kind -> the unit's field errors


class UnknownUnitKinds(Exception):
    """The location has no unit of these kinds; nothing was written."""

    def __init__(self, kinds: list[str]) -> None:
        super().__init__(", ".join(kinds))
        self.kinds = kinds


class LocationVersionConflict(StaleVersion[list[Unit]]):
    """One or more units were edited on a stale version; nothing was written.

    ``current`` is every unit of the location now; ``stale`` those whose version was stale.
    """

    def __init__(self, stale: list[Unit], current: list[Unit]) -> None:
        super().__init__(current, ", ".join(u.kind for u in stale))
        self.stale = stale


def location_update_capacity(
    *,
    location_id: int,
    by: User | None,
    changes: dict[str, tuple[CapacityChange, int | None]],
    source: str = CapacityEvent.Source.WEB,
    api_token: ApiToken | None = None,
    retry_confirms: bool = False,
) -> list[UnitWrite]:
    """Set several units of one location at once: all of them or none.

    ``changes`` maps a unit kind to its new figures and the version the caller saw.
    Each unit goes through the same validation, history, confirm-if-unchanged and
    ``retry_confirms`` rules as ``unit_update_capacity``; the location's row is pushed once,
    after commit. Raises ``UnknownUnitKinds`` when the location lacks a kind, and
    ``LocationVersionConflict`` when a unit's version is stale (and not a retry).
    """
    errors: dict[str, ValidationError] = {}
    for kind, (change, _version) in changes.items():
        try:
            validate_change(change)
        except ValidationError as exc:
            errors[kind] = exc
    if errors:
        raise LocationChangeInvalid(errors)
    cleaned = {kind: (_without_stop_details(change), version) for kind, (change, version) in changes.items()}
    with transaction.atomic(durable=True):
        # Lock in a fixed order (by id) so two calls for the same location cannot deadlock.
        units = list(
            Unit.objects.select_for_update().select_related("location").filter(location_id=location_id).order_by("pk")
        )
        by_kind = {u.kind: u for u in units}
        missing = sorted(set(cleaned) - set(by_kind))
        if missing:
            raise UnknownUnitKinds(missing)
        stale = [
            by_kind[kind]
            for kind, (change, version) in cleaned.items()
            if _stale(by_kind[kind], version, change, retry_confirms)
        ]
        if stale:
            raise LocationVersionConflict(stale, units)
        now = timezone.now()
        written = {
            unit.kind: _apply(
                unit, cleaned[unit.kind][0], by=by, source=source, api_token=api_token, now=now, push=False
            )
            for unit in units  # in the lock order
            if unit.kind in cleaned
        }
        transaction.on_commit(lambda: live.publish_location(location_id))
    return [written[kind] for kind in changes]


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
        region = Region.objects.get(pk=region_id)
        token, raw = BoardToken.issue(label=label, region=region, created_by=by)
        audit.record(
            action=AccessLog.Action.TOKEN_CREATED,
            what="wall-screen link",
            user=by,
            object_id=token.pk,
            scope=audit.scope_of(region=region.code, label=label),
        )
        return token, raw


def board_token_revoke(*, token_id: int, by: User) -> bool:
    """Revoke a wall-screen link at once; records who revoked it and when. Returns whether it was still active."""
    with transaction.atomic():
        revoked = bool(
            BoardToken.objects.filter(pk=token_id, revoked_at__isnull=True).update(
                revoked_at=timezone.now(), revoked_by=by
            )
        )
        if revoked:
            audit.record(action=AccessLog.Action.TOKEN_REVOKED, what="wall-screen link", user=by, object_id=token_id)
            # Open wall screens on this link close at once, in every process (core/revocation.py).
            revocation.revoke_on_commit([revocation.board_token_principal(token_id)], code=revocation.CLOSE_FORBIDDEN)
    return revoked
