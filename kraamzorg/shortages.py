"""Every write to kraamzorg shortage registrations: register and withdraw (docs/kraamzorg.md).

A shortage is a family that could not get kraamzorg, or got fewer hours than indicated. Each
write runs in its own durable transaction, appends to the history and sends
``signals.shortage_changed`` after commit; aggregation listens there (Celery), so a stopped
worker or broker never loses a registration: the sweep counts what was missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import StaleVersion
from core.time import ZONE
from hospitals.models import Organisation, Postcode, User
from hospitals.permissions import can_register_shortage
from kraamzorg.models import MAX_INDICATED_HOURS, Shortage, ShortageEvent, monday_of
from kraamzorg.signals import shortage_changed

# A shortage is registered weeks before the birth (no organisation can take her in) or in the
# days after it (fewer hours than indicated, an early discharge): due weeks in this window.
WEEKS_BACK = 12
WEEKS_FORWARD = 44


class StaleShortage(StaleVersion[Shortage]):
    """The registration changed since the version the user saw; ``current`` is the registration now."""

    def __init__(self, current: Shortage) -> None:
        super().__init__(current, f"shortage {current.pk} is at version {current.version}")


@dataclass(frozen=True)
class ShortageInput:
    pc4: str
    due_week: date
    indicated_hours: int
    promised_hours: int
    reason: str
    vulnerable: str = Shortage.Vulnerable.UNKNOWN
    organisation_id: int | None = None


def due_week_range(now: datetime | None = None) -> tuple[date, date]:
    """The first and last Monday a shortage may name."""
    monday = monday_of((now or timezone.now()).astimezone(ZONE).date())
    return monday - timedelta(weeks=WEEKS_BACK), monday + timedelta(weeks=WEEKS_FORWARD)


def validate_shortage(data: ShortageInput, *, now: datetime | None = None) -> None:
    """Raise a ValidationError with a message per field; nothing is written before this passes."""
    errors: dict[str, list[str]] = {}

    def err(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if not (len(data.pc4) == 4 and data.pc4.isdigit() and data.pc4[0] != "0"):
        err("pc4", _("Enter the 4 digits of a Dutch postcode, e.g. 3584."))
    elif not Postcode.objects.filter(pk=data.pc4).exists():
        err("pc4", _("Postcode %(pc4)s is not a known Dutch postcode area.") % {"pc4": data.pc4})
    first, last = due_week_range(now)
    if not isinstance(data.due_week, date) or not first <= data.due_week <= last:
        err(
            "due_week",
            _("The due week must lie between %(first)s and %(last)s.")
            % {"first": f"{first:%G-W%V}", "last": f"{last:%G-W%V}"},
        )
    indicated_ok = isinstance(data.indicated_hours, int) and 1 <= data.indicated_hours <= MAX_INDICATED_HOURS
    if not indicated_ok:
        err("indicated_hours", _("Indicated hours: 1 to %(max)s.") % {"max": MAX_INDICATED_HOURS})
    if not isinstance(data.promised_hours, int) or data.promised_hours < 0:
        err("promised_hours", _("Hours promised: 0 (no kraamzorg) or more."))
    elif indicated_ok and data.promised_hours >= data.indicated_hours:
        err("promised_hours", _("Hours promised must be fewer than the indicated hours, or it is no shortage."))
    if data.reason not in Shortage.Reason.values:
        err("reason", _("Choose the reason."))
    if data.vulnerable not in Shortage.Vulnerable.values:
        err("vulnerable", _("Choose yes, no or unknown."))
    if (
        data.organisation_id is not None
        and not Organisation.objects.filter(pk=data.organisation_id, kind=Organisation.Kind.KRAAMZORG).exists()
    ):
        err("organisation", _("Choose a kraamzorg organisation, or leave it empty."))
    if errors:
        raise ValidationError(errors)


def shortage_state(shortage: Shortage) -> dict[str, object]:
    """The registration as its history records it (before/after)."""
    return {
        "pc4": shortage.pc4,
        "municipality": shortage.municipality,
        "due_week": shortage.due_week.isoformat(),
        "indicated_hours": shortage.indicated_hours,
        "promised_hours": shortage.promised_hours,
        "reason": shortage.reason,
        "vulnerable": shortage.vulnerable,
        "organisation_id": shortage.organisation_id,
        "withdrawn": shortage.withdrawn_at is not None,
        "version": shortage.version,
    }


def shortage_register(
    *, by: User, data: ShortageInput, source: str = Shortage.Source.WEB, now: datetime | None = None
) -> Shortage:
    """Register a shortage. A midwife or a kraamzorg planner; a planner's own organisation is the
    one concerned unless they name none."""
    if not can_register_shortage(by):
        raise PermissionDenied
    now = now or timezone.now()
    if by.role == User.Role.KRAAMZORG_PLANNER and data.organisation_id not in (None, by.organisation_id):
        raise ValidationError({"organisation": [_("A planner registers shortages of their own organisation.")]})
    validate_shortage(data, now=now)
    with transaction.atomic(durable=True):
        assert by.organisation_id is not None  # can_register_shortage
        registered_for = Organisation.objects.get(pk=by.organisation_id)
        organisation_id = data.organisation_id
        if by.role == User.Role.KRAAMZORG_PLANNER:
            organisation_id = by.organisation_id
        shortage = Shortage.objects.create(
            region_id=registered_for.region_id,
            pc4=data.pc4,
            municipality=Postcode.objects.get(pk=data.pc4).municipality,
            due_week=monday_of(data.due_week),
            indicated_hours=data.indicated_hours,
            promised_hours=data.promised_hours,
            reason=data.reason,
            vulnerable=data.vulnerable,
            organisation_id=organisation_id,
            registered_by=by,
            registered_for=registered_for,
            registered_at=now,
            source=source,
        )
        _record(shortage, action=ShortageEvent.Action.REGISTER, by=by, at=now, before=None)
    return shortage


def can_withdraw(shortage: Shortage, user: User, *, now: datetime | None = None) -> bool:
    """Only the person who registered it, within the correction window (as refusals)."""
    return (
        shortage.registered_by_id == user.pk
        and shortage.withdrawn_at is None
        and (now or timezone.now()) < shortage.registered_at + settings.REFUSAL_EDIT_WINDOW
    )


def shortage_withdraw(*, shortage_id: int, by: User, expected_version: int | None) -> Shortage:
    """Withdraw one's own registration (registered by mistake); it stops counting."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        shortage = Shortage.objects.select_for_update().get(pk=shortage_id)
        if not can_withdraw(shortage, by, now=now):
            raise PermissionDenied
        if expected_version is not None and shortage.version != expected_version:
            raise StaleShortage(shortage)
        before = shortage_state(shortage)
        shortage.withdrawn_at = now
        shortage.version += 1
        shortage.save(update_fields=["withdrawn_at", "version"])
        _record(shortage, action=ShortageEvent.Action.WITHDRAW, by=by, at=now, before=before)
    return shortage


def _record(shortage: Shortage, *, action: str, by: User, at: datetime, before: dict[str, object] | None) -> None:
    ShortageEvent.objects.create(
        shortage=shortage, action=action, by=by, at=at, version=shortage.version, before=before,
        after=shortage_state(shortage),
    )  # fmt: skip
    shortage_id = shortage.pk
    transaction.on_commit(lambda: shortage_changed.send(Shortage, shortage_id=shortage_id))
