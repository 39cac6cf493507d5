"""Every write to the kraamzorg intake grid (docs/kraamzorg.md, "Rules").

One function per action, each in one durable transaction with the week's row locked and its
version checked, a history row per week written, and ``signals.intake_changed`` sent on commit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import StaleVersion
from core.time import ZONE
from hospitals.models import User
from hospitals.permissions import IntakeToken, can_plan_intake, can_plan_intake_by_token
from kraamzorg.models import INDICATED_HOURS, MAX_FAMILIES, WEEKS_AHEAD, IntakeEvent, IntakeWeek, monday_of
from kraamzorg.signals import intake_changed

Source = IntakeEvent.Source


@dataclass(frozen=True)
class IntakeChange:
    """The figures of one week, as a planner or a planning system states them."""

    families: int
    hours: str
    status: str
    minimum_hours: int | None = None
    reason: str = ""


class IntakeVersionConflict(StaleVersion[list[IntakeWeek]]):
    """The grid changed since the planner's version: nothing was written; ``current`` is what is stored."""


def weeks_ahead(now: datetime | None = None) -> list[date]:
    """The Mondays of the weeks a planner keeps: this (Dutch) week and the next eleven."""
    today = (now or timezone.now()).astimezone(ZONE).date()
    first = monday_of(today)
    return [date.fromordinal(first.toordinal() + 7 * n) for n in range(WEEKS_AHEAD)]


def validate_intake(change: IntakeChange) -> None:
    """Raise a ValidationError with messages tied to fields; nothing is written before this passes."""
    errors: dict[str, list[str]] = {}
    if not isinstance(change.families, int) or change.families < 0:
        errors.setdefault("families", []).append(_("The number of families cannot be negative."))
    elif change.families > MAX_FAMILIES:
        errors.setdefault("families", []).append(_("At most %(max)s new families a week.") % {"max": MAX_FAMILIES})
    if change.hours not in IntakeWeek.Hours.values:
        errors.setdefault("hours", []).append(_("Choose the full indicated hours or a stated minimum."))
    elif change.hours == IntakeWeek.Hours.MINIMUM and not (
        change.minimum_hours is not None and 1 <= change.minimum_hours < INDICATED_HOURS
    ):
        errors.setdefault("minimum_hours", []).append(
            _("State the minimum hours you can deliver: 1 to %(max)s.") % {"max": INDICATED_HOURS - 1}
        )
    if change.status not in IntakeWeek.Status.values:
        errors.setdefault("status", []).append(_("Choose open, limited or intake stop."))
    elif change.status != IntakeWeek.Status.OPEN and change.reason not in IntakeWeek.StopReason.values:
        errors.setdefault("reason", []).append(_("A limited intake or an intake stop needs a reason."))
    if change.status == IntakeWeek.Status.STOP and change.families not in (0, None) and "families" not in errors:
        errors.setdefault("families", []).append(_("An intake stop takes in no new families: set the number to 0."))
    if errors:
        raise ValidationError(errors)


def _may_write(by: User, organisation_id: int, api_token: IntakeToken | None) -> bool:
    """A planner of the organisation, or its planning system's token (``by`` is then its issuer)."""
    if api_token is not None:
        return can_plan_intake_by_token(api_token, organisation_id)
    return can_plan_intake(by, organisation_id)


def _confirm_rows(
    rows: list[IntakeWeek],
    *,
    by: User,
    source: str,
    api_token: IntakeToken | None,
    now: datetime,
    week_ids: list[date],
    organisation_id: int,
) -> list[IntakeWeek]:
    """ "Still true" for locked rows, inside the caller's transaction: a version, a history row each."""
    for row in rows:
        row.version += 1
        row.confirmed_at = now
        row.save(update_fields=["version", "confirmed_at"])
    IntakeEvent.objects.bulk_create(
        IntakeEvent(week=row, action=IntakeEvent.Action.CONFIRM, source=source, by=by, at=now,
                    version=row.version, before=row.as_dict(), after=row.as_dict(),
                    api_token_id=_token_id(api_token))
        for row in rows
    )  # fmt: skip
    transaction.on_commit(lambda: intake_changed.send(IntakeWeek, organisation_id=organisation_id, weeks=week_ids))
    return rows


def _token_id(api_token: IntakeToken | None) -> int | None:
    return int(api_token.pk) if api_token is not None else None


def _check_week(week: date, now: datetime) -> None:
    if week not in weeks_ahead(now):
        raise ValidationError(
            {"week": [_("Choose one of the coming %(n)s weeks (from this week's Monday).") % {"n": WEEKS_AHEAD}]}
        )


