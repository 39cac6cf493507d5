"""Staleness: figures not confirmed within CAPACITY_STALE_AFTER are out of date.

The board derives "out of date" from ``confirmed_at`` at render time; this module
is what the beat task runs to make the change visible on open boards (a push),
to record it in the history, and to remind a location's staff shortly before.
Every step is claimed with compare-and-set, so overlapping runs do it once.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from capacity.models import CapacityEvent, Unit
from capacity.services import unit_flag
from hospitals.models import Location, User


def run() -> dict[str, int]:
    now = timezone.now()
    stale_ids = list(
        Unit.objects.filter(
            confirmed_at__lte=now - settings.CAPACITY_STALE_AFTER, stale_flagged_at__isnull=True
        ).values_list("id", flat=True)
    )
    overdue_ids = list(
        Unit.objects.filter(
            status=Unit.Status.STOP, stop_expected_end__lte=now, stop_overdue_flagged_at__isnull=True
        ).values_list("id", flat=True)
    )
    stale = sum(unit_flag(unit_id=i, action=CapacityEvent.Action.STALE, now=now) for i in stale_ids)
    overdue = sum(unit_flag(unit_id=i, action=CapacityEvent.Action.STOP_OVERDUE, now=now) for i in overdue_ids)
    reminded = send_reminders(now=now)
    return {"stale": stale, "stop_overdue": overdue, "reminders": reminded}


def send_reminders(*, now: datetime) -> int:
    """E-mail each location's staff once when its units are about to go out of date."""
    due = now - (settings.CAPACITY_STALE_AFTER - settings.CAPACITY_REMIND_BEFORE)
    candidates = Unit.objects.filter(
        confirmed_at__lte=due, reminder_sent_at__isnull=True, stale_flagged_at__isnull=True
    ).values_list("id", "location_id")
    by_location: dict[int, list[int]] = defaultdict(list)
    for unit_id, location_id in candidates:
        # Claim first: a second run (or a second beat by mistake) sends nothing. The claim
        # re-checks that the unit is still due: a confirmation committed after the query wins.
        claimed = Unit.objects.filter(
            pk=unit_id, confirmed_at__lte=due, reminder_sent_at__isnull=True, stale_flagged_at__isnull=True
        ).update(reminder_sent_at=now)
        if claimed:
            by_location[location_id].append(unit_id)
    for location_id, unit_ids in by_location.items():
        transaction.on_commit(functools.partial(_mail_staff, location_id, unit_ids))
    return sum(len(ids) for ids in by_location.values())


def _mail_staff(location_id: int, unit_ids: list[int]) -> None:
    location = Location.objects.get(pk=location_id)
    units = Unit.objects.filter(pk__in=unit_ids)
    recipients = list(
        User.objects.filter(locations=location, role=User.Role.HOSPITAL_STAFF, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        return
    with translation.override(settings.LANGUAGE_CODE):
        names = ", ".join(str(unit.get_kind_display()) for unit in units)
        subject = _("Please confirm the capacity of %(location)s") % {"location": location.name}
        body = _(
            "The figures of %(units)s at %(location)s will soon be shown as out of date on every board. "
            "Update them or confirm them unchanged: %(path)s"
        ) % {"units": names, "location": location.name, "path": reverse("capacity:my_units")}
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=True)
