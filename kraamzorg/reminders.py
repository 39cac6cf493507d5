"""Reminders for stale intake weeks: e-mail an organisation's planners when its grid needs attention.

The beat runs this (``kraamzorg.tasks.remind_stale_intake``). A kraamzorg organisation any of whose
twelve weeks is stale (never filled in, or not confirmed for more than seven days:
``selectors.is_stale``) gets one e-mail to its active planners, at most once per
``KRAAMZORG_REMINDER_INTERVAL`` (default 24 hours). Each reminder is an ``IntakeReminder`` row
(append-only); the organisation's latest row is the claim (docs/kraamzorg.md, "Reminders").
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from hospitals.models import Organisation, User
from kraamzorg.models import WEEKS_AHEAD, IntakeReminder
from kraamzorg.selectors import GridWeek, grid

logger = logging.getLogger(__name__)

# Every planner is in Bcc, as the coordinators' alerts are: nobody sees who else was written to.
UNDISCLOSED_RECIPIENTS = "undisclosed-recipients:;"


def run(now: datetime | None = None) -> dict[str, int]:
    """Remind every kraamzorg organisation that is due; how many were reminded, and how many people."""
    now = now or timezone.now()
    recently = IntakeReminder.objects.filter(sent_at__gt=now - settings.KRAAMZORG_REMINDER_INTERVAL)
    candidates = (
        Organisation.objects.filter(
            kind=Organisation.Kind.KRAAMZORG, members__role=User.Role.KRAAMZORG_PLANNER, members__is_active=True
        )
        .exclude(pk__in=recently.values("organisation_id"))
        .values_list("pk", flat=True)
        .distinct()
        .order_by("pk")
    )
    reminded = people = 0
    for organisation_id in list(candidates):
        try:
            sent = remind(organisation_id, now=now)
        except Exception:  # the mail server refused: nothing was claimed, the next run tries again
            logger.exception("intake reminder for organisation %s not sent", organisation_id)
            continue
        if sent is not None:
            reminded += 1
            people += sent.recipients
    return {"organisations": reminded, "recipients": people}


def planners(organisation_id: int) -> list[str]:
    """The addresses of the organisation's active planners."""
    return list(
        User.objects.filter(organisation_id=organisation_id, role=User.Role.KRAAMZORG_PLANNER, is_active=True)
        .exclude(email="")
        .order_by("email")
        .values_list("email", flat=True)
        .distinct()
    )


def remind(organisation_id: int, *, now: datetime) -> IntakeReminder | None:
    """Send the organisation's reminder if it is due: a stale week, nobody reminded within the interval.

    The organisation's row is locked (FOR NO KEY UPDATE: planners keep writing their weeks meanwhile),
    so a second run waits here and then sees the first one's claim. The e-mail is sent inside the
    transaction: if it cannot be sent, the claim rolls back and the next run tries again.
    """
    with transaction.atomic(durable=True):
        organisation = Organisation.objects.select_for_update(no_key=True).get(pk=organisation_id)
        last = IntakeReminder.objects.filter(organisation_id=organisation_id).order_by("-sent_at", "-id").first()
        if last is not None and now - last.sent_at < settings.KRAAMZORG_REMINDER_INTERVAL:
            return None
        stale = [week for week in grid(organisation_id, now) if week.stale]
        recipients = planners(organisation_id)
        if not stale or not recipients:
            return None
        reminder = IntakeReminder.objects.create(
            organisation=organisation,
            sent_at=now,
            weeks=[week.week.isoformat() for week in stale],
            recipients=len(recipients),
        )
        subject, body = message(organisation, stale)
        EmailMessage(
            subject, body, settings.DEFAULT_FROM_EMAIL, bcc=recipients, headers={"To": UNDISCLOSED_RECIPIENTS}
        ).send()
    logger.info("intake reminder sent", extra={"organisation": organisation_id, "weeks": len(stale)})
    return reminder


def message(organisation: Organisation, stale: list[GridWeek]) -> tuple[str, str]:
    """The reminder's subject and body, in the platform's language, with the link to the planner's page."""
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Please update the intake weeks of %(organisation)s") % {"organisation": organisation.name}
        lines = [
            _("Week %(number)s (from %(monday)s): %(state)s")
            % {
                "number": f"{week.week:%V}",
                "monday": date_format(week.week, "j F"),
                "state": _("not filled in yet") if week.row is None else _("not confirmed for more than 7 days"),
            }
            for week in stale
        ]
        intro = ngettext(
            "%(count)s of the coming %(n)s weeks of %(organisation)s needs your attention:",
            "%(count)s of the coming %(n)s weeks of %(organisation)s need your attention:",
            len(stale),
        ) % {"count": len(stale), "n": WEEKS_AHEAD, "organisation": organisation.name}
        outro = _("Fill them in or confirm them unchanged, so that midwives see figures they can trust: %(link)s") % {
            "link": settings.PUBLIC_BASE_URL + reverse("kraamzorg:plan")
        }
        body = "\n".join([intro, "", *(f"- {line}" for line in lines), "", outro])
    return subject, body