def _normalised(change: IntakeChange) -> IntakeChange:
    """What is stored: no minimum with the full hours, no reason with an open intake."""
    return IntakeChange(
        families=change.families,
        hours=change.hours,
        status=change.status,
        minimum_hours=change.minimum_hours if change.hours == IntakeWeek.Hours.MINIMUM else None,
        reason=change.reason if change.status != IntakeWeek.Status.OPEN else "",
    )


def intake_week_set(
    *,
    by: User,
    organisation_id: int,
    week: date,
    change: IntakeChange,
    expected_version: int,
    source: str = Source.WEB,
    api_token: IntakeToken | None = None,
    retry_confirms: bool = False,
    now: datetime | None = None,
) -> IntakeWeek:
    """Set one week's figures. ``expected_version`` is the version the planner saw (0: never filled).

    ``api_token`` is the token an API call came with (``by`` is then the account that issued it).
    ``retry_confirms`` (a planning system's retry after a lost answer): a stale version whose
    figures the week already holds confirms them instead of raising the conflict, as units do; on
    the planner's page a stale form always means someone else changed the week, and she must see it.
    Raises PermissionDenied (not a planner of this organisation), ValidationError (bad figures or a
    week outside the grid) or IntakeVersionConflict (the week changed meanwhile).
    """
    now = now or timezone.now()
    if not _may_write(by, organisation_id, api_token):
        raise PermissionDenied
    _check_week(week, now)
    validate_intake(change)
    change = _normalised(change)
    with transaction.atomic(durable=True):
        row = IntakeWeek.objects.select_for_update().filter(organisation_id=organisation_id, week=week).first()
        if (row.version if row else 0) != expected_version:
            if retry_confirms and row is not None and row.as_dict() == asdict(change):
                return _confirm_rows([row], by=by, source=source, api_token=api_token, now=now, week_ids=[week],
                                     organisation_id=organisation_id)[0]  # fmt: skip
            raise IntakeVersionConflict([row] if row else [])
        before = row.as_dict() if row else None
        if row is None:
            row = IntakeWeek(organisation_id=organisation_id, week=week, version=0)
        row.families, row.hours, row.minimum_hours = change.families, change.hours, change.minimum_hours
        row.status, row.reason = change.status, change.reason
        row.version += 1
        row.updated_at = row.confirmed_at = now
        row.updated_by = by
        try:
            with transaction.atomic():  # a savepoint: two planners filling a new week at once
                row.save()
        except IntegrityError:
            current = IntakeWeek.objects.filter(organisation_id=organisation_id, week=week).first()
            raise IntakeVersionConflict([current] if current else []) from None
        IntakeEvent.objects.create(
            week=row, action=IntakeEvent.Action.UPDATE, source=source, by=by, at=now,
            version=row.version, before=before, after=row.as_dict(), api_token_id=_token_id(api_token),
        )  # fmt: skip
        transaction.on_commit(lambda: intake_changed.send(IntakeWeek, organisation_id=organisation_id, weeks=[week]))
    return row


def intake_confirm_unchanged(
    *,
    by: User,
    organisation_id: int,
    versions: dict[date, int],
    source: str = Source.WEB,
    api_token: IntakeToken | None = None,
    now: datetime | None = None,
) -> list[IntakeWeek]:
    """The planner's one tap: "the figures of these weeks still hold". All or nothing.

    ``versions`` maps each week's Monday to the version the planner saw. A week never filled in
    cannot be confirmed (ValidationError); any week changed meanwhile makes it an
    IntakeVersionConflict with the current rows, and nothing is confirmed.
    """
    now = now or timezone.now()
    if not _may_write(by, organisation_id, api_token):
        raise PermissionDenied
    if not versions:
        raise ValidationError({"week": [_("There is nothing to confirm: fill in the weeks first.")]})
    for week in versions:
        _check_week(week, now)
    with transaction.atomic(durable=True):
        rows = list(
            IntakeWeek.objects.select_for_update()
            .filter(organisation_id=organisation_id, week__in=list(versions))
            .order_by("week")
        )
        found = {row.week for row in rows}
        missing = sorted(set(versions) - found)
        if missing:
            if any(versions[week] != 0 for week in missing):  # it was there, so someone removed it: stale
                raise IntakeVersionConflict(rows)
            raise ValidationError(
                {"week": [_("Fill in week %(week)s first: it has no figures to confirm.") % {
                    "week": f"{missing[0]:%G-W%V}"}]}
            )  # fmt: skip
        if any(row.version != versions[row.week] for row in rows):
            raise IntakeVersionConflict(rows)
        _confirm_rows(rows, by=by, source=source, api_token=api_token, now=now,
                      week_ids=[row.week for row in rows], organisation_id=organisation_id)  # fmt: skip
    return rows
